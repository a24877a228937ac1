"""The default historian: one SQLite file in WAL mode.

WAL lets the API read while the writer writes. ``synchronous=NORMAL`` keeps every committed batch across a crash of
the process; a power cut may lose the last batches since the previous checkpoint (SQLite's documented trade-off),
which is the price of batched ingest at tens of thousands of samples per second on an SD card or a small SSD.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from werk.core.downtime import Classification, Stop
from werk.core.maintenance import WorkOrder
from werk.core.model import Event, Quality, Sample, Value, from_micros, to_micros
from werk.core.uns import matches
from werk.errors import StoreError
from werk.store.base import Bucket
from werk.store.migrations import SQLITE_MIGRATIONS

_UPSERT = (
    "INSERT INTO sample (signal_id, ts, value, quality) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (signal_id, ts) DO UPDATE SET value = excluded.value, quality = excluded.quality"
)


def _dtype(v: Value) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str"


P = ParamSpec("P")
R = TypeVar("R")
CLOSE_WAIT_S = 30.0  # how long close() waits for reads still running in other threads


def _reads(fn: Callable[Concatenate[SQLiteHistorian, P], R]) -> Callable[Concatenate[SQLiteHistorian, P], R]:
    """Mark a query: ``close`` waits for it. A task cancelled during ``asyncio.to_thread(query)`` leaves the query
    running in its thread, and closing its SQLite connection under it crashes the process."""

    def guarded(self: SQLiteHistorian, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._read_guard():
            return fn(self, *args, **kwargs)

    functools.update_wrapper(guarded, fn)
    return guarded


class SQLiteHistorian:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._reads = threading.Condition()
        self._active_reads = 0
        self._closed = False
        self._local = threading.local()
        self._w: sqlite3.Connection | None = None
        self._ids: dict[str, tuple[int, str]] = {}
        self._dtypes: dict[int, str] = {}
        self._readers: list[sqlite3.Connection] = []

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        self._closed = False
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._w = self._connect()
            self._migrate(self._w)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open historian database: {exc}") from None
        self._load_signals(self._w)

    @contextlib.contextmanager
    def _read_guard(self) -> Iterator[None]:
        with self._reads:
            if self._closed:
                raise StoreError(f"{self.path}: the historian is closed")
            self._active_reads += 1
        try:
            yield
        finally:
            with self._reads:
                self._active_reads -= 1
                self._reads.notify_all()

    def close(self) -> None:
        """Close after the reads still running in other threads (up to CLOSE_WAIT_S); later reads are refused."""
        with self._reads:
            self._closed = True
            if not self._reads.wait_for(lambda: self._active_reads == 0, timeout=CLOSE_WAIT_S):
                raise StoreError(f"{self.path}: {self._active_reads} reads still running; not closed")
        with self._write_lock:
            if self._w is not None:
                self._w.close()
                self._w = None
        for conn in self._readers:
            conn.close()
        self._readers.clear()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS werk_schema (version INTEGER PRIMARY KEY, description TEXT)")
        row = conn.execute("SELECT max(version) FROM werk_schema").fetchone()
        current = row[0] or 0
        latest = SQLITE_MIGRATIONS[-1][0]
        if current > latest:
            raise StoreError(
                f"{self.path}: database schema version {current} is newer than this werk knows ({latest}); "
                "upgrade werk or point it at another file"
            )
        for version, description, sql in SQLITE_MIGRATIONS:
            if version <= current:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in sql.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute("INSERT INTO werk_schema VALUES (?, ?)", (version, description))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @_reads
    def schema_version(self) -> int:
        row = self._reader().execute("SELECT max(version) FROM werk_schema").fetchone()
        return int(row[0] or 0)

    # --- writes --------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The write connection inside one transaction, under the write lock: committed, or rolled back and
        re-raised."""
        with self._write_lock:
            conn = self._conn_w()
            conn.execute("BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self._load_signals(conn)  # ids the rolled-back transaction handed out no longer exist
                raise

    def _load_signals(self, conn: sqlite3.Connection) -> None:
        self._ids.clear()
        for sid, path, dtype in conn.execute("SELECT id, path, dtype FROM signal"):
            self._ids[path] = (sid, dtype)
            self._dtypes[sid] = dtype

    def _conn_w(self) -> sqlite3.Connection:
        if self._w is None:
            raise StoreError(f"{self.path}: historian is not open")
        return self._w

    def _signal_id(self, conn: sqlite3.Connection, path: str, value: Value) -> int:
        dtype = _dtype(value)
        hit = self._ids.get(path)
        if hit is not None:
            sid, known = hit
            if known != dtype and not (known == "float" and dtype == "int"):
                conn.execute("UPDATE signal SET dtype = ? WHERE id = ?", (dtype, sid))
                self._ids[path] = (sid, dtype)
                self._dtypes[sid] = dtype
            return sid
        cur = conn.execute(
            "INSERT INTO signal (path, dtype) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET path = path "
            "RETURNING id",
            (path, dtype),
        )
        sid = int(cur.fetchone()[0])
        self._ids[path] = (sid, dtype)
        self._dtypes[sid] = dtype
        return sid

    def write_samples(self, samples: Sequence[Sample]) -> int:
        if not samples:
            return 0
        with self._transaction() as conn:
            rows = []
            ids = self._ids
            for s in samples:
                hit = ids.get(s.path)
                sid = hit[0] if hit is not None and hit[1] == _dtype(s.value) else None
                if sid is None:
                    sid = self._signal_id(conn, s.path, s.value)
                rows.append((sid, to_micros(s.ts), s.value, int(s.quality)))
            conn.executemany(_UPSERT, rows)
        return len(samples)

    def write_events(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        rows = [(to_micros(e.ts), e.kind, e.source, json.dumps(e.data, default=str)) for e in events]
        with self._transaction() as conn:
            conn.executemany("INSERT INTO event (ts, kind, source, data) VALUES (?, ?, ?, ?)", rows)
        return len(events)

    def purge(self, before: datetime) -> int:
        """Delete samples and events older than ``before``; one short transaction per signal keeps readers moving."""
        cutoff = to_micros(before)
        removed = 0
        with self._write_lock:
            conn = self._conn_w()
            sids = [r[0] for r in conn.execute("SELECT id FROM signal")]
            for sid in sids:
                removed += conn.execute(
                    "DELETE FROM sample WHERE signal_id = ? AND ts < ?", (sid, cutoff)
                ).rowcount
            removed += conn.execute("DELETE FROM event WHERE ts < ?", (cutoff,)).rowcount
        return removed

    # --- reads ---------------------------------------------------------------------------------------------------

    def _decode(self, sid: int, value: object) -> Value:
        if self._dtypes.get(sid) == "bool":
            return bool(value)
        return value  # type: ignore[return-value]

    def _sid(self, path: str) -> int | None:
        hit = self._ids.get(path)
        if hit is not None:
            return hit[0]
        row = self._reader().execute("SELECT id, dtype FROM signal WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None
        self._dtypes[row[0]] = row[1]
        return int(row[0])

    @_reads
    def query_raw(self, path: str, start: datetime, end: datetime, limit: int = 10_000) -> list[Sample]:
        sid = self._sid(path)
        if sid is None:
            return []
        rows = self._reader().execute(
            "SELECT ts, value, quality FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
            (sid, to_micros(start), to_micros(end), limit),
        )
        return [Sample(path, from_micros(ts), self._decode(sid, v), Quality(q)) for ts, v, q in rows]

    @_reads
    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]:
        if bucket_s <= 0:
            raise ValueError("bucket width must be positive (seconds)")
        sid = self._sid(path)
        if sid is None:
            return []
        width = max(1, int(bucket_s * 1_000_000))
        rows = self._reader().execute(
            "SELECT (ts / :w) * :w AS b, min(value), avg(value), max(value), count(*) FROM sample "
            "WHERE signal_id = :sid AND ts >= :a AND ts < :z AND typeof(value) IN ('integer', 'real') "
            "GROUP BY b ORDER BY b",
            {"w": width, "sid": sid, "a": to_micros(start), "z": to_micros(end)},
        )
        return [Bucket(from_micros(b), float(lo), float(av), float(hi), int(n)) for b, lo, av, hi, n in rows]

    @_reads
    def latest(self, pattern: str = "#") -> list[Sample]:
        rows = self._reader().execute(
            "SELECT s.id, s.path, x.ts, x.value, x.quality FROM signal s JOIN sample x ON x.signal_id = s.id "
            "AND x.ts = (SELECT max(ts) FROM sample WHERE signal_id = s.id) ORDER BY s.path"
        )
        out = []
        for sid, path, ts, v, q in rows:
            if pattern == "#" or matches(pattern, path):
                self._dtypes.setdefault(sid, "float")
                out.append(Sample(path, from_micros(ts), self._decode(sid, v), Quality(q)))
        return out

    @_reads
    def signals(self) -> list[str]:
        return [r[0] for r in self._reader().execute("SELECT path FROM signal ORDER BY path")]

    @_reads
    def query_events(
        self,
        *,
        kinds: Sequence[str] | None = None,
        source: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        where: list[str] = []
        args: list[object] = []
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if source:
            where.append("source = ?")
            args.append(source)
        if start:
            where.append("ts >= ?")
            args.append(to_micros(start))
        if end:
            where.append("ts < ?")
            args.append(to_micros(end))
        sql = "SELECT ts, kind, source, data FROM event"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        rows = self._reader().execute(sql, (*args, limit))
        return [Event(k, src, from_micros(ts), json.loads(d)) for ts, k, src, d in rows]

    @_reads
    def count_samples(self, path: str | None = None) -> int:
        if path is None:
            return int(self._reader().execute("SELECT count(*) FROM sample").fetchone()[0])
        sid = self._sid(path)
        if sid is None:
            return 0
        return int(
            self._reader().execute("SELECT count(*) FROM sample WHERE signal_id = ?", (sid,)).fetchone()[0]
        )

    # --- counters and states for reports ---------------------------------------------------------------------

    @_reads
    def last_before(self, path: str, ts: datetime) -> Sample | None:
        """The newest sample strictly before ``ts`` (the value a signal had at that instant)."""
        sid = self._sid(path)
        if sid is None:
            return None
        row = (
            self._reader()
            .execute(
                "SELECT ts, value, quality FROM sample WHERE signal_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1",
                (sid, to_micros(ts)),
            )
            .fetchone()
        )
        return (
            None
            if row is None
            else Sample(path, from_micros(row[0]), self._decode(sid, row[1]), Quality(row[2]))
        )

    @_reads
    def changes(self, path: str, start: datetime, end: datetime) -> list[tuple[int, Value]]:
        """(microseconds, value) of a signal's samples in [start, end), led by the last one before ``start``: a
        step function over the range, the shape a state timeline needs. Raw tuples, since a month of states for a
        plant is hundreds of thousands of rows and building objects for each costs more than reading them."""
        sid = self._sid(path)
        if sid is None:
            return []
        db = self._reader()
        a, z = to_micros(start), to_micros(end)
        first = db.execute(
            "SELECT ts, value FROM sample WHERE signal_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1", (sid, a)
        ).fetchall()
        rest = db.execute(
            "SELECT ts, value FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? ORDER BY ts", (sid, a, z)
        ).fetchall()
        return first + rest

    @_reads
    def stop_facts(
        self, asset: str, start: datetime, end: datetime
    ) -> tuple[list[tuple[int, int | None]], int]:
        """What a KPI report needs of an asset's stops in [start, end): the spans of planned ones (microseconds,
        end None while open) and the number of failure events (non-micro stops in which the asset faulted)."""
        db = self._reader()
        a, z = to_micros(start), to_micros(end)
        planned = db.execute(
            "SELECT start_ts, end_ts FROM downtime WHERE asset = ? AND planned = 1 AND start_ts < ? "
            "AND (end_ts IS NULL OR end_ts > ?) ORDER BY start_ts",
            (asset, z, a),
        ).fetchall()
        (failures,) = db.execute(
            "SELECT count(*) FROM downtime WHERE asset = ? AND micro = 0 AND start_ts >= ? AND start_ts < ? "
            "AND states LIKE '%\"fault\"%'",
            (asset, a, z),
        ).fetchone()
        return planned, int(failures)

    @_reads
    def counter_increase(self, path: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """How much a machine counter grew in each span (a reset to a lower value counts from zero).

        Reads the value at each boundary through the primary key and scans a span only if its maximum is above its
        end value, i.e. the counter was reset inside it: a 30-day report then costs index seeks, not a full scan.
        """
        sid = self._sid(path)
        if sid is None:
            return [0 for _ in spans]
        db = self._reader()
        out = []
        for a, z in spans:
            ua, uz = to_micros(a), to_micros(z)
            before = db.execute(
                "SELECT value FROM sample WHERE signal_id = ? AND ts < ? AND quality = 0 ORDER BY ts DESC LIMIT 1",
                (sid, ua),
            ).fetchone()
            mx, n = db.execute(
                "SELECT max(value), count(*) FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? AND quality = 0",
                (sid, ua, uz),
            ).fetchone()
            if not n:
                out.append(0)
                continue
            last = db.execute(
                "SELECT value FROM sample WHERE signal_id = ? AND ts < ? AND quality = 0 ORDER BY ts DESC LIMIT 1",
                (sid, uz),
            ).fetchone()[0]
            if mx <= last and (before is None or before[0] <= last):
                base = (
                    before[0]
                    if before is not None
                    else db.execute(
                        "SELECT value FROM sample WHERE signal_id = ? AND ts >= ? AND quality = 0 ORDER BY ts LIMIT 1",
                        (sid, ua),
                    ).fetchone()[0]
                )
                out.append(int(last - base))
                continue
            total = 0
            prev = before[0] if before is not None else None
            for (v,) in db.execute(
                "SELECT value FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? AND quality = 0 ORDER BY ts",
                (sid, ua, uz),
            ):
                if prev is not None:
                    total += v - prev if v >= prev else v
                prev = v
            out.append(int(total))
        return out

    # --- downtime --------------------------------------------------------------------------------------------

    def upsert_stops(self, stops: Sequence[Stop]) -> None:
        rows = [
            (
                s.id,
                s.asset,
                to_micros(s.start),
                to_micros(s.end) if s.end else None,
                s.first_state,
                json.dumps(s.states),
                s.reason,
                s.reason_source,
                int(s.planned),
                int(s.micro),
            )
            for s in stops
        ]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO downtime VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "end_ts = excluded.end_ts, states = excluded.states, reason = excluded.reason, "
                "reason_source = excluded.reason_source, planned = excluded.planned, micro = excluded.micro",
                rows,
            )
            for s in stops:
                for c in s.history:
                    conn.execute(
                        "INSERT INTO downtime_reason_history (downtime_id, ts, who, reason, previous, comment) "
                        "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM downtime_reason_history "
                        "WHERE downtime_id = ? AND ts = ? AND who = ?)",
                        (
                            s.id,
                            to_micros(c.ts),
                            c.who,
                            c.reason,
                            c.previous,
                            c.comment,
                            s.id,
                            to_micros(c.ts),
                            c.who,
                        ),
                    )

    @_reads
    def query_stops(
        self, *, asset: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> list[Stop]:
        """Stops overlapping [start, end), oldest first, with their reason history."""
        where, args = ["1 = 1"], []  # type: list[str], list[object]
        if asset:
            where.append("asset = ?")
            args.append(asset)
        if end:
            where.append("start_ts < ?")
            args.append(to_micros(end))
        if start:
            where.append("(end_ts IS NULL OR end_ts > ?)")
            args.append(to_micros(start))
        db = self._reader()
        rows = db.execute(
            "SELECT id, asset, start_ts, end_ts, first_state, states, reason, reason_source, planned, micro "
            f"FROM downtime WHERE {' AND '.join(where)} ORDER BY start_ts",
            args,
        ).fetchall()
        history: dict[str, list[Classification]] = {}
        if rows:
            ids = [r[0] for r in rows]
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                for sid, ts, who, reason, prev, comment in db.execute(
                    "SELECT downtime_id, ts, who, reason, previous, comment FROM downtime_reason_history "
                    f"WHERE downtime_id IN ({','.join('?' * len(chunk))}) ORDER BY ts, id",
                    chunk,
                ):
                    history.setdefault(sid, []).append(
                        Classification(from_micros(ts), who, reason, prev, comment)
                    )
        return [
            Stop(
                asset=a,
                start=from_micros(st),
                first_state=fs,
                end=from_micros(en) if en is not None else None,
                states=json.loads(states),
                reason=reason,
                reason_source=rs,
                planned=bool(pl),
                micro=bool(mi),
                history=history.get(sid, []),
            )
            for sid, a, st, en, fs, states, reason, rs, pl, mi in rows
        ]

    # --- work orders -----------------------------------------------------------------------------------------

    def upsert_work_order(self, wo: WorkOrder) -> None:
        body = json.dumps(dataclasses.asdict(wo), default=_iso)
        with self._write_lock:
            self._conn_w().execute(
                "INSERT INTO work_order VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, body = excluded.body",
                (wo.id, wo.asset, wo.status, to_micros(wo.created), body),
            )

    @_reads
    def get_work_order(self, wo_id: str) -> WorkOrder | None:
        row = self._reader().execute("SELECT body FROM work_order WHERE id = ?", (wo_id,)).fetchone()
        return None if row is None else _work_order(json.loads(row[0]))

    @_reads
    def query_work_orders(
        self, *, asset: str | None = None, status: str | None = None, limit: int = 500
    ) -> list[WorkOrder]:
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if asset:
            where.append("asset = ?")
            args.append(asset)
        if status:
            where.append("status = ?")
            args.append(status)
        rows = self._reader().execute(
            f"SELECT body FROM work_order WHERE {' AND '.join(where)} ORDER BY created DESC LIMIT ?",
            (*args, limit),
        )
        return [_work_order(json.loads(body)) for (body,) in rows]


def _iso(v: object) -> str:
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(f"cannot store {type(v).__name__} in a work order")


def _work_order(d: dict[str, object]) -> WorkOrder:
    for k in ("created", "planned_for", "started", "done"):
        if d.get(k) is not None:
            d[k] = datetime.fromisoformat(str(d[k]))
    return WorkOrder(**d)  # type: ignore[arg-type]
