"""Where an app keeps its own tables: :class:`AppDatabase`, one small handle that works the same on the werk file
(SQLite) and on the plant's PostgreSQL server.

The contract, held by ``tests/store/test_app_stores.py`` on both backends:

- **One placeholder style.** Statements mark parameters with ``?`` (never inside a quoted literal); the PostgreSQL
  handle turns them into ``%s``. Everything else in an app's statements is written to run on both as it stands:
  ``INSERT ... ON CONFLICT (...) DO UPDATE`` / ``DO NOTHING`` rather than ``INSERT OR REPLACE`` / ``OR IGNORE``,
  ``count(*)``, ``LIKE``, ``coalesce``, integers for booleans (0, 1) and for instants (microseconds since
  1970-01-01 UTC).
- **Transactions are explicit.** :meth:`AppDatabase.transaction` gives a :class:`Transaction` that commits when
  the block ends and rolls back (and re-raises) when it raises. Reads outside one (:meth:`AppDatabase.query`) see
  what is committed. A transaction that reads what it then writes after (the next link of a chain) names its
  table in ``serialize``: its writers in every process then take turns.
- **Migrations per owner**, numbered, recorded in ``werk_migration`` on either backend (:mod:`werk.store.migrations`).
  An app writes its DDL once, in SQLite's words; on PostgreSQL :func:`postgres_ddl` maps the few that differ:
  ``INTEGER PRIMARY KEY`` (SQLite's row id, numbered by the database) becomes an identity column, ``INTEGER`` becomes
  ``bigint`` (instants in microseconds need 64 bits, PostgreSQL's ``integer`` has 32), ``REAL`` becomes
  ``double precision`` (PostgreSQL's ``real`` has 32 bits), ``BLOB`` becomes ``bytea`` and ``WITHOUT ROWID`` goes.
  Type names are matched in capitals only (as SQLite's documentation writes them), so a column called ``blob`` or
  ``real`` stays as it is. Nothing else is translated: the mapping is of type names, not of SQL.

Why not an ORM or SQLAlchemy Core: each app's schema is a handful of tables and its statements are short; the two
dialects agree on all of it but the type names above and the placeholder, which this module covers in a page.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

Row = tuple[Any, ...]


class Transaction(Protocol):
    """Statements inside one transaction of an :class:`AppDatabase`."""

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement once per row of parameters (none: nothing runs)."""
        ...

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """The rows of a query, seeing this transaction's own writes."""
        ...


class AppDatabase(Protocol):
    """An app's tables on one backend: thread-safe, synchronous (async callers run it in a worker thread)."""

    #: where the tables are, for messages (a file path, a URL without its password)
    where: str
    #: ``sqlite`` or ``postgresql``, for the few statements that cannot be written once (a trigger's body)
    dialect: str

    def migrate(self, owner: str, migrations: tuple[Migration, ...]) -> int:
        """Apply ``owner``'s migrations that are not yet applied; its schema version. Raises StoreError for tables
        newer than the code."""
        ...

    def schema_version(self, owner: str) -> int: ...

    def transaction(self, *, serialize: str | None = None) -> contextlib.AbstractContextManager[Transaction]:
        """One transaction; with ``serialize`` (a table) the writers of that table in every process take turns
        for all of it: on the werk file it begins IMMEDIATE (the file's write lock at once), on PostgreSQL it locks
        the table against other writers (readers go on)."""
        ...

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """The rows of a query over what is committed."""
        ...

    def query_one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        """The first row of a query, None for none."""
        ...

    def generation(self) -> int | None:
        """A number that stays the same, for the calling thread, while nobody commits anything to the database;
        None where there is no cheap way to tell (PostgreSQL). What was read at one generation is still true while
        it holds: a reader may keep it instead of asking again."""
        ...

    def close(self) -> None: ...


# --- the werk file --------------------------------------------------------------------------------------------------


class _SQLiteTransaction:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        return int(self._conn.execute(sql, tuple(args)).rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return list(self._conn.execute(sql, tuple(args)).fetchall())


class SQLiteAppDatabase:
    """The apps' tables in the werk file: writes on its write connection under its lock, reads on this thread's
    read connection. The file belongs to whoever opened it (the platform): :meth:`close` leaves it open."""

    dialect = "sqlite"

    def __init__(self, file: SQLiteFile) -> None:
        self.file = file
        self.where = str(file.path)

    def migrate(self, owner: str, migrations: tuple[Migration, ...]) -> int:
        return self.file.migrate(owner, migrations)

    def schema_version(self, owner: str) -> int:
        return self.file.schema_version(owner)

    @contextlib.contextmanager
    def transaction(self, *, serialize: str | None = None) -> Iterator[Transaction]:
        with self.file.transaction(immediate=serialize is not None) as conn:
            yield _SQLiteTransaction(conn)

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        with self.file.read_guard():
            return list(self.file.reader().execute(sql, tuple(args)).fetchall())

    def query_one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        with self.file.read_guard():
            row: Row | None = self.file.reader().execute(sql, tuple(args)).fetchone()
            return row

    def generation(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this thread's read connection, which never writes: it changes with
        every commit of any other connection to the file, in this process or another."""
        with self.file.read_guard():
            return int(self.file.reader().execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        """Nothing to do: the file is closed by its owner."""


def app_database(db: AppDatabase | SQLiteFile) -> AppDatabase:
    """``db`` as an :class:`AppDatabase`: a werk file is wrapped, a handle is returned as it is."""
    return SQLiteAppDatabase(db) if isinstance(db, SQLiteFile) else db


# --- what differs on PostgreSQL -------------------------------------------------------------------------------------

_DDL = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b"), "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "bigint"),
    (re.compile(r"\bREAL\b"), "double precision"),
    (re.compile(r"\bBLOB\b"), "bytea"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\b"), ")"),
)


def postgres_ddl(sql: str) -> str:
    """A migration's SQLite DDL in PostgreSQL's type names (see the module docstring for the whole list)."""
    for pattern, repl in _DDL:
        sql = pattern.sub(repl, sql)
    return sql


def postgres_migrations(migrations: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """An owner's migrations as they run on PostgreSQL: the same numbers, the DDL mapped by :func:`postgres_ddl`.
    A database on a server never had the single-sequence layout, so ``legacy`` does not apply there."""
    return tuple(replace(m, sql=postgres_ddl(m.sql), legacy=None) for m in migrations)


@functools.lru_cache(maxsize=1024)
def postgres_params(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` for each ``?`` outside quoted literals, and every ``%`` doubled (psycopg
    reads ``%`` as the start of a placeholder whenever parameters are passed, which this module always does)."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if ch == "%":
            out.append("%%")
        elif quote is not None:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)
