"""What a request's credential costs: the Authenticator identifying a session cookie or a ``werk tokens`` token,
looked up in the security tables on every request (nothing is cached, so a revocation holds at once on every
replica), on the werk file and on PostgreSQL.

    .venv/bin/python benchmarks/security_lookup.py [--users 200] [--calls 20000] [--pg URL] [--quick]

``--users`` local users, each with three grants, an open session and a token; ``--calls`` identifications per
round, cycling through the users (so every call is a lookup of another credential), best of three rounds. On the
werk file the answer kept while nothing was committed (``PRAGMA data_version``) is measured, and beside it, as the
reference, the query every request makes after a commit (and every request made before answers were kept). Goal:
a check on the werk file within :data:`GOAL_US` a request. The PostgreSQL server of ``--pg`` (default: ``WERK_TEST_PG`` or 127.0.0.1:5432) gets a database of its own, dropped
at the end; without a server that part is skipped. ``--quick``: 2,000 calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from werk.api.auth import Authenticator
from werk.config.model import ServerConfig
from werk.core.access import Caller
from werk.security.audit import AuditLog
from werk.security.store import SecurityStore
from werk.store.app_database import AppDatabase, SQLiteAppDatabase
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.sqlite_file import SQLiteFile

SCOPES = ("acme/augsburg/machining/line-1", "acme/augsburg/assembly/line-2")
GOAL_US = 100.0


def fill(store: SecurityStore, users: int) -> tuple[list[str], list[str]]:
    """``users`` users with three grants each: their session cookies and their tokens."""
    sessions, tokens = [], []
    for i in range(users):
        name = f"user-{i}"
        store.add_user(name, password=None, kind="machine")
        store.grant(name, "viewer")
        for scope in SCOPES:
            store.grant(name, "operator", scope, (f"{scope}/#",))
        sessions.append(store.open_session(name, client="bench", ttl_s=3600)[0])
        tokens.append(store.create_token(name, label="bench")[0])
    return sessions, tokens


def per_call_us(identify: Callable[[Caller], object], callers: list[Caller], calls: int) -> float:
    """Best of three rounds, microseconds per identification."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for k in range(calls):
            assert identify(callers[k % len(callers)]) is not None
        best = min(best, (time.perf_counter() - t) / calls * 1e6)
    return best


def measure(name: str, db: AppDatabase, users: int, calls: int) -> float:
    """Prints the session's and the token's check; the slower of the two."""
    store = SecurityStore(db, AuditLog(db))
    sessions, tokens = fill(store, users)
    auth = Authenticator(ServerConfig(), store)
    by_session = [Caller(session=s, client="bench") for s in sessions]
    by_token = [Caller(authorization=f"Bearer {t}", client="bench") for t in tokens]
    s_us = per_call_us(auth.identify, by_session, calls)
    t_us = per_call_us(auth.identify, by_token, calls)
    print(f"{name:<26} session cookie {s_us:7.1f} us/request   werk token {t_us:7.1f} us/request")
    return max(s_us, t_us)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--pg", default=os.environ.get("WERK_TEST_PG", "postgresql://postgres@127.0.0.1:5432"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    calls = 2_000 if args.quick else args.calls
    print(f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{args.users} users with 3 grants each; {calls:,} identifications a round, best of 3")
    with tempfile.TemporaryDirectory() as tmp:
        file = SQLiteFile(Path(tmp) / "werk.db")
        file.open()
        try:
            worst = measure("werk file", SQLiteAppDatabase(file), args.users, calls)
        finally:
            file.close()
        file = SQLiteFile(Path(tmp) / "asking.db")
        file.open()
        try:
            asking = SQLiteAppDatabase(file)
            asking.generation = lambda: None  # type: ignore[method-assign,assignment,return-value]
            measure("werk file, query each time", asking, args.users, calls)
        finally:
            file.close()
    verdict = "met" if worst <= GOAL_US else f"not met ({worst:.0f} us)"
    try:
        admin = psycopg.connect(f"{args.pg}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {str(exc).strip().splitlines()[0]}")
        admin = None
    if admin is not None:
        on_postgresql(admin, args.pg, args.users, calls)
    print(f"goal a credential's check on the werk file <= {GOAL_US:.0f} us a request: {verdict}")
    return 0


def on_postgresql(admin: psycopg.Connection, server: str, users: int, calls: int) -> None:
    name = f"werk_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            db = PostgresAppDatabase(f"{server}/{name}")
            db.open()
            try:
                measure("PostgreSQL (loopback)", db, users, calls)
            finally:
                db.close()
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    raise SystemExit(main())
