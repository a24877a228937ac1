"""The twin in werk's SQLite file: one row per Identifiable in table ``aas_object`` (migration 2).

A connection of its own to the historian's file, so the twin depends on the table, not on SQLiteHistorian's
internals; WAL mode lets both write the same file. Each object is stored as its Part 1 JSON (IDTA-01001 JSON
serialisation), written by :func:`werk.twin.io.to_jsonable`; loading decodes it with basyx's strict decoder,
without re-running the schema checks the object passed when it entered the store.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from basyx.aas import model

from werk.config.model import WerkConfig
from werk.core.model import to_micros, utcnow
from werk.errors import AasError, StoreError
from werk.twin.environment import build_environment
from werk.twin.io import decode_identifiable, to_jsonable
from werk.twin.store import TwinStore

_SCHEMA = """CREATE TABLE IF NOT EXISTS aas_object (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, json TEXT NOT NULL, updated_ts INTEGER NOT NULL)"""
#: ids deleted through the API: the plant file must not bring them back at the next start
_TOMBSTONES = "CREATE TABLE IF NOT EXISTS aas_deleted (id TEXT PRIMARY KEY, deleted_ts INTEGER NOT NULL)"
_UPSERT = (
    "INSERT INTO aas_object (id, kind, json, updated_ts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, json = excluded.json, updated_ts = excluded.updated_ts"
)


class TwinPersistence:
    """Load and save AAS objects in ``aas_object``; use :meth:`on_change` as a :class:`TwinStore` hook."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_TOMBSTONES)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the twin's table: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def count(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM aas_object").fetchone()
        return int(row[0])

    def load(self) -> list[model.Identifiable]:
        """Every stored object, in the order it was first saved; a row that no longer decodes is an error, not a
        silent gap."""
        with self._lock:
            rows = self._conn.execute("SELECT id, json FROM aas_object ORDER BY rowid").fetchall()
        out: list[model.Identifiable] = []
        for ident, text in rows:
            try:
                out.append(decode_identifiable(json.loads(text), validate=False))
            except (ValueError, KeyError, TypeError, AasError) as exc:
                raise StoreError(f"{self.path}: aas_object {ident!r} cannot be decoded: {exc}") from None
        return out

    def deleted(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._conn.execute("SELECT id FROM aas_deleted")}

    def save(self, obj: model.Identifiable) -> None:
        text = json.dumps(to_jsonable(obj), ensure_ascii=False)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(_UPSERT, (obj.id, type(obj).__name__, text, to_micros(utcnow())))
                self._conn.execute("DELETE FROM aas_deleted WHERE id = ?", (obj.id,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def save_all(self, objects: list[model.Identifiable]) -> None:
        """Save many objects in one transaction (an import is all or nothing here too)."""
        rows = [
            (o.id, type(o).__name__, json.dumps(to_jsonable(o), ensure_ascii=False), to_micros(utcnow()))
            for o in objects
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_UPSERT, rows)
                self._conn.executemany("DELETE FROM aas_deleted WHERE id = ?", [(r[0],) for r in rows])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def delete(self, identifier: str) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM aas_object WHERE id = ?", (identifier,))
                self._conn.execute(
                    "INSERT INTO aas_deleted VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    (identifier, to_micros(utcnow())),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def on_change(self, identifier: str, obj: model.Identifiable | None) -> None:
        """The :data:`werk.twin.store.OnChange` hook: upsert a changed object, delete a removed one."""
        if obj is None:
            self.delete(identifier)
        else:
            self.save(obj)


def open_twin(config: WerkConfig) -> tuple[TwinStore, TwinPersistence]:
    """The twin for a plant file, kept in the historian's SQLite file.

    What is stored wins: edits made through the API survive a restart. Shells and submodels that are new (assets
    added to the plant file, or a submodel template a newer werk adds) are built and saved, and a stored shell gets
    a reference to each new submodel of its own; what was deleted through the API stays deleted, and nothing stored
    is deleted because the plant file no longer names it (delete it through the API). Close the returned
    persistence at shutdown.
    """
    persistence = TwinPersistence(config.historian.path)
    stored = persistence.load()
    known = {o.id for o in stored} | persistence.deleted()
    built = list(build_environment(config))
    new = [o for o in built if o.id not in known]
    new_ids = {o.id for o in new}
    by_id = {o.id: o for o in stored}
    linked: list[model.Identifiable] = []
    for shell in built:
        old = by_id.get(shell.id)
        if not isinstance(shell, model.AssetAdministrationShell) or not isinstance(
            old, model.AssetAdministrationShell
        ):
            continue
        have = {ref.key[-1].value for ref in old.submodel}
        refs = [r for r in shell.submodel if r.key[-1].value in new_ids and r.key[-1].value not in have]
        for ref in refs:
            old.submodel.add(ref)
        if refs:
            linked.append(old)
    if new or linked:
        persistence.save_all([*new, *linked])
    return TwinStore([*stored, *new], on_change=persistence.on_change), persistence
