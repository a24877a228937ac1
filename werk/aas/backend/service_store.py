"""What the AAS registry, discovery and AASX file server keep in werk's SQLite file (migration 5).

Three tables beside the twin's ``aas_object``: ``aas_descriptor`` (descriptors clients registered, as their JSON,
keyed by kind and id), ``aas_asset_link`` (asset links clients posted to discovery, one row per link) and
``aas_package`` (AASX files, stored as uploaded). Only what clients register lives here: descriptors and asset links
of werk's own shells and submodels are derived from the twin on every read, so they can never go stale.

A connection of its own to the historian's file, like :mod:`werk.aas.backend.persistence`, so this depends on the tables
and not on SQLiteHistorian's internals; the tables are created here too when the historian has not run its
migrations on the file yet. With ``historian.backend: postgresql`` the same tables are on the server
(:meth:`ServiceStore.on_server`), shared by every werk process pointed at it; each call reads or writes them there,
so nothing is cached to go stale. Rows come back in the order they were first written (rowid; ``ord`` on the
server), which is the API's paging order; an update keeps a row's place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg

from werk.core.model import to_micros, utcnow
from werk.errors import StoreError
from werk.store.app_database import Transaction, _SQLiteTransaction
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.migrations import AAS_MIGRATIONS, PG_AAS_MIGRATIONS
from werk.store.sqlite_file import apply_migrations

DescriptorKind = Literal["shell", "submodel"]


class _Taken(Exception):
    """A row with that key exists already."""


@dataclass(frozen=True)
class PackageInfo:
    """A stored AASX package without its bytes."""

    package_id: str
    file_name: str
    aas_ids: tuple[str, ...]
    size: int


class ServiceStore:
    """Registered descriptors, asset links and AASX packages in the historian's SQLite file, or on its PostgreSQL
    server (:meth:`on_server`: every werk process pointed at it shares them)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._server: PostgresAppDatabase | None = None
        self._order = "rowid"  # the column rows are paged in: the order they were first written
        try:
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            apply_migrations(self._conn, "aas", AAS_MIGRATIONS, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the AAS service tables: {exc}") from None

    @classmethod
    def on_server(cls, url: str) -> ServiceStore:
        """The tables on the PostgreSQL server at ``url`` (:data:`werk.store.migrations.PG_AAS_MIGRATIONS`)."""
        self = cls.__new__(cls)
        db = PostgresAppDatabase(url, "the AAS service tables")
        db.open()
        try:
            db.migrate("aas", PG_AAS_MIGRATIONS)
        except StoreError:
            db.close()
            raise
        self.path = Path(db.where)
        self._lock = threading.Lock()
        self._server = db
        self._order = "ord"
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            return
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        """One transaction; a row whose key is taken raises :class:`_Taken`."""
        try:
            if self._server is not None:
                with self._server.transaction() as tx:
                    yield tx
                return
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield _SQLiteTransaction(self._conn)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            raise _Taken from None

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        sql = sql.replace("ORDER BY rowid", f"ORDER BY {self._order}")
        if self._server is not None:
            return self._server.query(sql, tuple(args))
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    # --- descriptors ----------------------------------------------------------------------------------------------

    def descriptors(self, kind: DescriptorKind) -> list[dict[str, Any]]:
        rows = self._rows("SELECT json FROM aas_descriptor WHERE kind = ? ORDER BY rowid", (kind,))
        return [json.loads(text) for (text,) in rows]

    def descriptor(self, kind: DescriptorKind, identifier: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT json FROM aas_descriptor WHERE kind = ? AND id = ?", (kind, identifier))
        return json.loads(rows[0][0]) if rows else None

    def add_descriptor(self, kind: DescriptorKind, data: dict[str, Any]) -> None:
        """Register a descriptor; ``KeyError`` if one of this kind has its id already."""
        text = json.dumps(data, ensure_ascii=False)
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO aas_descriptor (kind, id, json, updated_ts) VALUES (?, ?, ?, ?)",
                    (kind, data["id"], text, to_micros(utcnow())),
                )
        except _Taken:
            raise KeyError(data["id"]) from None

    def replace_descriptor(self, kind: DescriptorKind, data: dict[str, Any]) -> bool:
        """Replace the registered descriptor with ``data``'s id in place; False if there is none."""
        text = json.dumps(data, ensure_ascii=False)
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE aas_descriptor SET json = ?, updated_ts = ? WHERE kind = ? AND id = ?",
                (text, to_micros(utcnow()), kind, data["id"]),
            )
            return changed == 1

    def delete_descriptor(self, kind: DescriptorKind, identifier: str) -> bool:
        with self._transaction() as conn:
            return (
                conn.execute("DELETE FROM aas_descriptor WHERE kind = ? AND id = ?", (kind, identifier)) == 1
            )

    # --- asset links (discovery) ----------------------------------------------------------------------------------

    def asset_links(self, aas_id: str) -> list[dict[str, Any]]:
        rows = self._rows("SELECT json FROM aas_asset_link WHERE aas_id = ? ORDER BY rowid", (aas_id,))
        return [json.loads(text) for (text,) in rows]

    def add_asset_links(self, aas_id: str, links: list[tuple[tuple[str, str], dict[str, Any]]]) -> None:
        """Link ``aas_id`` to each (name, value) key with its SpecificAssetId JSON, all or none; ``KeyError`` with
        the keys that are linked to it already."""
        now = to_micros(utcnow())
        with self._transaction() as conn:
            taken = [
                key
                for key, _ in links
                if conn.query(
                    "SELECT 1 FROM aas_asset_link WHERE aas_id = ? AND name = ? AND value = ?", (aas_id, *key)
                )
            ]
            if taken:
                raise KeyError(taken)
            conn.executemany(
                "INSERT INTO aas_asset_link (aas_id, name, value, json, updated_ts) VALUES (?, ?, ?, ?, ?)",
                [(aas_id, n, v, json.dumps(d, ensure_ascii=False), now) for (n, v), d in links],
            )

    def delete_asset_links(self, aas_id: str) -> int:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM aas_asset_link WHERE aas_id = ?", (aas_id,))

    def link_keys(self) -> dict[str, set[tuple[str, str]]]:
        """The (name, value) of every posted link by shell id, shells in the order their first link was posted."""
        rows = self._rows("SELECT aas_id, name, value FROM aas_asset_link ORDER BY rowid")
        keys: dict[str, set[tuple[str, str]]] = {}
        for aas_id, name, value in rows:
            keys.setdefault(aas_id, set()).add((name, value))
        return keys

    # --- AASX packages (file server) ------------------------------------------------------------------------------

    def packages(self) -> list[PackageInfo]:
        rows = self._rows("SELECT id, file_name, aas_ids, length(data) FROM aas_package ORDER BY rowid")
        return [PackageInfo(i, f, tuple(json.loads(a)), n) for i, f, a, n in rows]

    def package_info(self, package_id: str) -> PackageInfo | None:
        rows = self._rows(
            "SELECT file_name, aas_ids, length(data) FROM aas_package WHERE id = ?", (package_id,)
        )
        return (
            PackageInfo(package_id, rows[0][0], tuple(json.loads(rows[0][1])), rows[0][2]) if rows else None
        )

    def package(self, package_id: str) -> tuple[PackageInfo, bytes] | None:
        rows = self._rows("SELECT file_name, aas_ids, data FROM aas_package WHERE id = ?", (package_id,))
        if not rows:
            return None
        file_name, aas_ids, data = rows[0]
        return PackageInfo(package_id, file_name, tuple(json.loads(aas_ids)), len(data)), bytes(data)

    def add_package(self, file_name: str, aas_ids: list[str], data: bytes) -> PackageInfo:
        """Store a package under a new id (the server's: Part 2 leaves package ids to it)."""
        package_id = uuid.uuid4().hex
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO aas_package (id, file_name, aas_ids, data, updated_ts) VALUES (?, ?, ?, ?, ?)",
                (package_id, file_name, json.dumps(aas_ids), data, to_micros(utcnow())),
            )
        return PackageInfo(package_id, file_name, tuple(aas_ids), len(data))

    def replace_package(self, package_id: str, file_name: str, aas_ids: list[str], data: bytes) -> bool:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE aas_package SET file_name = ?, aas_ids = ?, data = ?, updated_ts = ? WHERE id = ?",
                (file_name, json.dumps(aas_ids), data, to_micros(utcnow()), package_id),
            )
            return changed == 1

    def delete_package(self, package_id: str) -> bool:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM aas_package WHERE id = ?", (package_id,)) == 1
