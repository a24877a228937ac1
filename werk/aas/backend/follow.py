"""One process's twin kept level with what the other werk processes serving it commit to the same SQLite file.

Why: ``werk serve`` with ``server.workers`` > 1 answers the AAS API from several processes (one core each can
reach where one process cannot, BENCHMARKS.md), and each holds the twin in memory. The file is the one truth: a
change is acknowledged only once committed there, so a process that sees every commit before it reads or writes
serves nothing older than the last acknowledged write, whichever process took it. Every reader and writer of a
:class:`~werk.aas.backend.store.TwinStore` takes its lock, and the first acquisition calls :meth:`TwinFollower.check`:

- A counter every writer of the twin bumps after its commit (:class:`werk.aas.backend.table_writer.Commits`, a file
  each process maps) says whether anything was committed since the last look; if nothing was, that is all.
- Values written alone (PATCH ``$value``, the busiest write) are rows of ``aas_value`` numbered by ``aas_sync.seq``
  in commit order (migration 7); the rows past the last seq applied are applied in that order. A value this
  process noted and has not yet committed is kept over them: it will commit after them.
- Whole objects are written by one process only, the primary (the others hand such writes to it), so its twin is
  always level on structure. A worker reloads the twin when ``aas_sync.epoch`` moved (a structural change, rare),
  keeping its own uncommitted values on top.
- The primary stores a whole submodel with the values it had applied (seq ``drop_upto``); value rows committed by
  a worker after that stay and apply on top, so a value write is never lost to a concurrent structural write.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable

from werk.aas.backend.persistence import TwinPersistence, apply_stored_value
from werk.aas.backend.store import TwinStore
from werk.errors import AasError, StoreError

log = logging.getLogger(__name__)

Pending = Callable[[], dict[tuple[str, str], str | None]]
"""Values this process noted and has not committed yet, by (submodel id, path), in their lexical form."""


class TwinFollower:
    """Applies to ``store`` what other processes committed to ``persistence``'s file, whenever its lock is taken.

    ``writes_structure``: this process is the one that writes whole objects (the primary): it never reloads.
    ``seq`` and ``epoch`` are those of ``aas_sync`` the store is at (as :meth:`TwinPersistence.snapshot` gave them,
    or read now when the store was loaded with nothing committed since)."""

    def __init__(
        self,
        persistence: TwinPersistence,
        store: TwinStore,
        *,
        writes_structure: bool,
        pending: Pending = dict,
        seq: int | None = None,
        epoch: int | None = None,
    ) -> None:
        self.persistence = persistence
        self.store = store
        self.writes_structure = writes_structure
        self.pending = pending
        self._version = -1  # the first check reads: a commit may have come between the load and now
        if seq is None or epoch is None:
            seq, epoch = persistence.position()
        self.seq = seq
        self.epoch = epoch
        self.applied = 0  # values of other commits applied
        self.reloads = 0
        self.failures = 0

    def install(self) -> None:
        """Check on every first acquisition of the store's lock from now on."""
        self.store.lock.on_acquire = self.check

    def check(self) -> None:
        """Apply what was committed since the last check (caller holds the store's lock). A failure to read is
        logged and tried again at the next acquisition: the process goes on serving what it has."""
        commits = self.persistence.commits
        version = commits.value()
        if version == self._version:
            return
        if commits.only_mine(self._version, version):  # its values are in memory already, or newer ones
            # and nobody else's rows lie between: a submodel this process stores whole holds every value up to here
            self.seq = max(self.seq, commits.my_last_seq())
            self._version = version
            commits.forget(version, self.seq)
            return
        try:
            self._catch_up()
        except (sqlite3.Error, StoreError) as exc:
            self.failures += 1
            log.error("twin.follow.failed file=%s error=%s", self.persistence.path, exc)
            return
        self._version = version
        commits.forget(version, self.seq)

    def _catch_up(self) -> None:
        rows, seq, epoch = self.persistence.values_since(self.seq)
        if epoch != self.epoch and not self.writes_structure:
            self._reload()
            return
        self.epoch = epoch
        if not rows:
            self.seq = seq
            return
        pending = self.pending()
        objects = self.store.objects
        mine = self.persistence.commits.is_my_seq
        applied = 0
        for sm_id, path, text, row_seq in rows:
            # one row per element, its latest: this process's own (in memory since its request), or one this process
            # will commit after it (newer): nothing to apply
            if (sm_id, path) in pending or mine(row_seq):
                continue
            try:
                apply_stored_value(objects.get(sm_id), path, text)
                applied += 1
            except (KeyError, ValueError, TypeError, AasError) as exc:
                # its element is gone here (deleted by the primary meanwhile); the row applies nowhere, as at a load
                log.warning("twin.follow.unapplied submodel=%s path=%s error=%s", sm_id, path, exc)
        self.seq = seq
        if applied:
            self.applied += applied
            self.store.value_applied()

    def _reload(self) -> None:
        objects, seq, epoch = self.persistence.snapshot()
        self.store.reset(objects)
        by_id = {o.id: o for o in objects}
        for (sm_id, path), text in self.pending().items():
            # its element gone, the row this process commits will not apply either, anywhere
            with contextlib.suppress(KeyError, ValueError, TypeError, AasError):
                apply_stored_value(by_id.get(sm_id), path, text)
        self.seq, self.epoch = seq, epoch
        self.reloads += 1
        log.info("twin.follow.reloaded objects=%d seq=%d epoch=%d", len(objects), seq, epoch)


def follow(
    persistence: TwinPersistence,
    store: TwinStore,
    *,
    writes_structure: bool,
    seq: int | None = None,
    epoch: int | None = None,
) -> TwinFollower:
    """Have ``store``, attached to ``persistence``, follow the other processes' commits from now on: checked at every
    first acquisition of its lock, keeping the values its writer has not committed yet, and known to that writer,
    which stores whole objects with the seq their values are at (``drop_upto``)."""
    group = persistence.writer
    if group is None:
        raise StoreError(f"{persistence.path}: attach the store before it follows other processes")
    follower = TwinFollower(
        persistence,
        store,
        writes_structure=writes_structure,
        pending=group.pending_values,
        seq=seq,
        epoch=epoch,
    )
    follower.install()
    group.follower = follower
    return follower
