"""The twin in werk's SQLite file: one row per Identifiable in table ``aas_object`` (migration 2).

A connection of its own to the historian's file, so the twin depends on the table, not on SQLiteHistorian's
internals; WAL mode lets both write the same file. Each object is stored as its Part 1 JSON (IDTA-01001 JSON
serialisation), written by :func:`werk.aas.adapter.io.to_jsonable`; loading decodes it with basyx's strict decoder,
without re-running the schema checks the object passed when it entered the store.

The running platform stores the API's changes through :class:`GroupCommit` (a writer process, many changes per
transaction); :meth:`TwinPersistence.on_change` stores one change synchronously, for callers without an event loop.
Rows are written by :mod:`werk.aas.backend.table_writer`, in this process and in the writer process alike.

A value written alone (PATCH ``$value`` of a Property) is stored alone, as a row of ``aas_value`` (migration 6), not
by writing its whole submodel again: serialising a submodel costs 0.1-2.5 ms under the store's lock, a value row a
few microseconds. :meth:`TwinPersistence.load` applies those rows on top of ``aas_object``; a submodel stored whole
(or deleted) drops its rows in the same transaction, and :func:`werk.twin.plant.open_twin` folds what is left into ``aas_object``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; one werk per file is then the user's to keep
    fcntl = None  # type: ignore[assignment]

from basyx.aas import model
from basyx.aas.adapter import aasx

from werk.aas.adapter.io import decode_identifiable
from werk.aas.backend import table_writer
from werk.aas.backend.group_commit import BUSY_TIMEOUT_S, GroupCommit, row, rows
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.core.model import to_micros, utcnow
from werk.errors import AasError, StoreError
from werk.store.migrations import AAS_MIGRATIONS
from werk.store.sqlite_file import apply_migrations

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

ValueRow = table_writer.ValueRow

_POSITION = "SELECT seq, epoch FROM aas_sync WHERE id = 0"
_FILE_UPSERT = (
    "INSERT INTO aas_file VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "content_type = excluded.content_type, data = excluded.data, updated_ts = excluded.updated_ts"
)


class TwinPersistence:
    """Load and save AAS objects in ``aas_object``; use :meth:`on_change` as a :class:`TwinStore` hook."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._owner: IO[str] | None = None  # the lock file while this process owns the twin (own())
        self._group: GroupCommit | None = None
        self.unapplied: list[tuple[str, str]] = []  # aas_value rows the last load() could not apply
        try:
            self._conn = table_writer.connect(str(self.path), busy_timeout_s)
            self._conn.execute(table_writer.OBJECT_SCHEMA)
            self._conn.execute(table_writer.TOMBSTONE_SCHEMA)
            apply_migrations(self._conn, "aas", AAS_MIGRATIONS, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the twin's table: {exc}") from None
        self.commits = table_writer.Commits(str(self.path))

    def close(self) -> None:
        """Close the file; the changes an attached store reported are stored first."""
        if self._group is not None:
            self._group.close()
        with self._lock:
            self._conn.close()
        self.commits.close()
        if self._owner is not None:
            self._owner.close()  # releases the lock
            self._owner = None

    def own(self) -> None:
        """Take the twin for this process until :meth:`close`: a second werk on the same file (``werk serve`` twice,
        or ``werk aas import`` beside a running one) would overwrite its changes. ``StoreError`` if another holds it.
        An advisory lock (``flock``) on a file beside the database, so it ends with the process however it ends."""
        if str(self.path) == ":memory:" or fcntl is None or self._owner is not None:
            return
        lock_path = Path(str(self.path) + "-twin.lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(
                f"{self.path}: the twin is open in another werk process (pid {holder}); stop it first, or import "
                "through its API (POST /api/v3.0/werk/import)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._owner = handle

    def attach(
        self, store: TwinStore, *, share: socket.socket | None = None, connect: str | None = None
    ) -> None:
        """Store every change made through ``store`` from now on, batched by a :class:`GroupCommit` writer; a writer
        of the store awaits ``store.synced()`` before it acknowledges a change."""
        if self._group is not None:
            raise StoreError(f"{self.path}: the twin is attached to a store already")
        store.on_files = self.save_files
        store.on_files_removed = self.delete_files
        # in memory no other process reaches it, and nothing of it is kept: store at once
        if str(self.path) == ":memory:":
            store.on_change = self.on_change
            store.on_value = self.save_value
            return
        group = GroupCommit(
            self, store.lock, busy_timeout_s=self.busy_timeout_s, share=share, connect=connect
        )
        self._group = group
        store.on_change = group.on_change
        store.on_value = group.on_value
        store.sync = group.synced

    @property
    def writer(self) -> GroupCommit | None:
        """The group-commit writer of the attached store, if one is attached."""
        return self._group

    def count(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM aas_object").fetchone()
        return int(row[0])

    def load(self) -> list[model.Identifiable]:
        """Every stored object, in the order it was first saved, with the values stored alone applied in order. An
        object row that no longer decodes is an error, not a silent gap; a value row whose element is not in the
        stored submodel is logged and listed in :attr:`unapplied` (the twin still opens)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[list[model.Identifiable], int, int]:
        """:meth:`load`, with the ``aas_sync`` seq and epoch (migration 7) the objects are at."""
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot: a writer beside us may fold values in between the two
            try:
                rows = self._conn.execute("SELECT id, json FROM aas_object ORDER BY rowid").fetchall()
                values = self._conn.execute(
                    "SELECT submodel_id, path, value FROM aas_value ORDER BY seq"
                ).fetchall()
                seq, epoch = self._conn.execute(_POSITION).fetchone()
            finally:
                self._conn.execute("COMMIT")
        out, self.unapplied = decode_twin(rows, values, str(self.path))
        return out, int(seq), int(epoch)

    def position(self) -> tuple[int, int]:
        """The ``aas_sync`` seq and epoch the file is at."""
        with self._lock:
            seq, epoch = self._conn.execute(_POSITION).fetchone()
        return int(seq), int(epoch)

    def values_since(self, seq: int) -> tuple[list[tuple[str, str, str | None, int]], int, int]:
        """The value rows (submodel id, path, value, seq) committed after ``seq``, in seq order (one per element,
        its latest), and the seq and epoch they bring the twin to."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                last, epoch = self._conn.execute(_POSITION).fetchone()
                rows = (
                    []
                    if last == seq
                    else self._conn.execute(
                        "SELECT submodel_id, path, value, seq FROM aas_value WHERE seq > ? ORDER BY seq",
                        (seq,),
                    ).fetchall()
                )
            finally:
                self._conn.execute("COMMIT")
        return rows, int(last), int(epoch)

    def drop_values(self, keys: list[tuple[str, str]]) -> None:
        """Delete ``aas_value`` rows by (submodel id, path): those :meth:`load` could not apply."""
        with self._lock, table_writer.transaction(self._conn, self.commits) as conn:
            conn.executemany("DELETE FROM aas_value WHERE submodel_id = ? AND path = ?", keys)

    def valued(self) -> set[str]:
        """Ids of the submodels with values stored alone (``aas_value``), which :meth:`save_all` folds in."""
        with self._lock:
            return {str(r[0]) for r in self._conn.execute("SELECT DISTINCT submodel_id FROM aas_value")}

    def save_files(self, files: list[tuple[str, str, bytes]]) -> None:
        """Store supplementary files (name, content type, bytes) in one transaction, durable when it returns. Files
        are few and written by imports and attachment uploads: synchronously, not through the group-commit writer."""
        now = to_micros(utcnow())
        with self._lock, table_writer.transaction(self._conn, self.commits) as conn:
            conn.executemany(_FILE_UPSERT, [(name, ctype, data, now) for name, ctype, data in files])

    def delete_files(self, names: list[str]) -> None:
        """Remove supplementary files no object points at any more (:data:`werk.aas.backend.store.OnFilesRemoved`), durable
        when it returns."""
        with self._lock, table_writer.transaction(self._conn, self.commits) as conn:
            conn.executemany("DELETE FROM aas_file WHERE name = ?", [(n,) for n in names])

    def load_files(self) -> aasx.DictSupplementaryFileContainer:
        """Every stored supplementary file."""
        files: aasx.DictSupplementaryFileContainer = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, content_type, data FROM aas_file ORDER BY name"
            ).fetchall()
        for name, ctype, data in rows:
            files.add_file(str(name), io.BytesIO(bytes(data)), str(ctype))
        return files

    def deleted(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._conn.execute("SELECT id FROM aas_deleted")}

    def save(self, obj: model.Identifiable) -> None:
        self.save_all([obj])

    def save_all(
        self, objects: list[model.Identifiable], *, files: list[tuple[str, str, bytes]] | None = None
    ) -> None:
        """Save many objects in one transaction (an import is all or nothing here too); their values stored alone
        are in them, so those rows go. ``files``: supplementary files (name, content type, bytes) to store with them."""
        rows = [row(o) for o in objects]
        with self._lock, table_writer.transaction(self._conn, self.commits) as conn:
            conn.executemany(table_writer.UPSERT, rows)
            conn.executemany(table_writer.UNDELETE, [(r[0],) for r in rows])
            conn.executemany(table_writer.DROP_VALUES, [(r[0],) for r in rows])
            conn.execute(table_writer.NEXT_EPOCH)
            if files:
                now = to_micros(utcnow())
                conn.executemany(_FILE_UPSERT, [(n, ct, data, now) for n, ct, data in files])

    def write(self, changes: list[tuple[str, model.Identifiable | None]]) -> None:
        """Upsert the objects and delete (with a tombstone) the ids given with ``None``, in one transaction. The
        objects must not change meanwhile."""
        self.commit(rows(changes))

    def commit(self, changes: table_writer.Changes, values: list[ValueRow] | None = None) -> None:
        """:meth:`write` of changes serialised already by :func:`rows`, and ``values`` stored alone, in one
        transaction (:meth:`werk.aas.backend.table_writer.TwinTables.commit`)."""
        with self._lock:
            table_writer.TwinTables(self._conn, self.commits).commit(
                changes, values or [], to_micros(utcnow())
            )

    def delete(self, identifier: str) -> None:
        self.commit([(identifier, None)])

    def save_value(self, submodel_id: str, path: str, value: str | None) -> None:
        """The :data:`werk.aas.backend.store.OnValue` hook, storing the value at once."""
        self.commit([], [(submodel_id, path, value, 0, to_micros(utcnow()))])  # numbered by the commit

    def on_change(self, identifier: str, obj: model.Identifiable | None) -> None:
        """The :data:`werk.aas.backend.store.OnChange` hook: upsert a changed object, delete a removed one."""
        if obj is None:
            self.delete(identifier)
        else:
            self.save(obj)


def decode_twin(
    rows: Iterable[tuple[str, str]], values: Iterable[tuple[str, str, str | None]], where: str
) -> tuple[list[model.Identifiable], list[tuple[str, str]]]:
    """The objects of ``aas_object`` rows (id, JSON), with the ``aas_value`` rows (submodel id, path, value) applied
    in the order given, and the (submodel id, path) of the value rows that apply nowhere (logged). A row that does
    not decode is a :class:`~werk.errors.StoreError` naming it and ``where``."""
    out: list[model.Identifiable] = []
    for ident, text in rows:
        try:
            out.append(decode_identifiable(json.loads(text), validate=False))
        except (ValueError, KeyError, TypeError, AasError) as exc:
            raise StoreError(f"{where}: aas_object {ident!r} cannot be decoded: {exc}") from None
    by_id = {o.id: o for o in out}
    unapplied: list[tuple[str, str]] = []
    for sm_id, path, value in values:
        try:
            apply_stored_value(by_id.get(sm_id), path, value)
        except (KeyError, ValueError, TypeError) as exc:
            # the element is not in the stored submodel: its structural change could not be stored (logged
            # then as twin.store.unserialisable), so the value has nowhere to go; the twin still opens
            log.error("twin.value.unapplied submodel=%s path=%s value=%r error=%s", sm_id, path, value, exc)
            unapplied.append((str(sm_id), str(path)))
    return out, unapplied


def apply_stored_value(sm: model.Identifiable | None, path: str, text: str | None) -> None:
    if not isinstance(sm, model.Submodel):
        raise KeyError("no such submodel is stored")
    el = formats.resolve(sm, path)
    if not isinstance(el, model.Property):
        raise TypeError(f"{type(el).__name__} is not a Property")
    el.value = None if text is None else model.datatypes.from_xsd(text, el.value_type)
