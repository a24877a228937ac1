"""The twin's group commit: changes written by a process of their own, many per transaction, acknowledged when
durable (see :class:`GroupCommit`). The rows are those of :mod:`werk.aas.backend.table_writer`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from basyx.aas import model

from werk.aas.adapter.io import to_jsonable
from werk.aas.backend import table_writer
from werk.core.model import to_micros, utcnow
from werk.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no pipe sizes to set
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from werk.aas.backend.follow import TwinFollower
    from werk.aas.backend.persistence import TwinPersistence

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another writer of the file (the historian shares it) before it fails."""


def rows(changes: list[tuple[str, model.Identifiable | None]]) -> table_writer.Changes:
    """Changes as ``aas_object`` rows (id, kind, JSON, time), ``None`` for a deletion."""
    return [(ident, None if o is None else row(o)) for ident, o in changes]


def row(obj: model.Identifiable) -> table_writer.ObjectRow:
    return obj.id, type(obj).__name__, json.dumps(to_jsonable(obj), ensure_ascii=False), to_micros(utcnow())


_Waiter = tuple[int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


@dataclass
class _Batch:
    """What one transaction of the writer process holds, kept until it answers (to retry it if it fails)."""

    upto: int  # every change numbered up to this one is in it
    objects: dict[str, model.Identifiable | None]
    values: dict[tuple[str, str], tuple[str | None, int]]
    refused: list[str]  # ids whose objects basyx could not serialise: not in the transaction, not retried
    sent: float = field(default_factory=time.monotonic)


class GroupCommit:
    """A store's changes written by a process of their own, as many per transaction as came in meanwhile.

    Why: storing each change inside its request, under the store's lock, serialised the whole Identifiable with
    basyx's encoder (0.1-2.5 ms for a submodel) and waited for SQLite's commit (an fsync of the WAL) while every
    other request of the twin waited for the lock. Here a change only marks its object dirty (or notes a value). On
    the event loop, once per turn and while no transaction is under way, the dirty objects are serialised once
    each, under the store's lock (ten PATCHes of one submodel cost one serialisation), and the batch goes to the
    writer process (:mod:`werk.aas.backend.table_writer`, which says why a process and not a thread), which commits it in
    one transaction (one fsync) and answers on a pipe the event loop watches. What comes in meanwhile is the next
    batch: one batch is under way at a time. A value written alone (:meth:`on_value`) is stored as that value, the
    latest per element, without basyx's encoder.

    Durability is what it was: a request awaits :meth:`synced` before it answers, and that returns once a
    transaction holding the object as it was at or after the change has committed, or raises
    :class:`~werk.errors.StoreError` if that transaction failed. Order: one transaction at a time, each holding its
    objects' latest state, so the file never goes back to an older state of an object. A failed batch is retried
    with the next (after :attr:`RETRY_S`), so a change whose request failed is still stored once the disk takes
    writes again, as long as werk lives. If the writer process ends (killed, out of memory) or does not answer
    within the busy timeout and :attr:`HANG_S` (it is then killed), its batch fails the same way, and a new process
    is started when there is something to store, waiting longer after each failure to start one (up to
    :attr:`RESPAWN_MAX_S`).

    The event loop is the one that first awaits :meth:`synced` or reports a change. A change reported where there
    is no loop yet (a script, a test) is stored before the call that reported it returns, unless a loop takes over
    meanwhile (it stores it then, and :meth:`synced` says so). Where the loop cannot watch a pipe (Windows), a
    thread reads the answers. :meth:`close` stores what is pending, from any thread.
    """

    RETRY_S = 1.0
    RESPAWN_MAX_S = 30.0
    HANG_S = 30.0
    CLOSE_TIMEOUT_S = 60.0

    def __init__(
        self,
        persistence: TwinPersistence,
        lock: AbstractContextManager[Any],
        *,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        share: socket.socket | None = None,
        connect: str | None = None,
    ) -> None:
        # a listening Unix socket on which the writer process takes other processes' batches too (server.workers)
        self._share = share
        self._connect = connect  # where to reach another process's writer, instead of starting one
        self._path = str(persistence.path)
        self._commits = persistence.commits
        self._busy_timeout_s = busy_timeout_s
        self._objects_lock = lock  # the store's: objects change in place under it
        self._mutex = threading.Condition()  # guards what follows; notified when a batch is answered
        self._alone = threading.Lock()  # held by a thread that reads the answers itself (no loop does)
        self._dirty: dict[str, model.Identifiable | None] = {}
        # (submodel, path): (value, number of the change); the commit stores a batch's values in that order
        self._values: dict[tuple[str, str], tuple[str | None, int]] = {}
        self._reported = 0  # changes reported, numbered from 1 (aas_value's seq is the commit's, aas_sync)
        self._stored = 0  # every change numbered up to this one is committed
        self._waiters: list[_Waiter] = []
        self._batch: _Batch | None = None  # sent to the writer process, not yet answered
        self._last_error: str | None = None  # of the last batch answered
        self._last_refused: list[str] = []  # of the last batch answered
        self._resume_at = 0.0  # after a failure, no batch before this (time.monotonic())
        self._respawn_s = self.RETRY_S  # the wait after the next failure to start or keep a writer process
        self._scheduled = False  # a flush is due on the loop
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._watching: asyncio.AbstractEventLoop | None = None  # the loop reading the answers, if one does
        self._reader: threading.Thread | None = None  # the thread reading the answers, if one does...
        self._reader_for: subprocess.Popen[bytes] | None = None  # ...of this process
        self._watchdog = False  # a check for a batch answered too late is due on the loop
        self._proc: subprocess.Popen[bytes] | None = None
        self._frames = table_writer.FrameReader()
        self._capacity = 4096  # bytes the pipe to the process takes without blocking (PIPE_BUF at least)
        self.batches = 0  # transactions committed
        self.failures = 0  # batches that failed, the writer process's end or silence included
        # where other processes write the twin too: what they committed, applied whenever the store's lock is taken
        self.follower: TwinFollower | None = None
        if not self._spawn():  # at once: a plant whose writer cannot start fails at its start, not at a write
            raise StoreError(f"cannot start the twin's writer process: {self._last_error}")

    # --- the hooks -------------------------------------------------------------------------------------------------

    def on_change(self, identifier: str, obj: model.Identifiable | None) -> None:
        """The :data:`werk.aas.backend.store.OnChange` hook: note the change; the next batch stores it."""
        with self._mutex:
            if self._closing:
                raise StoreError("the twin's writer is closed; the change is not stored")
            self._dirty[identifier] = obj
            self._reported += 1
        self._schedule()

    def on_value(self, submodel_id: str, path: str, value: str | None) -> None:
        """The :data:`werk.aas.backend.store.OnValue` hook: note the value; the next batch stores it."""
        with self._mutex:
            if self._closing:
                raise StoreError("the twin's writer is closed; the change is not stored")
            self._reported += 1
            self._values[(submodel_id, path)] = (value, self._reported)
        self._schedule()

    def pending_values(self) -> dict[tuple[str, str], str | None]:
        """Values noted and not yet committed, by (submodel id, path): they will be committed after anything already
        is, so a :class:`~werk.aas.backend.follow.TwinFollower` keeps them over what other processes committed before."""
        with self._mutex:
            batch = self._batch
            pending = {} if batch is None else {key: value for key, (value, _) in batch.values.items()}
            pending.update((key, value) for key, (value, _) in self._values.items())
        return pending

    async def synced(self) -> None:
        """The :data:`werk.aas.backend.store.Sync` of the store: wait until every change reported so far is committed."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            target = self._reported
            if self._stored >= target:
                return
            if self._closing:
                raise StoreError("the twin's writer is closed; the change is not stored")
            done: asyncio.Future[None] = loop.create_future()
            self._waiters.append((target, loop, done))
        if self._loop is not loop:  # else the hook that noted the change had the loop send it
            self._schedule(loop)
        await done

    def serve_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send batches and read answers on ``loop`` from now on; call on its thread, before the first write (else
        the first synced() binds it), so that a change a route makes in a thread never waits for its commit there,
        under the store's lock."""
        self._bind(loop)

    # --- batches, on the event loop ---------------------------------------------------------------------------------

    def _schedule(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Have the loop send a batch if one is due, binding a loop first if there is none yet."""
        bound = self._loop
        if bound is None or bound.is_closed():
            if loop is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # no loop (a script, a test): stored before the change's caller goes on
                    self._store_now()
                    return
            if not self._bind(loop):
                return
        self._kick()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Make ``loop`` (running in this thread) the one that sends batches and reads the answers; False (and a
        later try) while a thread without a loop waits for an answer it reads itself."""
        if not self._alone.acquire(blocking=False):
            loop.call_later(0.001, self._schedule, loop)
            return False
        try:
            with self._mutex:
                self._loop = loop
                self._loop_thread = threading.get_ident()
                self._scheduled = False  # a flush still due on a loop that closed will not run
            self._watch()
        finally:
            self._alone.release()
        return True

    def _kick(self) -> None:
        """Have the bound loop send a batch if one is due (from any thread)."""
        bound = self._loop
        if bound is None or self._scheduled or self._batch is not None or bound.is_closed():
            return  # (read without the lock: a flush still to run, or the answer to come, will take the change)
        with self._mutex:
            if self._scheduled or not self._due():
                return
            self._scheduled = True
        if threading.get_ident() == self._loop_thread:
            bound.call_soon(self._flush)
        else:
            with suppress(RuntimeError):  # the loop closed meanwhile: the next loop, or close(), sends it
                bound.call_soon_threadsafe(self._flush)

    def _due(self) -> bool:
        """A batch should be sent: there are changes, none is under way, werk is not closing (caller holds _mutex)."""
        return not self._closing and self._batch is None and bool(self._dirty or self._values)

    def _flush(self) -> None:
        loop = self._loop
        assert loop is not None
        with self._mutex:
            self._scheduled = False
            if not self._due():
                return
            wait = self._resume_at - time.monotonic()
            self._scheduled = wait > 0
        if wait > 0:  # a batch failed a moment ago: give the disk (or a new writer process) a moment
            loop.call_later(wait, self._flush)
            return
        if self._proc is None and not self._spawn():
            self._kick()  # after the pause _spawn set
            return
        # objects are read under the store's lock (a route's thread may hold it: try again on a later turn); values
        # alone need no lock
        locked = bool(self._dirty) and self._objects_lock.acquire(blocking=False)  # type: ignore[attr-defined]
        try:
            message = self._take_batch(with_objects=locked)
        finally:
            if locked:
                self._objects_lock.release()  # type: ignore[attr-defined]
        if message is None:
            with self._mutex:
                self._scheduled = True
            loop.call_later(0.001, self._flush)
            return
        if not self._watchdog:
            self._watchdog = True
            loop.call_later(1.0, self._overdue)
        proc = self._proc
        assert proc is not None
        if len(message) <= self._capacity:  # the pipe is empty (the last frame was read): this cannot block
            self._write(proc, message)
        else:  # a big batch (an import): written by a thread as the process reads it, the loop goes on
            loop.run_in_executor(None, self._write, proc, message)

    def _take_batch(self, *, with_objects: bool) -> bytes | None:
        """Start the next batch with all that is pending: its frame for the writer process; None while a batch is
        under way, or if an object is dirty and the caller does not hold the store's lock (``with_objects``)."""
        with self._mutex:
            if self._batch is not None or (self._dirty and not with_objects):
                return None
            batch = _Batch(self._reported, self._dirty, self._values, [])
            self._dirty, self._values = {}, {}
            self._batch = batch
        serialised: table_writer.Changes = []
        for ident, obj in batch.objects.items():
            try:
                serialised += rows([(ident, obj)])
            except Exception:  # basyx cannot write it: retrying would fail every later batch too
                log.exception("twin.store.unserialisable id=%s", ident)
                batch.refused.append(ident)
        now = to_micros(utcnow())
        # an object written whole holds its values as they are now, newer than or equal to those noted
        value_rows = [
            (sm_id, path, value, number, now)
            for (sm_id, path), (value, number) in batch.values.items()
            if sm_id not in batch.objects or sm_id in batch.refused
        ]
        # caught up when the store's lock was taken: the objects hold the values up to its seq
        follower = self.follower
        drop_upto = follower.seq if follower is not None and serialised else None
        return table_writer.frame((batch.upto, serialised, value_rows, now, drop_upto))

    def _send_from_thread(self) -> bool:
        """Send what is pending to the running writer process from a thread without a loop, its objects read under
        the store's lock; False if there was nothing to send."""
        with self._objects_lock:
            taken = self._take_batch(with_objects=True)
        if taken is None:
            return False
        assert self._proc is not None
        self._write(self._proc, taken)
        return True

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], message: bytes) -> None:
        view = memoryview(message)
        try:
            while view:
                fd = proc.stdin.fileno()  # type: ignore[union-attr]
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:  # a socket to a shared writer, set non-blocking to read its answers
                    select.select([], [fd], [], 1.0)
        except (OSError, ValueError) as exc:  # it ended: its stdout ends too, and _lost() fails the batch
            log.debug("twin.writer.send_failed error=%s", exc)

    def _overdue(self) -> None:
        """Once a second while batches go out: kill a writer process whose answer is late beyond any busy timeout
        (a stopped process, a dead disk); its stdout ends, and _lost() fails the batch."""
        batch, proc, loop = self._batch, self._proc, self._loop
        if batch is not None and proc is not None and time.monotonic() - batch.sent > self._limit_s():
            log.error("twin.writer.hung pid=%d waited_s=%.0f: killing it", proc.pid, self._limit_s())
            proc.kill()
        if loop is None or loop.is_closed() or self._closing or (batch is None and not self._due()):
            self._watchdog = False
            return
        loop.call_later(1.0, self._overdue)

    def _limit_s(self) -> float:
        """How long a batch may wait for its answer: the writer's busy timeout, and then some."""
        return self._busy_timeout_s + self.HANG_S

    # --- the writer process and its answers -------------------------------------------------------------------------

    def _spawn(self) -> bool:
        """Start a writer process (the caller sends or reads; a bound loop watches its answers). False, with the
        changes' waiters failed and a pause, if it cannot start."""
        command = [sys.executable, "-I", table_writer.__file__, self._path, str(self._busy_timeout_s)]
        shared = () if self._share is None else (self._share.fileno(),)
        proc: subprocess.Popen[bytes]
        try:
            if self._connect is not None:
                command = [self._connect]
                proc = cast("subprocess.Popen[bytes]", _Connection(self._connect))  # what a Popen is used for
            else:
                # it dies with werk (a kill -9 of werk's group must not leave it running), asked for from the main
                # thread only: the kernel ties it to the thread that starts the process (table_writer.die_with_parent);
                # started elsewhere, it ends when its stdin does
                alone = threading.current_thread() is threading.main_thread()
                env = {**os.environ, table_writer.PARENT_ENV: str(os.getpid() if alone else 0)}
                proc = subprocess.Popen(
                    [*command, *map(str, shared)],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    bufsize=0,
                    # not in werk's process group: Ctrl+C in a terminal must not end it before werk is done
                    start_new_session=os.name == "posix",
                    creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
                    pass_fds=shared,
                )
        except OSError as exc:
            with self._mutex:
                self.failures += 1
                self._last_error = f"{command[0]}: {exc}"
                failed = self._take_waiters(self._reported)  # their changes stay pending, for the next try
                self._pause()
            log.error("twin.writer.cannot_start error=%s", self._last_error)
            self._wake(failed, StoreError(f"cannot start the twin's writer process ({self._last_error})"))
            return False
        self._capacity = 4096 if isinstance(proc, _Connection) else _pipe_capacity(proc.stdin.fileno())  # type: ignore[union-attr]
        with self._mutex:
            self._proc = proc
            self._frames = table_writer.FrameReader()
        if self._loop is not None and threading.get_ident() == self._loop_thread:
            self._watch()
        return True

    def _pause(self) -> None:
        """After a failure: no batch before a while, longer after each failure in a row (caller holds _mutex)."""
        self._resume_at = time.monotonic() + self._respawn_s
        self._respawn_s = min(self._respawn_s * 2, self.RESPAWN_MAX_S)

    def _watch(self) -> None:
        """Read the writer process's answers on the bound loop (call on its thread), or on a thread where the loop
        cannot watch a pipe."""
        loop, proc = self._loop, self._proc
        if loop is None or loop.is_closed() or proc is None or self._watching is loop:
            return
        if self._thread_reads(proc):
            return
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        if os.name == "posix":
            try:
                os.set_blocking(fd, False)
                loop.add_reader(fd, self._on_readable, proc)
                self._watching = loop
                return
            except NotImplementedError:
                os.set_blocking(fd, True)
        self._reader_for = proc
        self._reader = threading.Thread(
            target=self._read_answers, args=(proc,), name="werk-twin-answers", daemon=True
        )
        self._reader.start()

    def _thread_reads(self, proc: subprocess.Popen[bytes]) -> bool:
        return self._reader_for is proc and self._reader is not None and self._reader.is_alive()

    def _unwatch(self) -> None:
        """Stop reading on the loop (call on the loop's thread, or once it stopped)."""
        loop, self._watching = self._watching, None
        proc = self._proc
        if loop is not None and not loop.is_closed() and proc is not None and not proc.stdout.closed:  # type: ignore[union-attr]
            loop.remove_reader(proc.stdout.fileno())  # type: ignore[union-attr]

    def _on_readable(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            data = os.read(proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except (OSError, ValueError):
            data = b""
        self._on_data(proc, data)

    def _read_answers(self, proc: subprocess.Popen[bytes]) -> None:
        """The answers read by a thread, where the loop cannot watch a pipe."""
        while True:
            try:
                data = os.read(proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
            except (OSError, ValueError):
                data = b""
            self._on_data(proc, data)
            if not data:
                return

    def _on_data(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        if proc is not self._proc:
            return  # an ended process's last words
        if not data:
            self._lost(proc)
            return
        for upto, error, committed in self._frames.feed(data):
            self._answered(upto, error, None if committed is None else table_writer.Commit(*committed))

    def _answered(self, upto: int, error: str | None, committed: table_writer.Commit | None = None) -> None:
        with self._mutex:
            batch = self._batch
            if batch is None or batch.upto != upto:
                log.error("twin.writer.unexpected_answer upto=%s", upto)
                return
            # before its values stop being pending: a follower skips them either way
            if committed is not None:
                self._commits.note(committed)
            self._batch = None
            self._last_error = error
            self._last_refused = batch.refused
            failure: StoreError | None = None
            if error is None:
                self.batches += 1
                self._stored = upto
                self._respawn_s = self.RETRY_S
                # a waiter cannot tell whose change was refused: all of the batch's hear of it
                if batch.refused:
                    failure = StoreError(f"cannot serialise {batch.refused} to store them")
            else:
                self._failed(batch)
                failure = StoreError(f"the twin's change could not be stored: {error}")
            finished = self._take_waiters(upto)
            self._mutex.notify_all()
        if error is not None:
            log.error(
                "twin.store.failed objects=%d values=%d error=%s",
                len(batch.objects),
                len(batch.values),
                error,
            )
        self._kick()  # first: the next batch goes out before the loop turns to the requests answered here
        self._wake(finished, failure)

    def _failed(self, batch: _Batch) -> None:
        """Put a batch that failed back, under what came since, and pause (caller holds _mutex)."""
        self.failures += 1
        for ident, obj in batch.objects.items():
            if ident not in batch.refused:
                self._dirty.setdefault(ident, obj)  # a newer change of the same object wins
        for key, noted in batch.values.items():
            self._values.setdefault(key, noted)
        self._pause()

    def _lost(self, proc: subprocess.Popen[bytes]) -> None:
        """The writer process ended (its answers ended): fail its batch; the next batch starts another."""
        if self._watching is not None and threading.get_ident() == self._loop_thread:
            self._unwatch()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:  # it closed its stdout but lives on: no writer of ours any more
            proc.kill()
            proc.wait()
        self._retire(proc)
        with self._mutex:
            if self._proc is proc:
                self._proc = None
            batch, self._batch = self._batch, None
            finished: list[_Waiter] = []
            if batch is not None:
                self._failed(batch)
                self._last_error = f"the writer process ended (exit code {proc.returncode})"
                finished = self._take_waiters(batch.upto)
            closing = self._closing
            self._mutex.notify_all()
        if batch is not None or not closing:
            log.error("twin.writer.ended exit=%s batch_lost=%s", proc.returncode, batch is not None)
        self._wake(finished, StoreError(f"the twin's change could not be stored: {self._last_error}"))
        self._kick()

    def _retire(self, proc: subprocess.Popen[bytes]) -> None:
        """Close an ended process's pipes; a second later where the loop watched them. Why: libuv (uvloop) takes
        a reader off epoll on its next poll, not at remove_reader(); closed before that, the descriptor number can
        be the next process's pipe already, and libuv aborts the whole process on the failed epoll_ctl (seen)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.call_later, 1.0, _close_pipes, proc)
                return
        _close_pipes(proc)

    # --- without a loop -------------------------------------------------------------------------------------------

    def _store_now(self) -> None:
        """Store what is pending and wait for it, in this thread (there is no loop); ``StoreError`` if that failed
        (it is retried with the next change). A loop bound meanwhile stores it instead."""
        with self._alone:
            if self._loop is not None and not self._loop.is_closed():
                self._kick()
                return
            if self._proc is None and not self._spawn():
                raise StoreError(f"the twin's change could not be stored: {self._last_error or 'no writer'}")
            if not self._await_answer(self._limit_s()):
                raise StoreError("the twin's writer process does not answer")
            if not self._send_from_thread():
                return
            if not self._await_answer(self._limit_s()):
                raise StoreError(f"the twin's change could not be stored: {self._last_error or 'no answer'}")
            if self._last_error is not None:
                raise StoreError(f"the twin's change could not be stored: {self._last_error}")
            if self._last_refused:
                raise StoreError(f"cannot serialise {self._last_refused} to store them")

    def _await_answer(self, timeout: float) -> bool:
        """Wait for the answer to the batch under way, reading it here unless a thread reads the answers; True once
        none is under way. Past ``timeout`` the process is killed (its batch fails) and False returned."""
        deadline = time.monotonic() + timeout
        while self._batch is not None:
            proc = self._proc
            left = deadline - time.monotonic()
            if proc is None:
                return self._batch is None
            if left <= 0:
                log.error("twin.writer.hung pid=%d waited_s=%.0f: killing it", proc.pid, timeout)
                proc.kill()
                self._lost(proc)
                return False
            if self._thread_reads(proc):
                with self._mutex:
                    if self._batch is not None:
                        self._mutex.wait(min(left, 1.0))
                continue
            fd = proc.stdout.fileno()  # type: ignore[union-attr]
            if os.name == "posix":  # a time limit (select() takes no pipes on Windows)
                ready, _, _ = select.select([fd], [], [], min(left, 1.0))
                if not ready:
                    continue
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                data = b""
            self._on_data(proc, data)
        return True

    # --- shared ---------------------------------------------------------------------------------------------------

    def _take_waiters(self, upto: int) -> list[_Waiter]:
        """Remove and return the waiters whose changes are all numbered up to ``upto`` (caller holds _mutex)."""
        taken = [w for w in self._waiters if w[0] <= upto]
        self._waiters = [w for w in self._waiters if w[0] > upto]
        return taken

    def _wake(self, waiters: list[_Waiter], error: BaseException | None) -> None:
        """Settle the waiters' futures: at once on this thread's loop, with one call into each other loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, done in waiters:
            by_loop.setdefault(loop, []).append(done)
        here = threading.get_ident() == self._loop_thread
        for loop, futures in by_loop.items():
            if here and loop is self._loop:
                _settle(futures, error)
                continue
            with suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, futures, error)

    # --- the end ----------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Store what is pending, then end the writer process; from any thread, also once the loop has stopped.
        Not while holding the store's lock (the last batch needs it)."""
        with self._mutex:
            if self._closing:
                return
            self._closing = True
        loop = self._watching
        if loop is not None and loop.is_running() and threading.get_ident() != self._loop_thread:
            stopped = threading.Event()

            def unwatch() -> None:
                self._unwatch()
                stopped.set()

            with suppress(RuntimeError):
                loop.call_soon_threadsafe(unwatch)
            if not stopped.wait(10):  # from then on the loop neither sends nor reads
                log.error("twin.writer.close loop=unresponsive: reading the last answers beside it")
        elif loop is not None:
            self._unwatch()
        with self._alone:
            try:
                self._last_error = (
                    None  # an earlier failure is tried once more; one while closing drops the rest
                )
                deadline = time.monotonic() + self.CLOSE_TIMEOUT_S
                answered = self._await_answer(self.CLOSE_TIMEOUT_S)
                while answered and self._last_error is None and (self._dirty or self._values):
                    if self._proc is None and not self._spawn():
                        break
                    if not self._send_from_thread():
                        break
                    answered = self._await_answer(max(deadline - time.monotonic(), 0.1))
            finally:
                self._end()

    def _end(self) -> None:
        """Fail what was not stored, end the writer process and let go of its pipes (close())."""
        with self._mutex:
            left = len(self._dirty) + len(self._values)
            failed = self._take_waiters(self._reported)
            proc, self._proc = self._proc, None
        if left:
            log.error("twin.store.dropped changes=%d (closing; last error: %s)", left, self._last_error)
        self._wake(failed, StoreError("the twin's writer closed before the change was stored"))
        if proc is None:
            return
        with suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if self._reader is not None:
            self._reader.join(5)  # it reads the end of the process's stdout, then stops
        self._retire(proc)


class _Connection:
    """Another process's writer process (the primary's, ``server.workers``) reached over its Unix socket, with what
    :class:`GroupCommit` uses of a ``Popen``: the socket is both its stdin and its stdout. It "ends" when the
    socket does: killing it shuts the socket down, so the reader sees the end and the batch fails as usual."""

    def __init__(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.stdin = self.stdout = self
        self.returncode: int | None = None
        # not known: a Unix socket's peer credentials are those of the process that listened (werk's own)
        self.pid = 0

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def kill(self) -> None:
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def wait(self, timeout: float | None = None) -> int:
        self.returncode = 0
        return 0


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        with suppress(OSError):
            pipe.close()  # type: ignore[union-attr]


def _pipe_capacity(fd: int) -> int:
    """How many bytes the pipe ``fd`` takes without blocking; raised to 1 MiB where Linux lets us (a batch of
    values is a few KiB; a submodel written whole can be more)."""
    if fcntl is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return 4096  # PIPE_BUF: what every POSIX pipe takes
    with suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    try:
        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
    except OSError:
        return 4096


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in futures:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
