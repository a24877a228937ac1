"""The werk file: one SQLite database in WAL mode that the historian, the twin and every app keep their tables in.

One file means one backup, one place to look, and transactions that never span files. Its owners share a single
write connection and its lock (SQLite takes one writer at a time anyway) and read through a connection per thread,
so the API reads while a batch is written.

``synchronous`` is NORMAL by default: every committed batch survives a crash of the process, and a power cut may
lose the transactions since the last checkpoint (SQLite's documented trade-off), which is the price of batched
ingest at tens of thousands of samples per second on an SD card or a small SSD. FULL (``historian.synchronous``)
makes every commit survive a power cut too, at the cost of an fsync per batch.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Concatenate, Literal, ParamSpec, Protocol, TypeVar

from werk.core.model import to_micros, utcnow
from werk.errors import StoreError
from werk.store.connections import OneWriter, Readers
from werk.store.migrations import OWNERS_SCHEMA, Migration, check_sequence

Synchronous = Literal["NORMAL", "FULL"]


def connect(path: str | Path, synchronous: Synchronous = "NORMAL") -> sqlite3.Connection:
    """A connection as every owner of the file uses it: autocommit (transactions are explicit), WAL, a busy
    timeout instead of an immediate 'database is locked'."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def apply_migrations(
    conn: sqlite3.Connection, owner: str, migrations: tuple[Migration, ...], where: str = ""
) -> int:
    """Bring ``owner``'s tables up to its newest migration, one transaction per step; return the version.

    Refuses (StoreError) a file where the owner is at a version newer than the code knows. Safe to call from
    several connections at once: each step re-reads the version inside its write transaction.
    """
    check_sequence(owner, migrations)
    where = where or "database"
    conn.execute(
        "CREATE TABLE IF NOT EXISTS werk_migration (owner TEXT NOT NULL, version INTEGER NOT NULL, "
        "description TEXT NOT NULL, applied_ts INTEGER NOT NULL, PRIMARY KEY (owner, version))"
    )
    latest = migrations[-1].version if migrations else 0
    current = _version(conn, owner)
    if current > latest:
        raise StoreError(
            f"{where}: the tables of {owner!r} are at schema version {current}, newer than this werk knows "
            f"({latest}); upgrade werk or point it at another file"
        )
    legacy = _legacy_steps(conn)
    for m in migrations:
        if m.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _version(conn, owner) < m.version:  # another connection may have applied it meanwhile
                if m.legacy is None or m.legacy not in legacy:
                    for stmt in m.statements():
                        conn.execute(stmt)
                conn.execute(
                    "INSERT INTO werk_migration VALUES (?, ?, ?, ?)",
                    (owner, m.version, m.description, to_micros(utcnow())),
                )
                _mark_owners_schema(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(current, latest)


def _version(conn: sqlite3.Connection, owner: str) -> int:
    row = conn.execute("SELECT max(version) FROM werk_migration WHERE owner = ?", (owner,)).fetchone()
    return int(row[0] or 0)


def _legacy_steps(conn: sqlite3.Connection) -> set[int]:
    """The steps of the single global sequence a file of the earlier layout recorded (empty for a new file)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'werk_schema'").fetchone():
        return {int(v) for (v,) in conn.execute("SELECT version FROM werk_schema") if v < OWNERS_SCHEMA}
    return set()


def _mark_owners_schema(conn: sqlite3.Connection) -> None:
    """Record in ``werk_schema`` that this file has migrations per owner: a werk of the single-sequence layout
    then refuses the file as newer than it knows, instead of writing into tables it no longer knows."""
    conn.execute("CREATE TABLE IF NOT EXISTS werk_schema (version INTEGER PRIMARY KEY, description TEXT)")
    conn.execute(
        "INSERT OR IGNORE INTO werk_schema VALUES (?, ?)",
        (OWNERS_SCHEMA, "migrations per owner, in werk_migration"),
    )


class HasFile(Protocol):
    @property
    def file(self) -> SQLiteFile: ...


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=HasFile)


def reads(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Mark a query method of an object with a ``file: SQLiteFile``: ``close`` waits for it. A task cancelled
    during ``asyncio.to_thread(query)`` leaves the query running in its thread, and closing its SQLite connection
    under it crashes the process."""

    def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.file.read_guard():
            return fn(self, *args, **kwargs)

    functools.update_wrapper(guarded, fn)
    return guarded


class SQLiteFile(OneWriter[sqlite3.Connection]):
    """The werk file's connections: one writer under a lock, one reader per thread, migrations per owner.

    Thread-safe. ``close`` waits (up to :data:`werk.store.connections.CLOSE_WAIT_S`) for reads still running in other threads and
    refuses later ones.
    """

    def __init__(self, path: str | Path, synchronous: Synchronous = "NORMAL") -> None:
        self.path = Path(path)
        self.synchronous: Synchronous = synchronous
        self.write_lock = threading.RLock()
        self._readers = Readers(str(self.path), "the werk database")
        self._w = None
        self._on_rollback: list[Callable[[sqlite3.Connection], None]] = []

    def open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._w = connect(self.path, self.synchronous)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the werk database: {exc}") from None
        self._readers.opened()

    def migrate(self, owner: str, migrations: tuple[Migration, ...]) -> int:
        """Apply ``owner``'s migrations on the write connection; its schema version."""
        with self.write_lock:
            try:
                return apply_migrations(self.writer(), owner, migrations, str(self.path))
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: cannot migrate the tables of {owner!r}: {exc}") from None

    def schema_version(self, owner: str) -> int:
        with self.read_guard():
            try:
                return _version(self.reader(), owner)
            except sqlite3.OperationalError:  # no werk_migration yet
                return 0

    def read_guard(self) -> contextlib.AbstractContextManager[None]:
        """A read in progress (:meth:`close` waits for it); refused once closed."""
        return self._readers.guard()

    def writer(self) -> sqlite3.Connection:
        """The write connection; hold :attr:`write_lock` while using it."""
        if self._w is None:
            raise StoreError(f"{self.path}: the werk database is not open")
        return self._w

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (made on first use); use it inside :meth:`read_guard`."""
        return self._readers.connection(lambda: connect(self.path, self.synchronous))

    @contextlib.contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """The write connection inside one transaction, under the write lock: committed, or rolled back and
        re-raised (and whoever cached ids the transaction handed out is told, :meth:`on_rollback`). ``immediate``:
        the file's write lock is taken at the start, so no other process writes between this transaction's reads
        and its writes."""
        with self.write_lock:
            conn = self.writer()
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                for callback in self._on_rollback:
                    callback(conn)
                raise

    def on_rollback(self, callback: Callable[[sqlite3.Connection], None]) -> None:
        self._on_rollback.append(callback)
