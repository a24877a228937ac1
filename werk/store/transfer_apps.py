"""Moving the apps' tables of a werk file to PostgreSQL (part of ``werk store migrate --to postgresql://...``), rows
counted on both sides; werk's users, tokens, sessions and audit trail go the same way (their owners are passed
beside the apps').

Each owner the file records in ``werk_migration`` and the caller knows (``owners``: every registered app's name and
migrations, and :data:`werk.security.store.OWNERS`) gets its tables on the server first, through its own migrations (so the server's tables are the
code's newest, whatever version the file had). Then each of its tables, in the order its migrations create them
(a table another one references comes first), is copied whole in one transaction: the columns the file and the
server share, every row, and an identity column's sequence moved past the largest id copied, so the next row the
app writes gets a new one.

A table is copied only while it is empty on the server; one that already holds as many rows as the file's is left
as it is (a run started again after an interruption copies nothing twice), and one that holds a different number
is reported, not touched: the server's rows were written by something else (a werk already running on it), and
merging two histories is a decision for a person.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from werk.errors import StoreError
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.migrations import Migration

CHUNK = 5_000

_CREATE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I)


@dataclass
class AppsReport:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows in the file
    copied: dict[str, int] = field(default_factory=dict)  # table -> rows copied in this run
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def tables_of(migrations: tuple[Migration, ...]) -> list[str]:
    """The tables an owner's migrations create, in the order they do."""
    names: list[str] = []
    for m in migrations:
        for name in _CREATE.findall(m.sql):
            if name not in names:
                names.append(name)
    return names


def transfer_apps(
    path: Path, db: PostgresAppDatabase, owners: Mapping[str, tuple[Migration, ...]]
) -> AppsReport:
    """Copy the tables of the owners in ``owners`` that the werk file at ``path`` has into ``db`` (open)."""
    if not path.exists():
        raise StoreError(f"{path}: no such werk file")
    lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    report = AppsReport()
    try:
        recorded = {
            owner
            for (owner,) in lite.execute(
                "SELECT DISTINCT owner FROM werk_migration"
                if has_table(lite, "werk_migration")
                else "SELECT NULL WHERE 0"
            )
        }
        for owner, migrations in owners.items():
            if owner not in recorded or not migrations:
                continue
            db.migrate(owner, migrations)
            for table in tables_of(migrations):
                if has_table(lite, table):
                    copy_table(lite, db, table, report)
    finally:
        lite.close()
    return report


def has_table(lite: sqlite3.Connection, table: str) -> bool:
    row = lite.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None


def copy_table(
    lite: sqlite3.Connection, db: PostgresAppDatabase, table: str, report: AppsReport, *, order_by: str = ""
) -> None:
    """Copy ``table`` whole from the file to the server (see the module docstring), in the file's ``order_by``
    when given (the server numbers rows as they come: the order they were first written, for a paging order)."""
    file_columns = [r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')]
    server = db.query(
        "SELECT column_name, is_identity FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    server_columns = {name for name, _ in server}
    columns = [c for c in file_columns if c in server_columns]
    identity = [name for name, is_identity in server if is_identity == "YES" and name in columns]
    (n,) = lite.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    report.tables[table] = int(n)
    row = db.query_one(f'SELECT count(*) FROM "{table}"')
    there = int(row[0]) if row else 0
    if there == n:
        report.copied[table] = 0
        return
    if there:
        report.mismatches.append(
            f"{table}: {n} rows in the file, {there} on the server, written there by something else: not copied"
        )
        return
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    with db.transaction() as tx:
        cursor = lite.execute(
            f'SELECT {names} FROM "{table}"' + (f" ORDER BY {order_by}" if order_by else "")
        )
        while rows := cursor.fetchmany(CHUNK):
            tx.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        for col in identity:  # the next row the app writes gets an id past the copied ones
            tx.query(
                f'SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max("{col}"), 0) + 1, false) '
                f'FROM "{table}"',
                (table, col),
            )
        copied = tx.query(f'SELECT count(*) FROM "{table}"')[0][0]
    report.copied[table] = n
    if copied != n:
        report.mismatches.append(f"{table}: {n} rows in the file, {copied} copied")
