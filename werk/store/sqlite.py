"""The default historian: samples and events in the werk file (SQLite, WAL; see :mod:`werk.store.sqlite_file`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Unpack

from werk.core.model import Event, Quality, Sample, Value, from_micros, to_micros
from werk.core.uns import matches
from werk.store.base import NEWEST_STAMPS, Bucket, EventFilter, Series, events_query, typical_interval
from werk.store.migrations import HISTORIAN_MIGRATIONS
from werk.store.sqlite_file import SQLiteFile, Synchronous, reads

_UPSERT = (
    "INSERT INTO sample (signal_id, ts, value, quality) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (signal_id, ts) DO UPDATE SET value = excluded.value, quality = excluded.quality"
)


def _f(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


def _dtype(v: Value) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str"


class SQLiteHistorian:
    """Samples and events. Give it a path (it opens and closes its own file) or the platform's shared
    :class:`SQLiteFile` (the owner of the file closes it)."""

    OWNER = "historian"

    def __init__(self, path: str | Path | SQLiteFile, synchronous: Synchronous = "NORMAL") -> None:
        self._owns_file = not isinstance(path, SQLiteFile)
        self.file = path if isinstance(path, SQLiteFile) else SQLiteFile(path, synchronous)
        self.path = self.file.path
        self._ids: dict[str, tuple[int, str]] = {}
        self._dtypes: dict[int, str] = {}
        self.file.on_rollback(self._load_signals)  # ids a rolled-back transaction handed out no longer exist

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        if self._owns_file:
            self.file.open()
        self.file.migrate(self.OWNER, HISTORIAN_MIGRATIONS)
        with self.file.write_lock:
            self._load_signals(self.file.writer())

    def close(self) -> None:
        """Close the file when the historian owns it, after the reads still running in other threads."""
        if self._owns_file:
            self.file.close()

    def schema_version(self) -> int:
        return self.file.schema_version(self.OWNER)

    # --- writes --------------------------------------------------------------------------------------------------

    def _load_signals(self, conn: sqlite3.Connection) -> None:
        self._ids.clear()
        for sid, path, dtype in conn.execute("SELECT id, path, dtype FROM signal"):
            self._ids[path] = (sid, dtype)
            self._dtypes[sid] = dtype

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
        with self.file.transaction() as conn:
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
        rows = [(to_micros(e.ts), e.kind, e.source, json.dumps(e.data, default=str), e.key) for e in events]
        with self.file.transaction() as conn:
            # an event whose key is stored already is left as it is (written again: a batch handled twice)
            conn.executemany(
                "INSERT INTO event (ts, kind, source, data, key) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
        return len(events)

    def purge(self, before: datetime) -> int:
        """Delete samples and events older than ``before``; one short transaction per signal keeps readers moving."""
        cutoff = to_micros(before)
        removed = 0
        with self.file.write_lock:
            conn = self.file.writer()
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
        row = self.file.reader().execute("SELECT id, dtype FROM signal WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None
        self._dtypes[row[0]] = row[1]
        return int(row[0])

    @reads
    def query_raw(self, path: str, start: datetime, end: datetime, limit: int = 10_000) -> list[Sample]:
        sid = self._sid(path)
        if sid is None:
            return []
        rows = self.file.reader().execute(
            "SELECT ts, value, quality FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
            (sid, to_micros(start), to_micros(end), limit),
        )
        return [Sample(path, from_micros(ts), self._decode(sid, v), Quality(q)) for ts, v, q in rows]

    @reads
    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]:
        if bucket_s <= 0:
            raise ValueError("bucket width must be positive (seconds)")
        sid = self._sid(path)
        if sid is None:
            return []
        width = max(1, int(bucket_s * 1_000_000))
        good = f"CASE WHEN quality < {int(Quality.BAD)} THEN value END"
        rows = self.file.reader().execute(
            f"SELECT (ts / :w) * :w AS b, min({good}), avg({good}), max({good}), count({good}), "
            f"sum(quality >= {int(Quality.BAD)}) FROM sample "
            "WHERE signal_id = :sid AND ts >= :a AND ts < :z AND typeof(value) IN ('integer', 'real') "
            "GROUP BY b ORDER BY b",
            {"w": width, "sid": sid, "a": to_micros(start), "z": to_micros(end)},
        )
        return [
            Bucket(from_micros(b), _f(lo), _f(av), _f(hi), int(n), int(bad)) for b, lo, av, hi, n, bad in rows
        ]

    @reads
    def query_series(self, path: str, start: datetime, end: datetime, max_points: int) -> Series:
        """The samples of [start, end), downsampled to about ``max_points`` when there are more (see
        :class:`Series`): per time bucket the lowest and highest good numeric sample, the first and last text
        sample, the first BAD one; always the first and the newest sample of the range."""
        sid = self._sid(path)
        if sid is None:
            return Series([], 0, False, None)
        db = self.file.reader()
        a, z = to_micros(start), to_micros(end)
        args = {"sid": sid, "a": a, "z": z}
        where = "signal_id = :sid AND ts >= :a AND ts < :z"
        (total,) = db.execute(f"SELECT count(*) FROM sample WHERE {where}", args).fetchone()
        interval = typical_interval(db.execute(NEWEST_STAMPS.format(where=where), args).fetchall())
        if total <= max_points:
            rows = db.execute(
                f"SELECT ts, value, quality FROM sample WHERE {where} ORDER BY ts", args
            ).fetchall()
            return Series(self._samples(path, sid, rows), int(total), False, interval)
        buckets = max(1, max_points // 4)
        width = max(1, -(-(z - a) // buckets))
        bargs = {**args, "w": width}
        b = "(ts - :a) / :w"
        numeric = "typeof(value) IN ('integer', 'real')"
        bad = int(Quality.BAD)
        picked: dict[int, tuple[object, int]] = {}
        queries = (
            f"SELECT ts, min(value), quality FROM sample WHERE {where} AND {numeric} AND quality < {bad} GROUP BY {b}",
            f"SELECT ts, max(value), quality FROM sample WHERE {where} AND {numeric} AND quality < {bad} GROUP BY {b}",
            f"SELECT min(ts), value, quality FROM sample WHERE {where} AND NOT {numeric} GROUP BY {b}",
            f"SELECT max(ts), value, quality FROM sample WHERE {where} AND NOT {numeric} GROUP BY {b}",
            f"SELECT min(ts), value, quality FROM sample WHERE {where} AND quality >= {bad} GROUP BY {b}",
            f"SELECT ts, value, quality FROM sample WHERE {where} ORDER BY ts LIMIT 1",
            f"SELECT ts, value, quality FROM sample WHERE {where} ORDER BY ts DESC LIMIT 1",
        )
        for sql in queries:
            for ts, v, q in db.execute(sql, bargs):
                picked[ts] = (v, q)
        rows = sorted((ts, v, q) for ts, (v, q) in picked.items())
        return Series(self._samples(path, sid, rows), int(total), True, interval)

    def _samples(self, path: str, sid: int, rows: Sequence[tuple[int, object, int]]) -> list[Sample]:
        return [Sample(path, from_micros(ts), self._decode(sid, v), Quality(q)) for ts, v, q in rows]

    @reads
    def signal_types(self) -> dict[str, str]:
        return dict(self.file.reader().execute("SELECT path, dtype FROM signal ORDER BY path").fetchall())

    @reads
    def latest(self, pattern: str = "#") -> list[Sample]:
        rows = self.file.reader().execute(
            "SELECT s.id, s.path, x.ts, x.value, x.quality FROM signal s JOIN sample x ON x.signal_id = s.id "
            "AND x.ts = (SELECT max(ts) FROM sample WHERE signal_id = s.id) ORDER BY s.path"
        )
        out = []
        for sid, path, ts, v, q in rows:
            if pattern == "#" or matches(pattern, path):
                self._dtypes.setdefault(sid, "float")
                out.append(Sample(path, from_micros(ts), self._decode(sid, v), Quality(q)))
        return out

    @reads
    def signals(self) -> list[str]:
        return [r[0] for r in self.file.reader().execute("SELECT path FROM signal ORDER BY path")]

    @reads
    def query_events(self, **where: Unpack[EventFilter]) -> list[Event]:
        sql, args = events_query(mark="?", array=False, **where)
        rows = self.file.reader().execute(sql, args)
        return [Event(k, src, from_micros(ts), json.loads(d), key) for ts, k, src, d, key in rows]

    @reads
    def count_samples(self, path: str | None = None) -> int:
        if path is None:
            return int(self.file.reader().execute("SELECT count(*) FROM sample").fetchone()[0])
        sid = self._sid(path)
        if sid is None:
            return 0
        return int(
            self.file.reader()
            .execute("SELECT count(*) FROM sample WHERE signal_id = ?", (sid,))
            .fetchone()[0]
        )

    # --- counters and states for reports ---------------------------------------------------------------------

    @reads
    def last_before(self, path: str, ts: datetime) -> Sample | None:
        """The newest sample strictly before ``ts`` (the value a signal had at that instant)."""
        sid = self._sid(path)
        if sid is None:
            return None
        row = (
            self.file.reader()
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

    @reads
    def changes(self, path: str, start: datetime, end: datetime) -> list[tuple[int, Value]]:
        """(microseconds, value) of a signal's samples in [start, end), led by the last one before ``start``: a
        step function over the range, the shape a state timeline needs. Raw tuples, since a month of states for a
        plant is hundreds of thousands of rows and building objects for each costs more than reading them."""
        sid = self._sid(path)
        if sid is None:
            return []
        db = self.file.reader()
        a, z = to_micros(start), to_micros(end)
        first = db.execute(
            "SELECT ts, value FROM sample WHERE signal_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1", (sid, a)
        ).fetchall()
        rest = db.execute(
            "SELECT ts, value FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? ORDER BY ts", (sid, a, z)
        ).fetchall()
        return first + rest

    @reads
    def counter_increase(self, path: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """How much a machine counter grew in each span (a reset to a lower value counts from zero).

        Reads the value at each boundary through the primary key and the span's lowest and highest values in one
        aggregate; it scans a span's samples in order only if one lies outside the boundaries' values (the
        counter was reset inside it: it dropped below where it started, or rose above where it ended), so a
        30-day report costs index seeks and aggregates, not a scan in Python. A counter reset at the start of
        each shift, climbing past its old count before the span ends, is caught by its low value. Not caught: a
        span that starts at the lowest value the counter is ever reset to (0 right after a reset), with a reset
        back to it inside and a climb past the old count; ordering every span's samples to rule that out too
        costs a month's report more than its goal (the report's benchmark, BENCHMARKS.md).
        """
        sid = self._sid(path)
        if sid is None:
            return [0 for _ in spans]
        db = self.file.reader()
        out = []
        for a, z in spans:
            ua, uz = to_micros(a), to_micros(z)
            before = db.execute(
                "SELECT value FROM sample WHERE signal_id = ? AND ts < ? AND quality = 0 ORDER BY ts DESC LIMIT 1",
                (sid, ua),
            ).fetchone()
            mn, mx, n = db.execute(
                "SELECT min(value), max(value), count(*) FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ? "
                "AND quality = 0",
                (sid, ua, uz),
            ).fetchone()
            if not n:
                out.append(0)
                continue
            last = db.execute(
                "SELECT value FROM sample WHERE signal_id = ? AND ts < ? AND quality = 0 ORDER BY ts DESC LIMIT 1",
                (sid, uz),
            ).fetchone()[0]
            base = (
                before[0]
                if before is not None
                else db.execute(
                    "SELECT value FROM sample WHERE signal_id = ? AND ts >= ? AND quality = 0 ORDER BY ts LIMIT 1",
                    (sid, ua),
                ).fetchone()[0]
            )
            if base <= mn and mx <= last:
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
