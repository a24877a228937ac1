"""A werk file whose users, tokens, sessions and audit trail were written before they could live on PostgreSQL
opens with today's code and keeps every one of them, and ``werk store migrate`` carries them all to a server
(tests/security/fixtures/README.md says what the file holds)."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from werk.cli import main
from werk.core.access import Grant
from werk.security.audit import AuditLog
from werk.security.store import SecurityStore, SignInRefused
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.sqlite import SQLiteHistorian
from werk.store.sqlite_file import SQLiteFile

FIXTURE = Path(__file__).parent / "fixtures" / "werk-security-ad0ca7f.db.gz"
PLC_TOKEN = "wk_ef815db502c6.ZZtWt5KvOWOOcwpvu4EYRpGj7SScOCb8YyTO0zF_E9c"
ADA_TOKEN = "wk_31d4ecbfe2d5.RNa39v5heMvyMPJvuYIFzd_jLdDXKiPFjLTi_gurFfo"
REVOKED_TOKEN = "wk_be50ed6afb1e.PLIyTrNHxQESrDeR9coWsuM97UFGWT9xVOqUA3rSJ-c"
SESSION, CSRF = "juQ9xWPYVZ2XuDPGO7Wz9mWrCuBJTkDrtKSfAZmKU9g", "byFzsqrJqQuH1Ii9_k4_ptzarqeuoyfJ"
LINE1 = "acme/augsburg/machining/line-1"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "werk.db"
    with gzip.open(FIXTURE) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_the_users_tokens_sessions_and_audit_of_an_earlier_file_are_all_there(legacy: Path) -> None:
    with sqlite3.connect(legacy) as conn:
        rows_before = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    assert len(rows_before) == 17  # what the fixture holds
    file = SQLiteFile(legacy)
    file.open()
    try:
        store = SecurityStore(file, AuditLog(file))
        users = {u.name: u for u in store.users()}
        assert sorted(users) == ["ada", "bob", "line1-plc", "olga"]
        assert users["ada"].grants == (Grant("viewer"), Grant("supervisor", LINE1))
        assert users["line1-plc"].kind == "machine" and users["olga"].kind == "oidc"
        assert users["line1-plc"].grants == (Grant("operator", LINE1, (f"{LINE1}/#",)),)
        assert users["bob"].disabled and not users["ada"].disabled
        assert users["ada"].failed == 0  # the sign-in after the wrong password reset it

        assert store.sign_in("ada", "ada-secret-1", client="t").name == "ada"
        with pytest.raises(SignInRefused, match="disabled"):
            store.sign_in("bob", "bob-secret-1", client="t")
        session = store.session(SESSION)
        assert session is not None and session.name == "ada" and session.csrf == CSRF
        plc = store.token(PLC_TOKEN)
        assert plc is not None and plc.name == "line1-plc" and plc.grants == users["line1-plc"].grants
        ada = store.token(ADA_TOKEN)
        # capped at viewer of acme/augsburg: the plant's viewer narrowed, line 1's supervisor lowered
        assert ada is not None and ada.grants == (Grant("viewer", "acme/augsburg"), Grant("viewer", LINE1))
        assert store.token(REVOKED_TOKEN) is None
        tokens = {t.label: t for t in store.tokens()}
        assert sorted(tokens) == ["laptop", "old", "plc"] and tokens["old"].revoked is not None

        audit = store.audit
        assert audit.verify() == []
        assert [tuple(vars(r).values()) for r in audit.rows()] == rows_before
        # the chain goes on from the last row written by the earlier werk
        assert audit.record("signin", "ada", who="ada", client="t") == 18 and audit.verify() == []
        store.revoke_token(tokens["plc"].id)
        assert store.token(PLC_TOKEN) is None
    finally:
        file.close()
    with sqlite3.connect(legacy) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 1")


def test_store_migrate_carries_them_to_postgresql_with_counts_checked(
    legacy: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    historian = SQLiteHistorian(legacy)  # a werk file has a historian's tables, empty here
    historian.open()
    historian.close()
    with sqlite3.connect(legacy) as conn:
        rows_before = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
    args = ["store", "migrate", "--to", pg_url, "--file", str(legacy), "-q"]
    assert main(args) == 0
    # users 4, grants 5, tokens 3, sessions 1, audit rows 17
    assert "5 tables, 30 rows, counts equal (30 rows copied in this run)" in capsys.readouterr().out
    assert main(args) == 0  # again: nothing twice
    assert "30 rows, counts equal (0 rows copied in this run)" in capsys.readouterr().out

    db = PostgresAppDatabase(pg_url)
    db.open()
    try:
        store = SecurityStore(db, AuditLog(db))
        assert sorted(u.name for u in store.users()) == ["ada", "bob", "line1-plc", "olga"]
        assert store.sign_in("ada", "ada-secret-1", client="t").name == "ada"
        assert (session := store.session(SESSION)) is not None and session.csrf == CSRF
        assert (plc := store.token(PLC_TOKEN)) is not None and plc.name == "line1-plc"
        assert store.token(REVOKED_TOKEN) is None
        assert [tuple(vars(r).values()) for r in store.audit.rows()] == rows_before
        assert store.audit.record("signin", "ada", who="ada", client="t") == 18 and store.audit.verify() == []
        store.add_user(
            "eve", password="eve-secret-1"
        )  # the server's tables take new rows beside the copied ones
        assert store.user("eve") is not None
    finally:
        db.close()
