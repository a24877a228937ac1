"""The twin's rows in SQLite (``aas_object``, ``aas_deleted``, ``aas_value``), and the process that writes them.

:class:`TwinTables` is the one place that turns serialised changes into rows: werk's process uses it through
:class:`werk.aas.backend.persistence.TwinPersistence` where it writes synchronously, and the running platform's
:class:`werk.aas.backend.persistence.GroupCommit` hands its batches to a child process that runs this file (:func:`main`).

Why a process: a durable write waits for SQLite's commit, an fsync of the WAL. A thread of werk's process can do
that off the event loop, but it needs the GIL back before and after every call into SQLite and to wake the waiting
requests, and a busy event loop (uvloop gives it up only when it polls) makes it wait for it: the requests that
wait for the commit pile up and the loop idles while the disk works. Measured on the 2-core benchmark machine, a
durable PATCH ``$value`` reached 70-80% of the in-memory throughput through a thread and 92-96% through this
process, whose acknowledgements the event loop reads from a pipe like any socket (BENCHMARKS.md).

So this file imports nothing but the standard library: it starts in ~50 ms, without werk's or basyx's imports,
and is run by path (``python table_writer.py DB BUSY_TIMEOUT_S``), not as ``-m werk.twin...``, which would import
the package, and isolated (``-I``), so that no module beside it shadows one of the standard library. The protocol on
its stdin and stdout: frames of a 4-byte little-endian length and a pickle. werk sends ``(upto, changes, values,
now, drop_upto)`` (see :meth:`TwinTables.commit`) and reads back ``(upto, error, committed)``, ``committed`` being
the :class:`Commit` as a tuple (``None`` if it failed), error being
``None`` once the transaction committed, else what went wrong; EOF on stdin ends the process. It ignores SIGINT
and SIGTERM: Ctrl+C in a terminal (or a service manager's TERM to the whole group) must not end it before werk
has handed it its last batch; werk closes its stdin when it is done, and it ends with werk in any case.
"""

from __future__ import annotations

import mmap
import os
import pickle
import selectors
import signal
import socket
import sqlite3
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: one werk process writes a twin there (server.workers needs Linux)
    fcntl = None  # type: ignore[assignment]

ObjectRow = tuple[str, str, str, int]
"""An ``aas_object`` row: id, kind, Part 1 JSON, time (microseconds since 1970 UTC)."""
ValueRow = tuple[str, str, str | None, int, int]
"""An ``aas_value`` row: submodel id, idShortPath, lexical value or None, order, time. The order is the writer's
own; the row is stored with the next seq of ``aas_sync`` (migration 7), in that order."""
Changes = list[tuple[str, ObjectRow | None]]
"""Objects by id, with their row to upsert, or ``None`` to delete (with a tombstone)."""

OBJECT_SCHEMA = """CREATE TABLE IF NOT EXISTS aas_object (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, json TEXT NOT NULL, updated_ts INTEGER NOT NULL)"""
#: ids deleted through the API: the plant file must not bring them back at the next start
TOMBSTONE_SCHEMA = "CREATE TABLE IF NOT EXISTS aas_deleted (id TEXT PRIMARY KEY, deleted_ts INTEGER NOT NULL)"
UPSERT = (
    "INSERT INTO aas_object (id, kind, json, updated_ts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, json = excluded.json, updated_ts = excluded.updated_ts"
)
VALUE_UPSERT = (
    "INSERT INTO aas_value (submodel_id, path, value, seq, updated_ts) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (submodel_id, path) DO UPDATE SET value = excluded.value, seq = excluded.seq, "
    "updated_ts = excluded.updated_ts"
)
DROP_VALUES = "DELETE FROM aas_value WHERE submodel_id = ?"
DROP_VALUES_UPTO = "DELETE FROM aas_value WHERE submodel_id = ? AND seq <= ?"
NEXT_SEQ = "UPDATE aas_sync SET seq = seq + ? WHERE id = 0 RETURNING seq"
NEXT_EPOCH = "UPDATE aas_sync SET epoch = epoch + 1 WHERE id = 0"
UNDELETE = "DELETE FROM aas_deleted WHERE id = ?"
TOMBSTONE = "INSERT INTO aas_deleted VALUES (?, ?) ON CONFLICT (id) DO NOTHING"

_LENGTH = struct.Struct("<I")


class Commit(NamedTuple):
    """What one transaction was: its number in :class:`Commits` and the seqs its values got (0, -1: none)."""

    number: int
    first_seq: int
    last_seq: int
    shared: bool = False  # other processes' values were in the same transaction


class Commits:
    """The twin's transactions, counted in an 8-byte file beside the database that every werk process maps.

    Why: where several processes serve one twin (``server.workers``), each must notice another's commit before it
    reads; comparing a shared counter costs a fraction of a microsecond, asking SQLite (``PRAGMA data_version``)
    ten times that on every request, and SQLite's answer moves with the historian's commits too. The same file is
    the writers' lock (``flock``), held for the whole transaction: SQLite makes a second writer poll for its lock,
    sleeping milliseconds between tries, which halved the value writes' throughput of two processes; the lock
    wakes the next writer as soon as the first commits. Where ``fcntl`` is missing (Windows) it counts nothing and
    locks nothing: one process writes the twin there."""

    def __init__(self, db_path: str) -> None:
        self._fd = -1
        self._map: mmap.mmap | None = None
        self.last = 0  # the number of this object's last transaction
        self._mine: set[int] = set()  # numbers of this process's transactions, not looked past yet
        self._my_seqs: list[tuple[int, int]] = []  # the seqs their values got, likewise
        if fcntl is None or db_path == ":memory:":
            return
        fd = os.open(db_path + "-twin-commits", os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)  # zeros; a second process doing the same at once changes nothing
        self._fd = fd
        self._map = mmap.mmap(fd, 8)

    def value(self) -> int:
        """How many transactions changed the twin's tables (0 where nothing is counted)."""
        return 0 if self._map is None else int(struct.unpack_from("<Q", self._map)[0])

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writers' lock for a transaction, and count it if it commits (the caller's block returns)."""
        if self._map is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
            self.last = self.value() + 1
            struct.pack_into("<Q", self._map, 0, self.last)
            self._mine.add(self.last)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # --- which transactions were this process's own (its writer process's included) ------------------------------

    def note(self, commit: Commit) -> None:
        """A transaction of this process's writer process (not all this process's if ``shared``)."""
        if not commit.shared:
            self._mine.add(commit.number)
        if commit.last_seq >= commit.first_seq:
            self._my_seqs.append((commit.first_seq, commit.last_seq))

    def only_mine(self, since: int, upto: int) -> bool:
        """Whether every transaction numbered after ``since`` up to ``upto`` was this process's."""
        return (
            0 <= since < upto
            and upto - since <= len(self._mine)
            and all(n in self._mine for n in range(since + 1, upto + 1))
        )

    def my_last_seq(self) -> int:
        """The last seq this process's values got (0: none known)."""
        return max((last for _, last in self._my_seqs), default=0)

    def is_my_seq(self, seq: int) -> bool:
        return any(first <= seq <= last for first, last in self._my_seqs)

    def forget(self, upto: int, seq: int) -> None:
        """Drop what is known of transactions numbered up to ``upto`` and of value seqs up to ``seq`` (looked past)."""
        self._mine = {n for n in self._mine if n > upto}
        self._my_seqs = [(first, last) for first, last in self._my_seqs if last > seq]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            os.close(self._fd)
            self._map = None


@contextmanager
def transaction(conn: sqlite3.Connection, commits: Commits) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on ``conn`` (autocommit mode) under the writers' lock, counted; rolled back
    if the block raises."""
    with commits.writing():
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class TwinTables:
    """Writes serialised changes to the twin's tables of one SQLite connection (autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection, commits: Commits) -> None:
        self.conn = conn
        self.commits = commits

    def commit(
        self, changes: Changes, values: list[ValueRow], now: int, drop_upto: int | None = None
    ) -> Commit:
        """One transaction: upsert the objects given with a row (no longer deleted, and without values stored alone:
        the row holds them), delete those given with ``None`` (leaving a tombstone at ``now``), then store ``values``
        under the next seqs of ``aas_sync``. A value of an object in ``changes`` must not be in ``values``.

        ``drop_upto``: the last seq whose values the upserted objects hold (their writer had applied every value row
        up to it); rows committed after it by another process are newer than the object and stay, to be applied on
        top. None: the objects hold every value (one process writes the twin)."""
        return self.commit_groups(changes, [values], now, drop_upto)[0]

    def commit_groups(
        self, changes: Changes, groups: list[list[ValueRow]], now: int, drop_upto: int | None = None
    ) -> list[Commit]:
        """:meth:`commit` of the values of several processes in one transaction (one fsync for all of them): each
        group's values get consecutive seqs, in the groups' order; one :class:`Commit` per group."""
        upserts = [(ident, row) for ident, row in changes if row is not None]
        deletes = [(ident,) for ident, row in changes if row is None]
        ranges: list[tuple[int, int]] = []
        with transaction(self.conn, self.commits) as conn:
            if upserts:
                conn.executemany(UPSERT, [row for _, row in upserts])
                conn.executemany(UNDELETE, [(ident,) for ident, _ in upserts])
                if drop_upto is None:
                    conn.executemany(DROP_VALUES, [(ident,) for ident, _ in upserts])
                else:
                    conn.executemany(DROP_VALUES_UPTO, [(ident, drop_upto) for ident, _ in upserts])
            if deletes:
                conn.executemany("DELETE FROM aas_object WHERE id = ?", deletes)
                conn.executemany(TOMBSTONE, [(ident, now) for (ident,) in deletes])
                conn.executemany(DROP_VALUES, deletes)
            if upserts or deletes:
                conn.execute(NEXT_EPOCH)
            for values in groups:
                if not values:
                    ranges.append((0, -1))
                    continue
                (last,) = conn.execute(NEXT_SEQ, (len(values),)).fetchone()
                first = last - len(values) + 1
                ordered = sorted(values, key=lambda row: row[3])
                conn.executemany(
                    VALUE_UPSERT,
                    [(sm, path, value, first + i, ts) for i, (sm, path, value, _, ts) in enumerate(ordered)],
                )
                ranges.append((first, last))
        shared = len(groups) > 1
        return [Commit(self.commits.last, first, last, shared) for first, last in ranges]


def connect(path: str, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection to the twin's file as its writers use it: WAL, and a commit that returns once it is on disk."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an acknowledged change survives a power cut, not only a crash
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


def frame(message: Any) -> bytes:
    """``message`` as one frame of the protocol."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


class FrameReader:
    """Frames out of a byte stream that arrives in pieces (a pipe read without blocking)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[Any]:
        self._buf += data
        while len(self._buf) >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self._buf)
            if len(self._buf) < _LENGTH.size + n:
                return
            body = bytes(self._buf[_LENGTH.size : _LENGTH.size + n])
            del self._buf[: _LENGTH.size + n]
            yield pickle.loads(body)  # from werk's own process, over a pipe only the two hold


class _Client:
    """One werk process this writer commits for: the one that started it (its stdin and stdout) or, where several
    processes serve the twin, one that connected to the listening socket werk handed it."""

    def __init__(
        self, read_fd: int, answer: Callable[[bytes], None], conn: socket.socket | None = None
    ) -> None:
        self.read_fd = read_fd
        self.answer = answer
        self.conn = conn
        self.frames = FrameReader()
        self.open = True


# How long the writer waits, once a batch came in, for the next batch of a process whose last one it just
# committed with it. Why: each process has one batch under way at a time and sends the next as soon as the answer
# to the last one comes back, tens of microseconds apart. Committed as they came, two processes' batches fell into
# turns, one process's batch per commit, and each waited for the other's commit before its own: on the 2-core
# benchmark machine, two processes took durable PATCHes at 13-14k/s against 24k/s for one, with the writer spending
# three times the CPU per value. One window at most per commit, and only for a process that had a batch in the last
# one: an idle process is waited for once, a lone process never.
GATHER_S = 0.0005


def serve(
    path: str,
    busy_timeout_s: float,
    requests: IO[bytes],
    answers: IO[bytes],
    listener: socket.socket | None = None,
    gather_s: float = GATHER_S,
) -> None:
    """Commit the batches read from ``requests`` and answer on ``answers`` until ``requests`` ends; with a
    ``listener``, also those of every process that connects to it (``server.workers``), the batches that came in
    meanwhile from all of them in one transaction, waiting ``gather_s`` at most for those of the last one."""
    tables = TwinTables(connect(path, busy_timeout_s), Commits(path))
    selector = selectors.DefaultSelector()

    def answer_primary(data: bytes) -> None:
        answers.write(data)
        answers.flush()

    primary = _Client(requests.fileno(), answer_primary)
    selector.register(primary.read_fd, selectors.EVENT_READ, primary)
    if listener is not None:
        selector.register(listener, selectors.EVENT_READ, None)
    last: set[_Client] = set()  # the processes whose batches the last transaction committed
    try:
        while True:
            batches: list[tuple[_Client, Any]] = []
            deadline: float | None = None
            while True:
                timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                for key, _ in selector.select(timeout):
                    if not _read(key, selector, listener, primary, batches, busy_timeout_s):
                        return  # werk closed our stdin: done
                if not batches:
                    continue
                sent = {client for client, _ in batches}
                if not {c for c in last - sent if c.open} or (
                    deadline is not None and time.monotonic() >= deadline
                ):
                    break
                if deadline is None:
                    deadline = time.monotonic() + gather_s
            _commit(tables, batches, selector)
            last = {client for client, _ in batches}
    finally:
        tables.conn.close()
        tables.commits.close()


def _read(
    key: selectors.SelectorKey,
    selector: selectors.BaseSelector,
    listener: socket.socket | None,
    primary: _Client,
    batches: list[tuple[_Client, Any]],
    busy_timeout_s: float,
) -> bool:
    """Take what one ready descriptor has: a process that connects, or frames of a batch (added to ``batches``);
    False once werk's own process closed its end."""
    client: _Client | None = key.data
    if client is None:  # a process connects
        assert listener is not None
        conn, _ = listener.accept()
        conn.settimeout(busy_timeout_s)  # a process that does not read its answers is dropped
        client = _Client(conn.fileno(), conn.sendall, conn)
        selector.register(conn, selectors.EVENT_READ, client)
        return True
    try:
        data = os.read(client.read_fd, 1 << 20)
    except BlockingIOError:  # a socket with a timeout is non-blocking underneath: nothing yet
        return True
    except OSError:  # a process that went away mid-frame
        if client is primary:
            raise
        data = b""
    if not data:
        if client is primary:
            return False
        _drop(selector, client)
        return True
    batches += [(client, message) for message in client.frames.feed(data)]
    return True


def _commit(tables: TwinTables, batches: list[tuple[_Client, Any]], selector: selectors.BaseSelector) -> None:
    """Commit what the processes sent in one transaction and answer each; each sends one batch at a time, and only
    the primary writes objects."""
    changes: Changes = []
    drop_upto = None
    for _, (_, objects, _, _, dropped) in batches:
        if objects:
            changes, drop_upto = objects, dropped
    now = max(message[3] for _, message in batches)
    results: list[Commit | None] = [None] * len(batches)
    try:
        results = list(tables.commit_groups(changes, [m[2] for _, m in batches], now, drop_upto))
        error = None
    except Exception as exc:  # a full disk, a file locked too long: werk fails the batches and retries them
        error = f"{type(exc).__name__}: {exc}"
    for (client, message), committed in zip(batches, results, strict=True):
        # a plain tuple: this file runs as __main__, whose classes the other end cannot unpickle
        reply = frame((message[0], error, None if committed is None else tuple(committed)))
        try:
            client.answer(reply)
        except OSError:
            if client.conn is None:
                raise
            _drop(selector, client)


def _drop(selector: selectors.BaseSelector, client: _Client) -> None:
    client.open = False
    with suppress(KeyError, ValueError):
        selector.unregister(client.read_fd)
    if client.conn is not None:
        client.conn.close()


PARENT_ENV = "WERK_DIE_WITH"
"""The environment variable that names the pid of the werk process a child is to die with (:func:`die_with_parent`)."""


def die_with_parent(parent: int) -> None:
    """End this process with a SIGKILL the moment ``parent`` ends (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing).

    Why: werk's children (this writer, the workers of ``server.workers``) run in sessions of their own, so that a
    Ctrl+C or a TERM to the terminal's group reaches werk alone and werk stops them once it is done; a SIGKILL to
    the group (an OOM kill, ``kill -9``) then left them running until they noticed their closed stdin, and a worker
    stopping gracefully with its writer gone took more than a second. Nothing acknowledged is lost by the kill: a
    write is acknowledged only once committed, and what a dead werk had not acknowledged nobody waits for.

    The kernel sends the signal when the *thread* that started the child ends, so werk asks for it only from its
    main thread (where the thread's end is the process's). ``parent`` is the pid the caller meant: if it ended
    before the request took effect, this process is an orphan already and ends at once."""
    if not sys.platform.startswith("linux") or parent <= 0:
        return
    import ctypes

    pr_set_pdeathsig = 1
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    with suppress(ValueError):
        die_with_parent(int(os.environ.get(PARENT_ENV, "0")))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # where several werk processes share this writer, werk hands it a listening Unix socket (its fd, inherited)
    listener = socket.socket(fileno=int(args[2])) if len(args) > 2 else None
    serve(args[0], float(args[1]), sys.stdin.buffer, sys.stdout.buffer, listener)


if __name__ == "__main__":
    main()
