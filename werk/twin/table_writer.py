"""The twin's rows in SQLite (``aas_object``, ``aas_deleted``, ``aas_value``), and the process that writes them.

:class:`TwinTables` is the one place that turns serialised changes into rows: werk's process uses it through
:class:`werk.twin.persistence.TwinPersistence` where it writes synchronously, and the running platform's
:class:`werk.twin.persistence.GroupCommit` hands its batches to a child process that runs this file (:func:`main`).

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
now)`` (see :meth:`TwinTables.commit`) and reads back ``(upto, error)``, error being
``None`` once the transaction committed, else what went wrong; EOF on stdin ends the process. It ignores SIGINT
and SIGTERM: Ctrl+C in a terminal (or a service manager's TERM to the whole group) must not end it before werk
has handed it its last batch; werk closes its stdin when it is done, and it ends with werk in any case.
"""

from __future__ import annotations

import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Iterator
from typing import IO, Any

ObjectRow = tuple[str, str, str, int]
"""An ``aas_object`` row: id, kind, Part 1 JSON, time (microseconds since 1970 UTC)."""
ValueRow = tuple[str, str, str | None, int, int]
"""An ``aas_value`` row: submodel id, idShortPath, lexical value or None, seq, time."""
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
UNDELETE = "DELETE FROM aas_deleted WHERE id = ?"
TOMBSTONE = "INSERT INTO aas_deleted VALUES (?, ?) ON CONFLICT (id) DO NOTHING"

_LENGTH = struct.Struct("<I")


class TwinTables:
    """Writes serialised changes to the twin's tables of one SQLite connection (autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def commit(self, changes: Changes, values: list[ValueRow], now: int) -> None:
        """One transaction: upsert the objects given with a row (no longer deleted, and without values stored alone:
        the row holds them), delete those given with ``None`` (leaving a tombstone at ``now``), then store ``values``.
        A value of an object in ``changes`` must not be in ``values``."""
        upserts = [(ident, row) for ident, row in changes if row is not None]
        deletes = [(ident,) for ident, row in changes if row is None]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                conn.executemany(UPSERT, [row for _, row in upserts])
                conn.executemany(UNDELETE, [(ident,) for ident, _ in upserts])
                conn.executemany(DROP_VALUES, [(ident,) for ident, _ in upserts])
            if deletes:
                conn.executemany("DELETE FROM aas_object WHERE id = ?", deletes)
                conn.executemany(TOMBSTONE, [(ident, now) for (ident,) in deletes])
                conn.executemany(DROP_VALUES, deletes)
            if values:
                conn.executemany(VALUE_UPSERT, values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


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


def read_frame(stream: IO[bytes]) -> Any | None:
    """The next frame from a blocking stream, ``None`` at its end."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (n,) = _LENGTH.unpack(head)
    body = stream.read(n)
    if len(body) < n:
        return None
    return pickle.loads(body)  # from werk's own process, over a pipe only the two hold


def serve(path: str, busy_timeout_s: float, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Commit each batch read from ``requests`` and answer on ``answers`` until ``requests`` ends."""
    tables = TwinTables(connect(path, busy_timeout_s))
    try:
        while (message := read_frame(requests)) is not None:
            upto, changes, values, now = message
            try:
                tables.commit(changes, values, now)
                error = None
            except (
                Exception
            ) as exc:  # a full disk, a file locked too long: werk fails the batch and retries it
                error = f"{type(exc).__name__}: {exc}"
            answers.write(frame((upto, error)))
            answers.flush()
    finally:
        tables.conn.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(args[0], float(args[1]), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
