"""Local users, tokens, sessions and the audit trail in a werk file, and the command line that manages them."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from werk.cli import main
from werk.core.access import Grant, cap, may_write_signal, permits, permits_somewhere
from werk.errors import InputError
from werk.security.audit import AuditLog
from werk.security.limits import FailureLimiter
from werk.security.secrets import plant_token_hash, plant_token_matches, verify_password
from werk.security.store import SecurityStore, SignInRefused
from werk.store.sqlite_file import SQLiteFile

LINE1 = "acme/augsburg/machining/line-1"
LINE2 = "acme/augsburg/assembly/line-2"


@pytest.fixture
def store(tmp_path: Path) -> SecurityStore:
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    return SecurityStore(file, AuditLog(file), lockout_after=3, lockout_s=60)


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
    stored = store.file.reader().execute("SELECT password FROM security_user").fetchone()[0]
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
    assert store.token(token) is None  # at once: revoking forgets what was cached
    # the file keeps no secret
    rows = store.file.reader().execute("SELECT * FROM security_token").fetchall()
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


def test_the_audit_chain_names_a_row_edited_in_the_database(store: SecurityStore, tmp_path: Path) -> None:
    audit = store.audit
    for i in range(5):
        audit.record("api.write", f"PATCH /x/{i}", who="ada", client="10.0.0.7", after={"status": 204})
    assert audit.verify() == []
    conn = sqlite3.connect(tmp_path / "werk.db")
    # inside werk the table is append-only
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET who = 'eve' WHERE seq = 3")
    # someone with the file and another tool drops the guard and edits row 3
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET who = 'eve' WHERE seq = 3")
    conn.commit()
    conn.close()
    problems = audit.verify()
    assert len(problems) == 1 and problems[0].startswith("row 3:") and "edited" in problems[0]


def test_a_deleted_audit_row_is_named(store: SecurityStore, tmp_path: Path) -> None:
    for i in range(4):
        store.audit.record("signin", "ada", who="ada", client=f"10.0.0.{i}")
    conn = sqlite3.connect(tmp_path / "werk.db")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 2")
    conn.commit()
    conn.close()
    problems = store.audit.verify()
    assert any(p.startswith("row 2: missing") for p in problems)
    assert any(p.startswith("row 3:") for p in problems)


def test_the_failure_limiter_answers_with_the_time_to_wait() -> None:
    limiter = FailureLimiter(max_failures=3, window_s=10)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("a", now=t) == 0
        limiter.failed("a", now=t)
    assert limiter.retry_after("a", now=2.5) == 8  # until the first failure leaves the window
    assert limiter.retry_after("b", now=2.5) == 0  # per client
    assert limiter.retry_after("a", now=10.5) == 0


def _plant(tmp_path: Path) -> Path:
    from werk.config import demo_config_path

    text = demo_config_path().read_text().replace("path: werk-data/demo.db", f"path: {tmp_path}/werk.db")
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
