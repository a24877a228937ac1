"""The apps' tables on the plant's PostgreSQL server (``historian.backend: postgresql``): an
:class:`~werk.store.app_database.AppDatabase` that every werk process pointed at the same database shares, so a
restarted process, a second ``werk serve`` on another box or a ``werk api`` replica finds the stops, work orders
and alarm journal the apps wrote.

Connections as the historian on PostgreSQL keeps them (:mod:`werk.store.postgres`): one write connection under a
lock (an app's writes are a few rows at a time; one at a time per process costs nothing and keeps the order in
which the app made them), one autocommit read connection per thread. A lost connection fails the call in progress
with a :class:`~werk.errors.StoreError` that names the server; the next call connects again. Migrations are
recorded in the same ``werk_migration`` table as the historian's, under the same advisory lock, so several
processes starting at once take turns.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import psycopg

from werk.errors import StoreError
from werk.store.app_database import Row, Transaction, postgres_migrations, postgres_params
from werk.store.migrations import Migration
from werk.store.pg_connections import Conn, PgConnections
from werk.store.postgres import apply_migrations

log = logging.getLogger(__name__)


class _PostgresTransaction:
    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        return self._conn.execute(postgres_params(sql), tuple(args)).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(postgres_params(sql), [tuple(r) for r in rows])

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(postgres_params(sql), tuple(args)).fetchall()


class PostgresAppDatabase(PgConnections):
    """The apps' tables on the PostgreSQL server at ``url`` (libpq parameters such as
    ``options=-csearch_path=...`` pass through). Thread-safe; :meth:`close` waits (up to
    :data:`werk.store.connections.CLOSE_WAIT_S`) for reads still running in other threads and refuses later ones.
    ``what`` names the tables in messages (the twin's and the AAS services' tables are reached the same way)."""

    dialect = "postgresql"

    def __init__(self, url: str, what: str = "the apps' database") -> None:
        super().__init__(url, what)

    def open(self) -> None:
        self._w = self._connect()
        self._readers.opened()

    def migrate(self, owner: str, migrations: tuple[Migration, ...]) -> int:
        with self.write_lock:
            try:
                return apply_migrations(self._writer(), owner, postgres_migrations(migrations), self.where)
            except psycopg.Error as exc:
                raise StoreError(f"{self.where}: cannot migrate the tables of {owner!r}: {exc}") from None

    def schema_version(self, owner: str) -> int:
        row = self.query_one("SELECT to_regclass('werk_migration') IS NOT NULL")
        if row is None or not row[0]:
            return 0
        row = self.query_one("SELECT max(version) FROM werk_migration WHERE owner = ?", (owner,))
        return int(row[0] or 0) if row else 0

    @contextlib.contextmanager
    def transaction(self, *, serialize: str | None = None) -> Iterator[Transaction]:
        with self.write_lock:
            conn = self._writer()
            try:
                with conn.transaction():
                    if serialize is not None:
                        conn.execute(f'LOCK TABLE "{serialize}" IN SHARE ROW EXCLUSIVE MODE')
                    yield _PostgresTransaction(conn)
            except psycopg.OperationalError as exc:
                raise StoreError(
                    f"{self.where}: a write to {self.what} did not reach PostgreSQL: {exc}"
                ) from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Conn]:
        """This thread's read connection; a read that does not reach the server raises a StoreError naming it."""
        with self._read() as conn:
            try:
                yield conn
            except psycopg.OperationalError as exc:
                raise StoreError(
                    f"{self.where}: a read of {self.what} did not reach PostgreSQL: {exc}"
                ) from None

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        with self._reading() as conn:
            return conn.execute(postgres_params(sql), tuple(args)).fetchall()

    def generation(self) -> None:
        """None: a server has no cheap way to say that nothing changed, so every read asks it."""
        return None

    def query_one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        with self._reading() as conn:
            return conn.execute(postgres_params(sql), tuple(args)).fetchone()
