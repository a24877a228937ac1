"""Local users, tokens, sessions and the audit trail, on the werk file and on PostgreSQL (each test of the store
runs on both), and the command line that manages them."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.app_databases import Opener
from werk.cli import main
from werk.core.access import Grant, cap, may_write_signal, permits, permits_somewhere
from werk.errors import InputError
from werk.security.audit import AuditLog
from werk.security.limits import FailureLimiter
from werk.security.oidc import PENDING_TTL_S, Pending
from werk.security.secrets import plant_token_hash, plant_token_matches, verify_password
from werk.security.store import SecurityStore, SignInRefused
from werk.store.app_database import AppDatabase
from werk.store.app_postgres import PostgresAppDatabase

LINE1 = "acme/augsburg/machining/line-1"
LINE2 = "acme/augsburg/assembly/line-2"


def _store(db: AppDatabase) -> SecurityStore:
    return SecurityStore(db, AuditLog(db), lockout_after=3, lockout_s=60)


@pytest.fixture
def store(app_db: AppDatabase) -> SecurityStore:
    return _store(app_db)


class Outside:
    """The database as a tool other than werk reaches it: sqlite3 on the werk file, psycopg on the server."""

    def __init__(self, db: AppDatabase, pg_url: str | None) -> None:
        self.dialect = db.dialect
        self._connect = (lambda: psycopg.connect(pg_url)) if pg_url else (lambda: sqlite3.connect(db.where))

    def execute(self, sql: str) -> None:
        conn = self._connect()
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def drop_guard(self) -> None:
        """Take the audit trail's append-only triggers away, as the database's owner can."""
        if self.dialect == "postgresql":
            self.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            self.execute("DROP TRIGGER audit_log_no_update")
            self.execute("DROP TRIGGER audit_log_no_delete")


@pytest.fixture
def outside(app_db: AppDatabase, request: pytest.FixtureRequest) -> Outside:
    return Outside(app_db, request.getfixturevalue("pg_url") if app_db.dialect == "postgresql" else None)


def test_a_grant_holds_on_its_part_of_the_plant_and_nowhere_else() -> None:
    sup1 = (Grant("supervisor", LINE1, (f"{LINE1}/+/+/feed_override",)),)
    assert permits(sup1, "operator", f"{LINE1}/milling/cnc-1")
    assert not permits(sup1, "operator", f"{LINE2}/forming/press-1")
    assert not permits(sup1, "operator", None)  # a route that names no asset needs the whole plant
    assert not permits(sup1, "engineer", f"{LINE1}/milling/cnc-1")
    # a scope is a path prefix of whole segments: line-1 does not cover line-10
    assert not permits(sup1, "viewer", "acme/augsburg/machining/line-10/x")
    assert permits_somewhere(sup1, "viewer")
    assert may_write_signal(sup1, "operator", f"{LINE1}/milling/cnc-1/feed_override")
    assert not may_write_signal(sup1, "operator", f"{LINE1}/milling/cnc-1/temperature")
    # a role without signals writes no machine
    assert not may_write_signal((Grant("admin"),), "operator", f"{LINE1}/milling/cnc-1/feed_override")


def test_a_token_never_holds_more_than_its_user() -> None:
    user = (Grant("engineer", ""), Grant("admin", LINE2))
    capped = cap(user, "operator", LINE1)
    assert {(g.role, g.scope) for g in capped} == {("operator", LINE1)}
    assert not permits(capped, "supervisor", f"{LINE1}/milling/cnc-1")


def test_passwords_are_argon2_and_tokens_salted(store: SecurityStore) -> None:
    store.add_user("ada", password="correct horse")
    stored = store.db.query("SELECT password FROM security_user")[0][0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse") and not verify_password(stored, "wrong")
    a, b = plant_token_hash("same"), plant_token_hash("same")
    assert a != b and plant_token_matches(a, "same") and plant_token_matches(b, "same")
    assert not plant_token_matches(a, "other")


def test_wrong_passwords_lock_a_user_and_the_right_one_then_fails_too(store: SecurityStore) -> None:
    store.add_user("ada", password="pw-ada-1")
    store.grant("ada", "operator", LINE1)
    assert store.sign_in("ada", "pw-ada-1", client="t").grants == (Grant("operator", LINE1),)
    for _ in range(2):
        with pytest.raises(SignInRefused, match="wrong password"):
            store.sign_in("ada", "nope", client="t")
    with pytest.raises(SignInRefused, match="locked after 3") as locked:
        store.sign_in("ada", "nope", client="t")
    assert locked.value.locked_until is not None
    with pytest.raises(SignInRefused, match="locked"):
        store.sign_in("ada", "pw-ada-1", client="t")
    with pytest.raises(SignInRefused, match="unknown user"):
        store.sign_in("nobody", "pw", client="t")


def test_tokens_expire_and_are_revoked_at_run_time(store: SecurityStore) -> None:
    store.add_user("line-plc", password=None, kind="machine")
    store.grant("line-plc", "operator", LINE1)
    token, row = store.create_token("line-plc", label="plc")
    short, _ = store.create_token("line-plc", expires_in_s=0.05)
    who = store.token(token)
    assert who is not None and who.name == "line-plc" and who.token_id == row.id
    assert store.token(token[:-1] + ("x" if token[-1] != "x" else "y")) is None  # a wrong secret
    time.sleep(0.1)
    assert store.token(short) is None  # expired
    store.revoke_token(row.id)
    assert store.token(token) is None  # at once: nothing is remembered between lookups
    # the database keeps no secret
    rows = store.db.query("SELECT * FROM security_token")
    assert all(token.split(".")[1] not in json.dumps(r) for r in rows)
    with pytest.raises(InputError, match="no token"):
        store.revoke_token("nope")


def test_a_disabled_user_loses_its_sessions_and_tokens(store: SecurityStore) -> None:
    store.add_user("ada", password="pw-ada-1")
    store.grant("ada", "viewer")
    token, _ = store.create_token("ada")
    cookie, csrf = store.open_session("ada", client="t", ttl_s=60)
    session = store.session(cookie)
    assert session is not None and session.csrf == csrf
    store.set_disabled("ada", True)
    assert store.session(cookie) is None and store.token(token) is None


def test_the_audit_chain_names_a_row_edited_in_the_database(store: SecurityStore, outside: Outside) -> None:
    audit = store.audit
    for i in range(5):
        audit.record("api.write", f"PATCH /x/{i}", who="ada", client="10.0.0.7", after={"status": 204})
    assert audit.verify() == []
    # the table is append-only for everyone who leaves its guard in place
    for sql in ("UPDATE audit_log SET who = 'eve' WHERE seq = 3", "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises((sqlite3.IntegrityError, psycopg.Error), match="append-only"):
            outside.execute(sql)
    if outside.dialect == "postgresql":
        with pytest.raises(psycopg.Error, match="append-only"):
            outside.execute("TRUNCATE audit_log")
    # someone with the database and another tool drops the guard and edits row 3
    outside.drop_guard()
    outside.execute("UPDATE audit_log SET who = 'eve' WHERE seq = 3")
    problems = audit.verify()
    assert len(problems) == 1 and problems[0].startswith("row 3:") and "edited" in problems[0]


def test_a_deleted_audit_row_is_named(store: SecurityStore, outside: Outside) -> None:
    for i in range(4):
        store.audit.record("signin", "ada", who="ada", client=f"10.0.0.{i}")
    outside.drop_guard()
    outside.execute("DELETE FROM audit_log WHERE seq = 2")
    problems = store.audit.verify()
    assert any(p.startswith("row 2: missing") for p in problems)
    assert any(p.startswith("row 3:") for p in problems)


def test_what_one_process_changes_the_next_sees_at_once(app_db_opener: Opener) -> None:
    """Two handles on the same tables, as two replicas (or a replica and the command line) have them."""
    one, two = _store(app_db_opener()), _store(app_db_opener())
    one.add_user("ada", password="pw-ada-1")
    one.grant("ada", "operator", LINE1)
    assert two.sign_in("ada", "pw-ada-1", client="t").grants == (Grant("operator", LINE1),)
    cookie, csrf = two.open_session("ada", client="t", ttl_s=60)
    token, row = one.create_token("ada", role="viewer")
    seen = one.session(cookie)
    assert seen is not None and seen.csrf == csrf and seen.grants == (Grant("operator", LINE1),)
    assert (who := two.token(token)) is not None and who.grants == (Grant("viewer", LINE1),)
    one.revoke_token(row.id)
    assert two.token(token) is None
    assert (before := two.session(cookie)) is not None and before.grants == (Grant("operator", LINE1),)
    one.set_grants("ada", [Grant("viewer"), Grant("supervisor", LINE2)])
    assert (again := two.session(cookie)) is not None
    assert set(again.grants) == {Grant("viewer"), Grant("supervisor", LINE2)}
    assert one.close_session(cookie) == "ada" and two.session(cookie) is None
    # wrong passwords tried on both add up to the lock-out
    for store in (one, two):
        with pytest.raises(SignInRefused, match=r"wrong password$"):
            store.sign_in("ada", "nope", client="t")
    with pytest.raises(SignInRefused, match="locked after 3"):
        one.sign_in("ada", "nope", client="t")
    with pytest.raises(InputError, match="exists already"):
        two.add_user("ada", password="pw-ada-2")
    assert [r.action for r in two.audit.rows()] == [
        "user.add", "role.grant", "token.create", "token.revoke", "role.set",
    ]  # fmt: skip


def test_a_sign_in_begun_at_the_provider_through_one_process_is_finished_through_another_once(
    app_db_opener: Opener,
) -> None:
    one, two = _store(app_db_opener()), _store(app_db_opener())
    begun = Pending("nonce-1", "verifier-1", "https://werk.example/signin/oidc/callback", "/oee")
    one.keep_pending("state-1", begun)
    assert two.take_pending("state-2") is None
    assert two.take_pending("state-1") == begun
    assert one.take_pending("state-1") is None  # once
    assert all("state-1" not in json.dumps(r) for r in one.db.query("SELECT * FROM security_oidc_pending"))
    one.keep_pending("state-3", begun)
    with one.db.transaction() as tx:
        tx.execute(
            "UPDATE security_oidc_pending SET created_ts = created_ts - ?", (int(PENDING_TTL_S * 1e6) + 1,)
        )
    assert two.take_pending("state-3") is None


def test_audit_rows_appended_from_two_processes_at_once_make_one_chain(app_db_opener: Opener) -> None:
    logs = [AuditLog(app_db_opener()), AuditLog(app_db_opener())]
    failures: list[BaseException] = []

    def run(log: AuditLog, n: int) -> None:
        try:
            for i in range(40):
                log.record("api.write", f"PATCH /x/{n}/{i}", who=f"writer-{n}", client="t")
        except BaseException as exc:  # a duplicate sequence number, a busy file
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(log, n)) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    rows = logs[1].rows()
    assert [r.seq for r in rows] == list(range(1, 81)) and logs[0].verify() == []
    assert {r.who for r in rows} == {"writer-0", "writer-1"}


def test_the_failure_limiter_answers_with_the_time_to_wait() -> None:
    limiter = FailureLimiter(max_failures=3, window_s=10)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("a", now=t) == 0
        limiter.failed("a", now=t)
    assert limiter.retry_after("a", now=2.5) == 8  # until the first failure leaves the window
    assert limiter.retry_after("b", now=2.5) == 0  # per client
    assert limiter.retry_after("a", now=10.5) == 0


def _plant(tmp_path: Path, pg_url: str | None = None) -> Path:
    from werk.config import demo_config_path

    where = f"path: {tmp_path}/werk.db"
    if pg_url is not None:
        where += f"\n  backend: postgresql\n  url: '{pg_url}'"
    text = demo_config_path().read_text().replace("path: werk-data/demo.db", where)
    assert str(tmp_path) in text
    plant = tmp_path / "plant.yaml"
    plant.write_text(text)
    return plant


def test_the_command_line_manages_users_tokens_and_verifies_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = str(_plant(tmp_path))
    monkeypatch.setenv("PW", "s3cret-pass")
    assert main(["users", "add", "ada", "-c", plant, "--role", "supervisor", "--scope", "augsburg/machining/line-1",
                 "--signal", f"{LINE1}/+/+/feed_override", "--password-env", "PW"]) == 0  # fmt: skip
    assert main(["users", "add", "eve", "-c", plant, "--scope", "nowhere/x", "--role", "viewer", "--password-env", "PW"]) == 2  # fmt: skip
    capsys.readouterr()
    assert main(["tokens", "create", "ada", "-c", plant, "--expires", "8h", "--role", "operator"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("wk_")
    assert main(["users", "list", "-c", plant]) == 0
    listing = capsys.readouterr().out
    assert "ada" in listing and f"supervisor on {LINE1}" in listing
    assert main(["tokens", "list", "-c", plant]) == 0
    assert token.split(".")[1] not in capsys.readouterr().out
    token_id = token[3:].split(".")[0]
    assert main(["tokens", "revoke", token_id, "-c", plant]) == 0
    assert main(["users", "disable", "ada", "-c", plant]) == 0
    assert main(["audit", "verify", "-c", plant]) == 0
    assert "intact" in capsys.readouterr().out
    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "-c", plant, "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("seq,ts,who,client,action")
    actions = [line.split(",")[4] for line in lines[1:]]
    assert actions == ["user.add", "role.grant", "token.create", "token.revoke", "user.disable"]
    conn = sqlite3.connect(tmp_path / "werk.db")
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET after = '{\"disabled\": false}' WHERE seq = 5")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert main(["audit", "verify", "-c", plant]) == 1
    assert "row 5:" in capsys.readouterr().err


def test_the_command_line_manages_the_users_and_audit_of_a_plant_on_postgresql(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = str(_plant(tmp_path, pg_url))
    monkeypatch.setenv("PW", "s3cret-pass")
    assert main(["users", "add", "ada", "-c", plant, "--role", "viewer", "--password-env", "PW"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "ada", "-c", plant]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["audit", "verify", "-c", plant]) == 0
    assert "intact (3 rows)" in capsys.readouterr().out
    assert not (tmp_path / "werk.db").exists()  # nothing of it went to a werk file
    db = PostgresAppDatabase(pg_url)
    db.open()
    try:
        who = _store(db).token(token)
        assert who is not None and who.name == "ada" and who.grants == (Grant("viewer"),)
    finally:
        db.close()
