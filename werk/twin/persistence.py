"""The twin in werk's SQLite file: one row per Identifiable in table ``aas_object`` (migration 2).

A connection of its own to the historian's file, so the twin depends on the table, not on SQLiteHistorian's
internals; WAL mode lets both write the same file. Each object is stored as its Part 1 JSON (IDTA-01001 JSON
serialisation), written by :func:`werk.twin.io.to_jsonable`; loading decodes it with basyx's strict decoder,
without re-running the schema checks the object passed when it entered the store.

The running platform stores the API's changes through :class:`GroupCommit` (one writer thread, many changes per
transaction); :meth:`TwinPersistence.on_change` stores one change synchronously, for callers without an event loop.

A value written alone (PATCH ``$value`` of a Property) is stored alone, as a row of ``aas_value`` (migration 6), not
by writing its whole submodel again: serialising a submodel costs 0.1-2.5 ms under the store's lock, a value row a
few microseconds. :meth:`TwinPersistence.load` applies those rows on top of ``aas_object``; a submodel stored whole
(or deleted) drops its rows in the same transaction, and :func:`open_twin` folds what is left into ``aas_object``.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sqlite3
import threading
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; one werk per file is then the user's to keep
    fcntl = None  # type: ignore[assignment]

from basyx.aas import model
from basyx.aas.adapter import aasx

from werk.config.model import WerkConfig
from werk.core.model import to_micros, utcnow
from werk.errors import AasError, StoreError
from werk.store.migrations import AAS_TWIN_SQL
from werk.twin import formats
from werk.twin.environment import build_environment
from werk.twin.io import decode_identifiable, to_jsonable
from werk.twin.store import TwinStore

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS aas_object (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, json TEXT NOT NULL, updated_ts INTEGER NOT NULL)"""
#: ids deleted through the API: the plant file must not bring them back at the next start
_TOMBSTONES = "CREATE TABLE IF NOT EXISTS aas_deleted (id TEXT PRIMARY KEY, deleted_ts INTEGER NOT NULL)"
_UPSERT = (
    "INSERT INTO aas_object (id, kind, json, updated_ts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, json = excluded.json, updated_ts = excluded.updated_ts"
)
_VALUE_UPSERT = (
    "INSERT INTO aas_value (submodel_id, path, value, seq, updated_ts) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (submodel_id, path) DO UPDATE SET value = excluded.value, seq = excluded.seq, "
    "updated_ts = excluded.updated_ts"
)
_DROP_VALUES = "DELETE FROM aas_value WHERE submodel_id = ?"
_FILE_UPSERT = (
    "INSERT INTO aas_file VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "content_type = excluded.content_type, data = excluded.data, updated_ts = excluded.updated_ts"
)
ValueRow = tuple[str, str, str | None, int, int]
"""An ``aas_value`` row: submodel id, idShortPath, lexical value or None, seq, time."""


class TwinPersistence:
    """Load and save AAS objects in ``aas_object``; use :meth:`on_change` as a :class:`TwinStore` hook."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._owner: IO[str] | None = None  # the lock file while this process owns the twin (own())
        self._group: GroupCommit | None = None
        self._deleted: set[str] | None = None  # aas_deleted's ids, as far as commit() knows them
        # submodel ids with aas_value rows, as far as commit() knows them
        self._valued: set[str] | None = None
        self.unapplied: list[tuple[str, str]] = []  # aas_value rows the last load() could not apply
        try:
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_TOMBSTONES)
            self._conn.executescript(AAS_TWIN_SQL)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the twin's table: {exc}") from None

    def close(self) -> None:
        """Close the file; the changes an attached store reported are stored first."""
        if self._group is not None:
            self._group.close()
        with self._lock:
            self._conn.close()
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

    def attach(self, store: TwinStore) -> None:
        """Store every change made through ``store`` from now on, batched by a :class:`GroupCommit` writer; a writer
        of the store awaits ``store.synced()`` before it acknowledges a change."""
        with self._lock:
            last = self._conn.execute("SELECT coalesce(max(seq), 0) FROM aas_value").fetchone()[0]
        group = GroupCommit(self, store.lock, last_seq=int(last))
        self._group = group
        store.on_change = group.on_change
        store.on_value = group.on_value
        store.on_files = self.save_files
        store.sync = group.synced

    def count(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM aas_object").fetchone()
        return int(row[0])

    def load(self) -> list[model.Identifiable]:
        """Every stored object, in the order it was first saved, with the values stored alone applied in order. An
        object row that no longer decodes is an error, not a silent gap; a value row whose element is not in the
        stored submodel is logged and listed in :attr:`unapplied` (the twin still opens)."""
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot: a writer beside us may fold values in between the two
            try:
                rows = self._conn.execute("SELECT id, json FROM aas_object ORDER BY rowid").fetchall()
                values = self._conn.execute(
                    "SELECT submodel_id, path, value FROM aas_value ORDER BY seq"
                ).fetchall()
            finally:
                self._conn.execute("COMMIT")
        out: list[model.Identifiable] = []
        for ident, text in rows:
            try:
                out.append(decode_identifiable(json.loads(text), validate=False))
            except (ValueError, KeyError, TypeError, AasError) as exc:
                raise StoreError(f"{self.path}: aas_object {ident!r} cannot be decoded: {exc}") from None
        by_id = {o.id: o for o in out}
        self.unapplied = []
        for sm_id, path, text in values:
            try:
                _apply_stored_value(by_id.get(sm_id), path, text)
            except (KeyError, ValueError, TypeError) as exc:
                # the element is not in the stored submodel: its structural change could not be stored (logged
                # then as twin.store.unserialisable), so the value has nowhere to go; the twin still opens
                log.error(
                    "twin.value.unapplied submodel=%s path=%s value=%r error=%s", sm_id, path, text, exc
                )
                self.unapplied.append((str(sm_id), str(path)))
        return out

    def drop_values(self, keys: list[tuple[str, str]]) -> None:
        """Delete ``aas_value`` rows by (submodel id, path): those :meth:`load` could not apply."""
        with self._lock:
            self._valued = None
            self._conn.executemany("DELETE FROM aas_value WHERE submodel_id = ? AND path = ?", keys)

    def valued(self) -> set[str]:
        """Ids of the submodels with values stored alone (``aas_value``), which :meth:`save_all` folds in."""
        with (
            self._lock
        ):  # read afresh: another werk process may have written the file since (the cache is ours)
            return {str(r[0]) for r in self._conn.execute("SELECT DISTINCT submodel_id FROM aas_value")}

    def save_files(self, files: list[tuple[str, str, bytes]]) -> None:
        """Store supplementary files (name, content type, bytes) in one transaction, durable when it returns. Files
        are few and written only by imports: synchronously, not through the group-commit writer."""
        now = to_micros(utcnow())
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    _FILE_UPSERT, [(name, ctype, data, now) for name, ctype, data in files]
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

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
        with self._lock:  # read afresh, as valued()
            return {str(r[0]) for r in self._conn.execute("SELECT id FROM aas_deleted")}

    def save(self, obj: model.Identifiable) -> None:
        self.save_all([obj])

    def save_all(
        self, objects: list[model.Identifiable], *, files: list[tuple[str, str, bytes]] | None = None
    ) -> None:
        """Save many objects in one transaction (an import is all or nothing here too); their values stored alone
        are in them, so those rows go. ``files``: supplementary files (name, content type, bytes) to store with them."""
        rows = [_row(o) for o in objects]
        with self._lock:
            self._deleted = self._valued = None
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_UPSERT, rows)
                self._conn.executemany("DELETE FROM aas_deleted WHERE id = ?", [(r[0],) for r in rows])
                self._conn.executemany(_DROP_VALUES, [(r[0],) for r in rows])
                if files:
                    now = to_micros(utcnow())
                    self._conn.executemany(_FILE_UPSERT, [(n, ct, data, now) for n, ct, data in files])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def write(self, changes: list[tuple[str, model.Identifiable | None]]) -> None:
        """Upsert the objects and delete (with a tombstone) the ids given with ``None``, in one transaction. The
        objects must not change meanwhile."""
        self.commit(rows(changes))

    def commit(
        self,
        changes: list[tuple[str, tuple[str, str, str, int] | None]],
        values: list[ValueRow] | None = None,
    ) -> None:
        """:meth:`write` of changes serialised already by :func:`rows`, and ``values`` stored alone. A value of an
        object in ``changes`` must not be in ``values`` (the object as written holds it)."""
        upserts = [row for _, row in changes if row is not None]
        now = to_micros(utcnow())
        deletes = [ident for ident, row in changes if row is None]
        values = values or []
        # Each call into SQLite gives up the GIL and waits to get it back from the busy event loop, which is most of
        # a small batch's time: statements without rows are not run, and a batch of one statement (several PATCHes
        # of one value, or of one submodel) is its own transaction (autocommit; durable when it returns).
        with self._lock:
            tombstones = self._tombstones()
            valued = self._valued_ids()
            whole = [r[0] for r in upserts] + deletes
            cleared = [(i,) for i in whole if i in valued]
            if (
                not values
                and not deletes
                and len(upserts) == 1
                and upserts[0][0] not in tombstones
                and not cleared
            ):
                self._conn.execute(_UPSERT, upserts[0])
                return
            if not changes and len(values) == 1:
                self._conn.execute(_VALUE_UPSERT, values[0])
                valued.add(values[0][0])
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if upserts:
                    self._conn.executemany(_UPSERT, upserts)
                    revived = [(r[0],) for r in upserts if r[0] in tombstones]
                    if revived:
                        self._conn.executemany("DELETE FROM aas_deleted WHERE id = ?", revived)
                if deletes:
                    self._conn.executemany("DELETE FROM aas_object WHERE id = ?", [(i,) for i in deletes])
                    self._conn.executemany(
                        "INSERT INTO aas_deleted VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                        [(i, now) for i in deletes],
                    )
                if cleared:
                    self._conn.executemany(_DROP_VALUES, cleared)
                if values:
                    self._conn.executemany(_VALUE_UPSERT, values)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._deleted = self._valued = None  # read again: the transaction did not happen
                raise
            tombstones.difference_update(r[0] for r in upserts)
            tombstones.update(deletes)
            valued.difference_update(whole)
            valued.update(v[0] for v in values)

    def _tombstones(self) -> set[str]:
        """The ids in ``aas_deleted``, read once, then kept by :meth:`commit` (caller holds ``_lock``)."""
        if self._deleted is None:
            self._deleted = {str(r[0]) for r in self._conn.execute("SELECT id FROM aas_deleted")}
        return self._deleted

    def _valued_ids(self) -> set[str]:
        """The submodel ids in ``aas_value``, read once, then kept by :meth:`commit` (caller holds ``_lock``)."""
        if self._valued is None:
            self._valued = {
                str(r[0]) for r in self._conn.execute("SELECT DISTINCT submodel_id FROM aas_value")
            }
        return self._valued

    def delete(self, identifier: str) -> None:
        with self._lock:
            self._deleted = self._valued = None
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM aas_object WHERE id = ?", (identifier,))
                self._conn.execute(_DROP_VALUES, (identifier,))
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


def rows(
    changes: list[tuple[str, model.Identifiable | None]],
) -> list[tuple[str, tuple[str, str, str, int] | None]]:
    """Changes as ``aas_object`` rows (id, kind, JSON, time), ``None`` for a deletion."""
    return [(ident, None if o is None else _row(o)) for ident, o in changes]


def _row(obj: model.Identifiable) -> tuple[str, str, str, int]:
    return obj.id, type(obj).__name__, json.dumps(to_jsonable(obj), ensure_ascii=False), to_micros(utcnow())


def _apply_stored_value(sm: model.Identifiable | None, path: str, text: str | None) -> None:
    if not isinstance(sm, model.Submodel):
        raise KeyError("no such submodel is stored")
    el = formats.resolve(sm, path)
    if not isinstance(el, model.Property):
        raise TypeError(f"{type(el).__name__} is not a Property")
    el.value = None if text is None else model.datatypes.from_xsd(text, el.value_type)


_Waiter = tuple[int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class GroupCommit:
    """A store's changes written by one thread, as many per transaction as came in meanwhile.

    Why: storing each change inside its request, under the store's lock, serialised the whole Identifiable with
    basyx's encoder (0.1-2.5 ms for a submodel) and waited for SQLite's commit (an fsync of the WAL) while every
    other request of the twin waited for the lock. Here a change only marks its object dirty. The writer serialises
    each dirty object once, under the store's lock (ten PATCHes of one submodel cost one serialisation), and commits
    the batch in one transaction (one fsync). A value written alone (:meth:`on_value`) is stored as that value, the
    latest per element, without the store's lock or basyx's encoder.

    Durability is what it was: a request awaits :meth:`synced` before it answers, and that returns once a
    transaction holding the object as it was at or after the change has committed, or raises
    :class:`~werk.errors.StoreError` if that transaction failed. Order: batches commit one after another and each
    holds its objects' latest state, so the file never goes back to an older state of an object. A failed batch is
    retried with the next (after :attr:`RETRY_S`), so a change whose request failed is still stored once the disk
    takes writes again, as long as the process lives.
    """

    RETRY_S = 1.0

    def __init__(
        self, persistence: TwinPersistence, lock: AbstractContextManager[Any], *, last_seq: int = 0
    ) -> None:
        self._persistence = persistence
        self._objects_lock = lock  # the store's: objects change in place under it
        self._cond = threading.Condition()
        self._dirty: dict[str, model.Identifiable | None] = {}
        self._values: dict[tuple[str, str], tuple[str | None, int]] = {}  # (submodel, path): (value, seq)
        # changes reported, numbered on from the file's last value seq (so values keep their order across starts)
        self._reported = last_seq
        self._stored = last_seq  # every change numbered up to this one is committed
        self._waiters: list[_Waiter] = []
        self._closing = False
        self._idle = False  # the writer waits for changes: only then does a change wake it
        self._thread = threading.Thread(target=self._run, name="werk-twin-writer", daemon=True)
        self._thread.start()

    def on_change(self, identifier: str, obj: model.Identifiable | None) -> None:
        """The :data:`werk.twin.store.OnChange` hook: note the change; the writer stores it."""
        with self._cond:
            if self._closing:
                raise StoreError("the twin's writer is closed; the change is not stored")
            self._dirty[identifier] = obj
            self._reported += 1
            if self._idle:
                self._cond.notify()

    def on_value(self, submodel_id: str, path: str, value: str | None) -> None:
        """The :data:`werk.twin.store.OnValue` hook: note the value; the writer stores it."""
        with self._cond:
            if self._closing:
                raise StoreError("the twin's writer is closed; the change is not stored")
            self._reported += 1
            self._values[(submodel_id, path)] = (value, self._reported)
            if self._idle:
                self._cond.notify()

    async def synced(self) -> None:
        """The :data:`werk.twin.store.Sync` of the store: wait until every change reported so far is committed."""
        loop = asyncio.get_running_loop()
        with self._cond:
            target = self._reported
            if self._stored >= target:
                return
            done: asyncio.Future[None] = loop.create_future()
            self._waiters.append((target, loop, done))
        await done

    def close(self) -> None:
        """Store what is pending, then stop the writer. Not while holding the store's lock (the writer needs it)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._values and not self._closing:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if not self._dirty and not self._values:
                    return
                batch, self._dirty = self._dirty, {}
                values, self._values = self._values, {}
                upto = self._reported
            serialised: list[tuple[str, tuple[str, str, str, int] | None]] = []
            refused: list[str] = []
            if batch:
                with self._objects_lock:  # only while reading the objects: readers wait for it
                    for ident, obj in batch.items():
                        try:
                            serialised += rows([(ident, obj)])
                        except Exception:  # basyx cannot write it: retrying would fail every later batch too
                            log.exception("twin.store.unserialisable id=%s", ident)
                            refused.append(ident)
            now = to_micros(utcnow())
            # an object written whole holds its values as they are now, newer than or equal to those noted
            value_rows = [
                (sm_id, path, value, seq, now)
                for (sm_id, path), (value, seq) in values.items()
                if sm_id not in batch or sm_id in refused
            ]
            try:
                self._persistence.commit(serialised, value_rows)
            except Exception as exc:  # a full disk, a locked file: the requests waiting for this batch fail
                log.exception("twin.store.failed objects=%d values=%d", len(batch), len(value_rows))
                error = StoreError(f"the twin's change could not be stored: {exc}")
                with self._cond:
                    for ident, obj in batch.items():
                        if ident not in refused:
                            self._dirty.setdefault(ident, obj)  # a newer change of the same object wins
                    for key, noted in values.items():
                        self._values.setdefault(key, noted)
                    failed = self._take_waiters(upto)
                    closing = self._closing
                self._wake(failed, error)
                if closing:
                    log.error(
                        "twin.store.dropped objects=%d values=%d (closing)",
                        len(self._dirty),
                        len(self._values),
                    )
                    return
                with self._cond:
                    self._cond.wait(self.RETRY_S)
                continue
            with self._cond:
                self._stored = upto
                finished = self._take_waiters(upto)
            # a waiter cannot tell whose change was refused: all of the batch's hear of it (none is told "stored"
            # of a change that is not)
            self._wake(finished, StoreError(f"cannot serialise {refused} to store them") if refused else None)

    def _take_waiters(self, upto: int) -> list[_Waiter]:
        """Remove and return the waiters whose changes are all numbered up to ``upto`` (caller holds _cond)."""
        taken = [w for w in self._waiters if w[0] <= upto]
        self._waiters = [w for w in self._waiters if w[0] > upto]
        return taken

    @staticmethod
    def _wake(waiters: list[_Waiter], error: BaseException | None) -> None:
        """Settle the waiters' futures, with one call into each event loop (a wake-up of the loop is a syscall,
        and a batch can hold a hundred waiters)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, done in waiters:
            by_loop.setdefault(loop, []).append(done)
        for loop, futures in by_loop.items():
            with suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in futures:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def open_twin(config: WerkConfig, *, read_only: bool = False) -> tuple[TwinStore, TwinPersistence]:
    """The twin for a plant file, kept in the historian's SQLite file.

    What is stored wins: edits made through the API survive a restart. Shells and submodels that are new (assets
    added to the plant file, or a submodel template a newer werk adds) are built and saved, and a stored shell gets
    a reference to each new submodel of its own; what was deleted through the API stays deleted, and nothing stored
    is deleted because the plant file no longer names it (delete it through the API). Values stored alone since the
    last start are folded into their submodels' rows; the supplementary files imported are loaded. Close the returned
    persistence at shutdown.

    Only one process opens a twin to write (:meth:`TwinPersistence.own`; ``StoreError`` otherwise). ``read_only``:
    the same twin, built and linked in memory only; no objects are written and no writer is attached, so it may be
    read beside a running werk (``werk aas export``).
    """
    persistence = TwinPersistence(config.historian.path)
    if not read_only:
        try:
            persistence.own()
        except StoreError:
            persistence.close()
            raise
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
    store = TwinStore([*stored, *new])
    store.files = persistence.load_files()
    if read_only:
        return store, persistence
    valued = persistence.valued()  # values stored alone, applied by load(): fold them into their submodels
    linked_ids = {o.id for o in linked}
    folded = [o for o in stored if o.id in valued and o.id not in linked_ids]
    if new or linked or folded:
        persistence.save_all([*new, *linked, *folded])
    if persistence.unapplied:
        persistence.drop_values(
            persistence.unapplied
        )  # logged by load(); they cannot apply at any later start
    persistence.attach(store)
    return store, persistence
