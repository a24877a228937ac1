"""The twin on the plant's PostgreSQL server (``historian.backend: postgresql``), shared by every werk process pointed
at the database: ``werk api`` replicas behind a load balancer and ``werk serve``, each holding the twin in memory.

The rows are those of the werk file (:mod:`werk.aas.backend.persistence`; tables of
:data:`werk.store.migrations.PG_AAS_MIGRATIONS`): each Identifiable as its Part 1 JSON in ``aas_object``, a
Property's value written alone (PATCH ``$value``) as a row of ``aas_value`` numbered by ``aas_sync.seq``, a tombstone
per id deleted through the API, supplementary files in ``aas_file``. What differs:

- **A change is committed in its request**, one transaction per change, before the request is answered: no
  group-commit writer process (the server does the fsync; a commit is a round trip).
- **Every process follows the others.** Every transaction moves ``aas_sync`` (``seq`` for a value, ``epoch`` for
  anything else) and sends a notification on :data:`CHANNEL`; a thread of each process listens, and reads the
  position every :data:`POLL_S` besides (a notification is lost with its connection), and notes that it moved. At
  the next first acquisition of the store's lock (:class:`werk.aas.backend.store.TwinLock`) the process applies the
  value rows past the seq it is at or, when the epoch moved, loads the twin again. A change made through one
  replica is served by the others within milliseconds, within :data:`POLL_S` when notifications are lost.
- **Structural writes are compare-and-set.** A whole object is stored (or deleted) only while ``aas_sync.epoch`` is
  the one this process's twin is at: a process that has not yet seen another's structural change would otherwise
  store an object built on the older state over it. When the epoch moved, nothing is stored, the twin is loaded
  again and the write raises :class:`~werk.errors.TwinConflict` (the API answers 409: send it again). Values written
  alone are never refused: the latest per element wins, in seq order; a submodel stored whole drops only the value
  rows this process had applied (seq up to the one it is at), so another process's later value applies on top.
- No advisory lock: several processes writing the twin is the point. :func:`werk.twin.plant.open_twin` stores what
  the plant file adds with the same compare-and-set, and looks again when another process changed the twin.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator, Sequence

import psycopg
from basyx.aas import model
from basyx.aas.adapter import aasx

from werk.aas.backend import table_writer
from werk.aas.backend.group_commit import row
from werk.aas.backend.persistence import apply_stored_value, decode_twin
from werk.aas.backend.store import TwinStore
from werk.core.model import to_micros, utcnow
from werk.errors import AasError, StoreError, TwinConflict
from werk.store.app_database import Transaction
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.migrations import PG_AAS_MIGRATIONS

log = logging.getLogger(__name__)

CHANNEL = "werk_twin"
"""The notification channel every transaction of the twin notifies (once, at its commit)."""
POLL_S = 1.0
"""How often a process reads the twin's position besides the notifications (s)."""

_POSITION = "SELECT seq, epoch FROM aas_sync WHERE id = 0"
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', '')"
_NEXT_EPOCH = "UPDATE aas_sync SET epoch = epoch + 1 WHERE id = 0 RETURNING seq, epoch"
_FILE_UPSERT = (
    "INSERT INTO aas_file (name, content_type, data, updated_ts) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
    "SET content_type = excluded.content_type, data = excluded.data, updated_ts = excluded.updated_ts"
)
_ObjectRow = table_writer.ObjectRow


class _Moved(Exception):
    """The epoch is not the one this process is at (inside a transaction: it rolls back)."""


class PostgresTwin:
    """Load and save the twin on the server at ``url``; :meth:`attach` a store to store its changes and follow the
    other processes. The surface of :class:`werk.aas.backend.persistence.TwinPersistence` that
    :func:`werk.twin.plant.open_twin` and the platform use."""

    def __init__(self, url: str) -> None:
        self.db = PostgresAppDatabase(url, "the twin")
        self.db.open()
        self.url = url
        self.path = self.db.where  # where the twin is, for messages
        try:
            self.db.migrate("aas", PG_AAS_MIGRATIONS)
        except StoreError:
            self.db.close()
            raise
        self.unapplied: list[tuple[str, str]] = []  # aas_value rows the last snapshot() could not apply
        self.at = (0, 0)  # the (seq, epoch) the attached store is at
        self._store: TwinStore | None = None
        self._heard = 0  # bumped by the listener when the position moved past where the store is
        self._checked = 0  # the _heard the store caught up to
        self._diverged = False  # a write failed: the store holds what the server does not
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.applied = 0  # other processes' values applied
        self.reloads = 0
        self.failures = 0

    @property
    def writer(self) -> None:
        """No group-commit writer: each change is committed in its request."""
        return None

    def own(self) -> None:
        """Nothing to take: every process pointed at the server shares the twin (see the module docstring)."""

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(POLL_S + 5)
            self._listener = None
        self.db.close()

    # --- reading --------------------------------------------------------------------------------------------------

    def snapshot(self) -> tuple[list[model.Identifiable], int, int]:
        """Every stored object in the order it was first saved, the values stored alone applied in seq order, and
        the seq and epoch they are at, from one snapshot. Value rows that apply nowhere are in :attr:`unapplied`."""
        with self.db.transaction() as tx:
            _snapshot_isolation(tx)
            rows = tx.query("SELECT id, json FROM aas_object ORDER BY ord")
            values = tx.query("SELECT submodel_id, path, value FROM aas_value ORDER BY seq")
            seq, epoch = tx.query(_POSITION)[0]
        out, self.unapplied = decode_twin(rows, values, self.path)
        return out, int(seq), int(epoch)

    def load(self) -> list[model.Identifiable]:
        return self.snapshot()[0]

    def count(self) -> int:
        got = self.db.query_one("SELECT count(*) FROM aas_object")
        return int(got[0]) if got else 0

    def position(self) -> tuple[int, int]:
        seq, epoch = self.db.query(_POSITION)[0]
        return int(seq), int(epoch)

    def values_since(self, seq: int) -> tuple[list[tuple[str, str, str | None, int]], int, int]:
        """The value rows (submodel id, path, value, seq) committed after ``seq``, in seq order, and the seq and
        epoch they bring the twin to."""
        with self.db.transaction() as tx:
            _snapshot_isolation(tx)
            last, epoch = tx.query(_POSITION)[0]
            rows = (
                []
                if last == seq
                else tx.query(
                    "SELECT submodel_id, path, value, seq FROM aas_value WHERE seq > ? ORDER BY seq", (seq,)
                )
            )
        return [(str(a), str(b), c, int(d)) for a, b, c, d in rows], int(last), int(epoch)

    def deleted(self) -> set[str]:
        return {str(r[0]) for r in self.db.query("SELECT id FROM aas_deleted")}

    def valued(self) -> set[str]:
        """Values stored alone stay rows here: another process may be writing them (nothing to fold in)."""
        return set()

    def load_files(self) -> aasx.DictSupplementaryFileContainer:
        files: aasx.DictSupplementaryFileContainer = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
        for name, ctype, data in self.db.query("SELECT name, content_type, data FROM aas_file ORDER BY name"):
            files.add_file(str(name), io.BytesIO(bytes(data)), str(ctype))
        return files

    # --- writing ----------------------------------------------------------------------------------------------------

    def save_all(
        self, objects: list[model.Identifiable], *, files: list[tuple[str, str, bytes]] | None = None
    ) -> None:
        """Store ``objects`` whole (their values stored alone go) and ``files``, in one transaction, whatever the
        epoch (an import: the file's objects win); the processes serving the twin load it again."""
        self._write([(o.id, row(o)) for o in objects], files or [], check=False, drop_upto=None)

    def save_new(self, objects: list[model.Identifiable], drop: list[tuple[str, str]], epoch: int) -> bool:
        """Store ``objects`` and delete the value rows ``drop`` (submodel id, path) in one transaction if the twin
        is still at ``epoch``; False (nothing stored) if another process changed its structure since."""
        try:
            self._write(
                [(o.id, row(o)) for o in objects], [], check=True, drop_upto=None, epoch=epoch, drop=drop
            )
        except _Moved:
            return False
        return True

    def on_change(self, identifier: str, obj: model.Identifiable | None) -> None:
        """The :data:`werk.aas.backend.store.OnChange` hook (caller holds the store's lock): store the object whole,
        or delete it, if the twin's structure is where this process's is; else :class:`TwinConflict`, and the
        store is loaded again."""
        self.on_changes([(identifier, obj)])

    def on_changes(self, changes: list[tuple[str, model.Identifiable | None]]) -> None:
        """The :data:`werk.aas.backend.store.OnChanges` hook: :meth:`on_change` of several, all or none."""
        rows = [(ident, None if obj is None else row(obj)) for ident, obj in changes]
        try:
            self._write(rows, [], check=True, drop_upto=self.at[0])
        except _Moved:
            self.failures += 1
            if self._store is not None:
                try:
                    self._reload()
                except (StoreError, psycopg.Error):  # the server went away meanwhile: the next check reloads
                    self._diverged = True
                    self._heard += 1
            raise TwinConflict(
                f"{self.path}: another werk process changed the twin's structure at the same moment; "
                f"{[ident for ident, _ in changes][:5]} not stored, the twin now shows the other change: send the "
                "request again"
            ) from None

    def save_value(self, submodel_id: str, path: str, value: str | None) -> None:
        """The :data:`werk.aas.backend.store.OnValue` hook: the value alone, under the next seq, committed now."""
        now = to_micros(utcnow())
        with self._committing() as tx:
            seq, epoch = tx.query("UPDATE aas_sync SET seq = seq + 1 WHERE id = 0 RETURNING seq, epoch")[0]
            tx.execute(table_writer.VALUE_UPSERT, (submodel_id, path, value, seq, now))
            tx.query(_NOTIFY)
        self._moved_to(int(seq), int(epoch))

    def save_files(self, files: list[tuple[str, str, bytes]]) -> None:
        """Store supplementary files (name, content type, bytes), durable when it returns; the other processes
        load them with the twin."""
        self._write([], files, check=False, drop_upto=None)

    def delete_files(self, names: list[str]) -> None:
        with self._committing() as tx:
            tx.executemany("DELETE FROM aas_file WHERE name = ?", [(n,) for n in names])
            seq, epoch = tx.query(_NEXT_EPOCH)[0]
            tx.query(_NOTIFY)
        self._moved_to(int(seq), int(epoch))

    def drop_values(self, keys: list[tuple[str, str]]) -> None:
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM aas_value WHERE submodel_id = ? AND path = ?", keys)

    def _write(
        self,
        changes: Sequence[tuple[str, _ObjectRow | None]],
        files: list[tuple[str, str, bytes]],
        *,
        check: bool,
        drop_upto: int | None,
        epoch: int | None = None,
        drop: Sequence[tuple[str, str]] = (),
    ) -> None:
        """One transaction of whole objects (a row to upsert, None to delete with a tombstone) and files, moving
        the epoch; ``check``: only if the epoch is ``epoch`` (this process's when None), else :class:`_Moved`.
        ``drop_upto``: the upserted objects hold the values stored alone up to that seq (None: all)."""
        now = to_micros(utcnow())
        upserts = [(ident, r) for ident, r in changes if r is not None]
        deletes = [(ident,) for ident, r in changes if r is None]
        expect = self.at[1] if epoch is None else epoch
        with self._committing() as tx:
            if check:
                got = tx.query(
                    "UPDATE aas_sync SET epoch = epoch + 1 WHERE id = 0 AND epoch = ? RETURNING seq, epoch",
                    (expect,),
                )
                if not got:
                    raise _Moved
            else:
                got = tx.query(_NEXT_EPOCH)
            if upserts:
                tx.executemany(table_writer.UPSERT, [r for _, r in upserts])
                tx.executemany(table_writer.UNDELETE, [(ident,) for ident, _ in upserts])
                if drop_upto is None:
                    tx.executemany(table_writer.DROP_VALUES, [(ident,) for ident, _ in upserts])
                else:
                    tx.executemany(
                        table_writer.DROP_VALUES_UPTO, [(ident, drop_upto) for ident, _ in upserts]
                    )
            if deletes:
                tx.executemany("DELETE FROM aas_object WHERE id = ?", deletes)
                tx.executemany(table_writer.TOMBSTONE, [(ident, now) for (ident,) in deletes])
                tx.executemany(table_writer.DROP_VALUES, deletes)
            if drop:
                tx.executemany("DELETE FROM aas_value WHERE submodel_id = ? AND path = ?", list(drop))
            if files:
                tx.executemany(_FILE_UPSERT, [(n, ct, data, now) for n, ct, data in files])
            tx.query(_NOTIFY)
        seq, new_epoch = got[0]
        self._moved_to(int(seq), int(new_epoch))

    @contextlib.contextmanager
    def _committing(self) -> Iterator[Transaction]:
        """A write transaction. If it fails (the server away), the store holds a change the server does not, which
        the caller's request reports as failed: it is loaded again at the next check that reaches the server."""
        try:
            with self.db.transaction() as tx:
                yield tx
        except StoreError:
            self._diverged = True
            self._heard += 1
            raise

    def _moved_to(self, seq: int, epoch: int) -> None:
        """This process's own commit left the twin at (seq, epoch). A value's commit (epoch unchanged) brings the
        store to its seq if it was the only commit since the store's position; a structural one to its epoch if
        no other structural commit came between (value rows of other processes since the store's seq are applied
        by the next check, this process's own among them: the same value again). Else the next check catches up."""
        at_seq, at_epoch = self.at
        if epoch == at_epoch and seq == at_seq + 1:
            self.at = (seq, epoch)
        elif epoch == at_epoch + 1:
            self.at = (at_seq, epoch)

    # --- following the other processes --------------------------------------------------------------------------

    def attach(self, store: TwinStore, *, seq: int, epoch: int) -> None:
        """Store every change made through ``store`` (at ``seq`` and ``epoch``, as :meth:`snapshot` gave them) from
        now on, committed in the change's call, and apply what other processes commit whenever its lock is first
        taken."""
        if self._store is not None:
            raise StoreError(f"{self.path}: the twin is attached to a store already")
        self._store = store
        self.at = (seq, epoch)
        store.on_change = self.on_change
        store.on_changes = self.on_changes
        store.on_value = self.save_value
        store.on_files = self.save_files
        store.on_files_removed = self.delete_files
        store.lock.on_acquire = self.check
        self._listener = threading.Thread(target=self._listen, name="werk-twin-listen", daemon=True)
        self._listener.start()

    def check(self) -> None:
        """Apply what other processes committed since the last check, if the listener heard of any (caller holds the
        store's lock). A failure to read is logged and tried again at the next acquisition: the process goes on
        serving what it has."""
        heard = self._heard
        if heard == self._checked:
            return
        try:
            self._catch_up()
        except (StoreError, psycopg.Error) as exc:
            self.failures += 1
            log.error("twin.follow.failed where=%s error=%s", self.path, exc)
            return
        self._checked = heard

    def _catch_up(self) -> None:
        store = self._store
        assert store is not None
        seq, epoch = self.at
        if self._diverged:
            self._reload()
            return
        rows, last, new_epoch = self.values_since(seq)
        if new_epoch != epoch:
            self._reload()
            return
        applied = 0
        for sm_id, path, text, _ in rows:
            try:
                apply_stored_value(store.objects.get(sm_id), path, text)
                applied += 1
            except (KeyError, ValueError, TypeError, AasError) as exc:
                log.warning("twin.follow.unapplied submodel=%s path=%s error=%s", sm_id, path, exc)
        self.at = (last, epoch)
        if applied:
            self.applied += applied
            store.value_applied()

    def _reload(self) -> None:
        """Serve the twin as stored now (caller holds the store's lock)."""
        store = self._store
        assert store is not None
        objects, seq, epoch = self.snapshot()
        files = self.load_files()
        store.reset(objects)
        store.files = files
        self.at = (seq, epoch)
        self._diverged = False
        self.reloads += 1
        log.info("twin.follow.reloaded objects=%d seq=%d epoch=%d", len(objects), seq, epoch)

    def _listen(self) -> None:
        """Note every move of the twin's position past the store's, heard or read every :data:`POLL_S`."""
        conn: psycopg.Connection[tuple[int, int]] | None = None
        last: tuple[int, int] | None = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                    conn.execute(f"LISTEN {CHANNEL}")
                    last = None  # what was sent while no connection listened is read below
                got = conn.execute(_POSITION).fetchone()
                position = (int(got[0]), int(got[1])) if got else (0, 0)
                if position != last:
                    last = position
                    if position != self.at:
                        self._heard += 1
                for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                    pass
            except psycopg.Error as exc:
                log.warning("twin.listen.failed where=%s error=%s", self.path, exc)
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(POLL_S)
        if conn is not None:
            conn.close()


def _snapshot_isolation(tx: Transaction) -> None:
    """Read the rest of the transaction from one snapshot (its first statement)."""
    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
