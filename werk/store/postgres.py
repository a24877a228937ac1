"""The historian on a PostgreSQL server: the same contract as :class:`werk.store.sqlite.SQLiteHistorian`, for a plant
whose samples outgrow one file or that several werk processes (``werk worker``, API replicas) share.

What differs from SQLite, and why:

- **Batches go in by COPY.** A batch is copied into a temporary staging table (binary COPY, the fastest way into
  PostgreSQL), then moved with one ``INSERT ... SELECT ... ON CONFLICT (signal_id, ts) DO UPDATE``: the same
  idempotent upsert as SQLite's, so a batch delivered twice (a worker that died before its acknowledgement) stores
  nothing twice. A key twice in one batch keeps the last value, as SQLite's row-by-row upsert does (PostgreSQL
  refuses to touch a row twice in one statement, so the batch is de-duplicated before the COPY).
- **Samples are range-partitioned by day** (``sample_d<day number>``), made ahead at open and on demand when a
  batch brings a day that has none. Retention (:meth:`purge`) drops the partitions wholly before the cut-off, which
  costs nothing whatever their size, and deletes only in the one partition the cut-off falls into.
- **Values are in three typed columns** (``f`` float, ``i`` int and bool, ``s`` text), one of them set: what SQLite's
  untyped column does for free. Numeric means ``s IS NULL``, where SQLite asks ``typeof(value)``.
- **Several processes write at once.** New signals are made in their own short transaction, in path order, before
  the batch's (so two workers never deadlock on them and a rolled-back batch leaves no stale id); partitions are
  made under an advisory lock; the upsert touches rows in key order.

The downsampling of :meth:`query_series` keeps SQLite's semantics exactly (the same buckets, the same picks), with
``DISTINCT ON`` where SQLite takes a bare column beside ``min()``/``max()``.

A lost connection (the server restarted, a DBA ended the session) fails the call in progress with the driver's
error; the next call connects again. Nothing is retried here: the caller (the historian writer, a worker) decides,
and a worker acknowledges a batch only once :meth:`write_samples` has returned.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, NamedTuple, Unpack

import numpy as np
import numpy.typing as npt
import psycopg

from werk.core.model import Event, Quality, Sample, Value, from_micros, to_micros, utcnow
from werk.core.uns import matches
from werk.errors import StoreError
from werk.store.base import NEWEST_STAMPS, Bucket, EventFilter, Series, events_query, typical_interval
from werk.store.migrations import PG_HISTORIAN_MIGRATIONS, Migration, check_sequence
from werk.store.pg_connections import Conn, PgConnections

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
PARTITIONS_AHEAD = 2  # days made ahead of today at open, so the first batches of a day do not wait for DDL
_LOCK_PARTITIONS = 0x7765726B01  # advisory lock keys ("werk" + n): partition DDL, migrations
_LOCK_MIGRATIONS = 0x7765726B02

Row = tuple[int, int, float | None, int | None, str | None, int]  # signal_id, ts, f, i, s, quality

_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS sample_in (signal_id integer, ts bigint, f double precision, i bigint, "
    "s text, quality smallint) ON COMMIT DELETE ROWS"
)
_MOVE = (
    "INSERT INTO sample (signal_id, ts, f, i, s, quality) "
    "SELECT signal_id, ts, f, i, s, quality FROM sample_in ORDER BY signal_id, ts "
    "ON CONFLICT (signal_id, ts) DO UPDATE SET f = excluded.f, i = excluded.i, s = excluded.s, "
    "quality = excluded.quality"
)
_COLS = "ts, f, i, s, quality"
_NUM = "coalesce(f, i::double precision)"


_DTYPES = {bool: "bool", int: "int", float: "float", str: "str"}


def _dtype(v: Value) -> str:
    return _DTYPES.get(type(v)) or (
        "bool"
        if isinstance(v, bool)
        else "int"
        if isinstance(v, int)
        else "float"
        if isinstance(v, float)
        else "str"
    )


def _columns(v: Value) -> tuple[float | None, int | None, str | None]:
    t = type(v)
    if t is float:
        return v, None, None  # type: ignore[return-value]
    if t is int:
        return None, v, None  # type: ignore[return-value]
    if t is str:
        return None, None, v  # type: ignore[return-value]
    if isinstance(v, bool):
        return None, int(v), None
    if isinstance(v, int):
        return None, int(v), None
    if isinstance(v, float):
        return float(v), None, None
    if isinstance(v, str):
        return None, None, str(v)
    raise TypeError(f"a sample's value is a float, int, bool or str, not {type(v).__name__}")


def _raw(f: float | None, i: int | None, s: str | None) -> Value:
    if s is not None:
        return s
    if i is not None:
        return i
    return f  # type: ignore[return-value]


def _day(ts_us: int) -> int:
    return ts_us // DAY_US


def _part(day: int) -> str:
    return f"sample_d{day}" if day >= 0 else f"sample_dm{-day}"


def _f(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


_COPY_COLUMNS = "signal_id, ts, f, i, s, quality"
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_PGCOPY_TRAILER = b"\xff\xff"
#: one row of COPY's binary format for a float sample: field count, then length and value of signal_id (int4), ts
#: (int8), f (float8), i and s (NULL: length -1), quality (int2); big-endian, no padding (48 bytes)
_FLOAT_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("l_sid", ">i4"),
        ("sid", ">i4"),
        ("l_ts", ">i4"),
        ("ts", ">i8"),
        ("l_f", ">i4"),
        ("f", ">f8"),
        ("l_i", ">i4"),
        ("l_s", ">i4"),
        ("l_q", ">i4"),
        ("q", ">i2"),
    ]
)


_Column = npt.NDArray[Any] | Sequence[float]


class _FloatColumns(NamedTuple):
    """A batch of float samples as COPY takes it, column by column."""

    sids: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    quality: npt.NDArray[np.integer[Any]]


def _float_rows(sids: _Column, stamps: _Column, values: _Column, qualities: _Column) -> bytes:
    """Float samples as the whole body of a binary COPY into ``sample``, built by numpy column by column: about
    a tenth of what psycopg's ``write_row`` costs a row in Python, which was a worker's largest cost."""
    rows = np.empty(len(sids), dtype=_FLOAT_ROW)
    rows["n"] = 6
    rows["l_sid"], rows["sid"] = 4, sids
    rows["l_ts"], rows["ts"] = 8, stamps
    rows["l_f"], rows["f"] = 8, values
    rows["l_i"] = rows["l_s"] = -1
    rows["l_q"], rows["q"] = 2, qualities
    return _PGCOPY_HEADER + rows.tobytes() + _PGCOPY_TRAILER


def apply_migrations(conn: Conn, owner: str, migrations: tuple[Migration, ...], where: str) -> int:
    """Bring ``owner``'s tables on the server to its newest migration, each step in one transaction, recorded in
    ``werk_migration`` as in the werk file; refuses a database newer than the code. Several processes starting at
    once take turns (an advisory lock)."""
    check_sequence(owner, migrations)
    latest = migrations[-1].version if migrations else 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATIONS,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS werk_migration (owner text NOT NULL, version integer NOT NULL, "
            "description text NOT NULL, applied_ts bigint NOT NULL, PRIMARY KEY (owner, version))"
        )
        row = conn.execute("SELECT max(version) FROM werk_migration WHERE owner = %s", (owner,)).fetchone()
        current = int(row[0] or 0) if row else 0
        if current > latest:
            raise StoreError(
                f"{where}: the tables of {owner!r} are at schema version {current}, newer than this werk knows "
                f"({latest}); upgrade werk or point it at another database"
            )
        for m in migrations:
            if m.version <= current:
                continue
            for stmt in m.statements():
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO werk_migration VALUES (%s, %s, %s, %s)",
                (owner, m.version, m.description, to_micros(utcnow())),
            )
    return max(current, latest)


class PostgresHistorian(PgConnections):
    """Samples and events on a PostgreSQL server at ``url`` (``postgresql://user@host:5432/db``; libpq's
    parameters such as ``options=-csearch_path=...`` and ``sslmode`` pass through).

    Thread-safe: one write connection under a lock, one autocommit read connection per thread. ``close`` waits
    (up to :data:`werk.store.connections.CLOSE_WAIT_S`) for reads still running in other threads and refuses later ones.
    """

    OWNER = "historian"

    def __init__(self, url: str) -> None:
        super().__init__(url, "the historian")
        self._ids: dict[str, tuple[int, str]] = {}
        self._dtypes: dict[int, str] = {}
        self._parts: set[int] | None = None  # days with a partition, as far as this process knows
        self.direct = 0  # transactions that went straight in by COPY
        self.upserts = 0  # ... and those that met a stored key and went through the upsert

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        conn = self._connect()
        try:
            apply_migrations(conn, self.OWNER, PG_HISTORIAN_MIGRATIONS, self.where)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"{self.where}: cannot migrate the historian's tables: {exc}") from None
        except BaseException:
            conn.close()
            raise
        self._w = conn
        self._readers.opened()
        with self.write_lock:
            self._writer()
            self._load_signals()
            today = _day(to_micros(utcnow()))
            self._ensure_partitions(set(range(today, today + PARTITIONS_AHEAD + 1)))

    def schema_version(self) -> int:
        with self._read() as db:
            row = db.execute(
                "SELECT max(version) FROM werk_migration WHERE owner = %s", (self.OWNER,)
            ).fetchone()
        return int(row[0] or 0) if row else 0

    # --- writes --------------------------------------------------------------------------------------------------

    def _load_signals(self) -> None:
        self._ids.clear()
        for sid, path, dtype in self._writer().execute("SELECT id, path, dtype FROM signal"):
            self._ids[path] = (sid, dtype)
            self._dtypes[sid] = dtype

    def _signal_ids(self, wanted: dict[str, str]) -> None:
        """Make or retype the signals of ``wanted`` (path -> dtype) that the cache lacks, in path order, in a
        transaction of their own: committed before the batch that needs them, so nothing rolls them back."""
        todo = {}
        for path, dtype in wanted.items():
            hit = self._ids.get(path)
            if hit is None or (hit[1] != dtype and not (hit[1] == "float" and dtype == "int")):
                todo[path] = dtype
        if not todo:
            return
        conn = self._writer()
        with conn.transaction():
            for path in sorted(todo):
                dtype = todo[path]
                row = conn.execute(
                    "INSERT INTO signal (path, dtype) VALUES (%s, %s) ON CONFLICT (path) DO UPDATE SET "
                    "dtype = CASE WHEN signal.dtype = 'float' AND excluded.dtype = 'int' THEN signal.dtype "
                    "ELSE excluded.dtype END RETURNING id, dtype",
                    (path, dtype),
                ).fetchone()
                assert row is not None
                self._ids[path] = (int(row[0]), row[1])
                self._dtypes[int(row[0])] = row[1]

    def _known_parts(self) -> set[int]:
        if self._parts is None:
            rows = self._writer().execute(
                "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                "WHERE h.inhparent = 'sample'::regclass"
            )
            parts = set()
            for (name,) in rows:
                tail = name.removeprefix("sample_d")
                with contextlib.suppress(ValueError):
                    parts.add(-int(tail[1:]) if tail.startswith("m") else int(tail))
            self._parts = parts
        return self._parts

    def _ensure_partitions(self, days: set[int]) -> None:
        missing = days - self._known_parts()
        if not missing:
            return
        conn = self._writer()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITIONS,))
            for day in sorted(missing):
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {_part(day)} PARTITION OF sample "
                    f"FOR VALUES FROM ({day * DAY_US}) TO ({(day + 1) * DAY_US})"
                )
        self._known_parts().update(missing)

    def write_samples(self, samples: Sequence[Sample]) -> int:
        """Upsert a batch by (signal, ts) in one transaction; the number of samples given."""
        return self.write_rows([(s.path, to_micros(s.ts), s.value, int(s.quality)) for s in samples])

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The write lock; whatever fails inside (a lost connection, a partition dropped by another process's
        retention), the caches may be wrong then: they are read again on the next call."""
        with self.write_lock:
            try:
                yield
            except BaseException:
                self._parts = None
                with contextlib.suppress(Exception):
                    if self._w is not None and not self._w.broken:
                        self._load_signals()
                    else:
                        self._ids.clear()
                raise

    def write_rows(self, rows: Sequence[tuple[str, int, Value, int]]) -> int:
        """:meth:`write_samples` of (path, microseconds, value, quality) rows, as a worker decodes them from the
        log (no Sample objects in between)."""
        if not rows:
            return 0
        paths, stamps, values, qualities = zip(*rows, strict=True)
        if all(type(v) is float for v in values):  # a batch of measurements: the fast path
            where: dict[str, int] = {}
            index = np.fromiter((where.setdefault(p, len(where)) for p in paths), np.uint32, len(paths))
            return self.write_floats(
                list(where),
                index,
                np.array(stamps, np.int64),
                np.array(values, np.float64),
                np.array(qualities, np.int16),  # smallint, as the column
            )
        with self._writing():
            # the last value's type per signal, as SQLite's row-by-row upsert leaves it
            last = {r[0]: r[2] for r in rows}
            self._signal_ids({p: _dtype(v) for p, v in last.items()})
            ids = self._ids
            out: list[Row] = [
                (ids[p][0], ts, *_columns(v), q)
                for p, ts, v, q in zip(paths, stamps, values, qualities, strict=True)
            ]
            self._ensure_partitions({r[1] // DAY_US for r in out})
            self._copy_upsert(lambda: out, lambda cur: self._copy(cur, "sample", out))
        return len(rows)

    def write_floats(
        self,
        paths: Sequence[str],
        index: npt.NDArray[np.uint32],
        ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.integer[Any]],
    ) -> int:
        """:meth:`write_samples` of float samples column by column (sample ``k`` is ``paths[index[k]]`` at ``ts[k]``
        microseconds; as :class:`werk.bus.jetstream.Floats`): what a worker takes from the log, without a Python
        object per sample. The number of samples."""
        n = len(ts)
        if not n:
            return 0
        with self._writing():
            self._signal_ids(dict.fromkeys(paths, "float"))
            table = np.fromiter((self._ids[p][0] for p in paths), np.int32, len(paths))
            sids = table[index]
            self._ensure_partitions(set(np.unique(ts // DAY_US).tolist()))

            def rows() -> list[Row]:
                return list(
                    zip(
                        sids.tolist(),
                        ts.tolist(),
                        values.tolist(),
                        repeat(None),
                        repeat(None),
                        quality.tolist(),
                        strict=False,
                    )
                )

            columns = _FloatColumns(sids, ts, values, quality)
            self._copy_upsert(rows, lambda cur: self._copy_floats(cur, columns))
        return n

    def _copy_floats(self, cur: psycopg.Cursor[Any], columns: _FloatColumns) -> None:
        """COPY float samples straight into ``sample``, in COPY's binary format (:func:`_float_rows`)."""
        with cur.copy(f"COPY sample ({_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(_float_rows(*columns))

    def _copy_upsert(
        self, rows: Callable[[], Collection[Row]], direct: Callable[[psycopg.Cursor[Any]], None]
    ) -> None:
        """One transaction: ``direct`` COPYs the rows straight in (the common case, where none of them is stored
        yet: as fast as PostgreSQL takes rows); if one is stored already (a batch delivered again), a key comes
        twice in the batch, or a concurrent writer holds one, that COPY is rolled back to its savepoint and
        ``rows()`` go through the staging table and the upsert into ``sample`` instead."""
        conn = self._writer()
        with conn.transaction(), conn.cursor() as cur:
            try:
                with conn.transaction():  # a savepoint
                    direct(cur)
                self.direct += 1
                return
            except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
                self.upserts += 1
            # a key twice in the batch keeps its last value (PostgreSQL touches a row once per statement)
            keyed = {(r[0], r[1]): r for r in rows()}
            cur.execute(_STAGE)
            self._copy(cur, "sample_in", keyed.values())
            cur.execute(_MOVE)

    @staticmethod
    def _copy(cur: psycopg.Cursor[Any], table: str, rows: Collection[Row]) -> None:
        with cur.copy(f"COPY {table} ({_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "int8", "float8", "int8", "text", "int2"])
            for r in rows:
                cp.write_row(r)

    def write_events(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        rows = [(to_micros(e.ts), e.kind, e.source, json.dumps(e.data, default=str), e.key) for e in events]
        with self.write_lock:
            conn = self._writer()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(  # an event whose key is stored already is left as it is
                    "INSERT INTO event (ts, kind, source, data, key) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    rows,
                )
        return len(events)

    def purge(self, before: datetime) -> int:
        """Delete samples and events older than ``before``: the day partitions wholly before it are dropped, the
        one it falls into loses its older rows; the number of rows removed."""
        cutoff = to_micros(before)
        removed = 0
        with self.write_lock:
            conn = self._writer()
            for day in sorted(d for d in self._known_parts() if (d + 1) * DAY_US <= cutoff):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITIONS,))
                    exists = conn.execute("SELECT to_regclass(%s)", (_part(day),)).fetchone()
                    if exists is not None and exists[0] is not None:
                        row = conn.execute(f"SELECT count(*) FROM {_part(day)}").fetchone()
                        removed += int(row[0]) if row else 0
                        conn.execute(f"DROP TABLE {_part(day)}")
                self._known_parts().discard(day)
            removed += conn.execute("DELETE FROM sample WHERE ts < %s", (cutoff,)).rowcount
            removed += conn.execute("DELETE FROM event WHERE ts < %s", (cutoff,)).rowcount
        return removed

    # --- reads ---------------------------------------------------------------------------------------------------

    def _sid(self, db: Conn, path: str) -> int | None:
        hit = self._ids.get(path)
        if hit is not None:
            return hit[0]
        row = db.execute("SELECT id, dtype FROM signal WHERE path = %s", (path,)).fetchone()
        if row is None:
            return None
        self._dtypes[row[0]] = row[1]
        return int(row[0])

    def _sample(self, path: str, sid: int, ts: int, f: Any, i: Any, s: Any, q: int) -> Sample:
        v = _raw(f, i, s)
        if self._dtypes.get(sid) == "bool":
            v = bool(v)
        return Sample(path, from_micros(ts), v, Quality(q))

    def query_raw(self, path: str, start: datetime, end: datetime, limit: int = 10_000) -> list[Sample]:
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return []
            rows = db.execute(
                f"SELECT {_COLS} FROM sample WHERE signal_id = %s AND ts >= %s AND ts < %s ORDER BY ts LIMIT %s",
                (sid, to_micros(start), to_micros(end), limit),
            ).fetchall()
        return [self._sample(path, sid, *r) for r in rows]

    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]:
        if bucket_s <= 0:
            raise ValueError("bucket width must be positive (seconds)")
        bad = int(Quality.BAD)
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return []
            width = max(1, int(bucket_s * 1_000_000))
            rows = db.execute(
                "SELECT (ts / %(w)s) * %(w)s AS b, min(g), avg(g), max(g), count(g), "
                f"count(*) FILTER (WHERE quality >= {bad}) FROM ("
                f"  SELECT ts, quality, CASE WHEN quality < {bad} THEN {_NUM} END AS g FROM sample "
                "   WHERE signal_id = %(sid)s AND ts >= %(a)s AND ts < %(z)s AND s IS NULL"
                ") x GROUP BY b ORDER BY b",
                {"w": width, "sid": sid, "a": to_micros(start), "z": to_micros(end)},
            ).fetchall()
        return [
            Bucket(from_micros(int(b)), _f(lo), _f(av), _f(hi), int(n), int(nb))
            for b, lo, av, hi, n, nb in rows
        ]

    def query_series(self, path: str, start: datetime, end: datetime, max_points: int) -> Series:
        """As :meth:`werk.store.sqlite.SQLiteHistorian.query_series`: per time bucket the lowest and highest good
        numeric sample, the first and last text sample, the first BAD one; always the range's first and newest."""
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return Series([], 0, False, None)
            a, z = to_micros(start), to_micros(end)
            args: dict[str, Any] = {"sid": sid, "a": a, "z": z}
            where = "signal_id = %(sid)s AND ts >= %(a)s AND ts < %(z)s"
            row = db.execute(f"SELECT count(*) FROM sample WHERE {where}", args).fetchone()
            total = int(row[0]) if row else 0
            interval = typical_interval(db.execute(NEWEST_STAMPS.format(where=where), args).fetchall())
            if total <= max_points:
                rows = db.execute(f"SELECT {_COLS} FROM sample WHERE {where} ORDER BY ts", args).fetchall()
                return Series([self._sample(path, sid, *r) for r in rows], total, False, interval)
            buckets = max(1, max_points // 4)
            args["w"] = max(1, -(-(z - a) // buckets))
            bad = int(Quality.BAD)
            per_bucket = (
                f"SELECT DISTINCT ON (b) {_COLS} FROM (SELECT (ts - %(a)s) / %(w)s AS b, {_COLS} FROM sample "
                "WHERE {where} AND {filter}) x ORDER BY b, {order}"
            )
            picks = (
                (f"s IS NULL AND quality < {bad}", f"{_NUM}, ts"),
                (f"s IS NULL AND quality < {bad}", f"{_NUM} DESC, ts"),
                ("s IS NOT NULL", "ts"),
                ("s IS NOT NULL", "ts DESC"),
                (f"quality >= {bad}", "ts"),
            )
            queries = [per_bucket.format(where=where, filter=flt, order=order) for flt, order in picks]
            queries.append(f"SELECT {_COLS} FROM sample WHERE {where} ORDER BY ts LIMIT 1")
            queries.append(f"SELECT {_COLS} FROM sample WHERE {where} ORDER BY ts DESC LIMIT 1")
            picked: dict[int, tuple[Any, ...]] = {}
            for sql in queries:
                for r in db.execute(sql, args):
                    picked[r[0]] = r
        rows = [picked[ts] for ts in sorted(picked)]
        return Series([self._sample(path, sid, *r) for r in rows], total, True, interval)

    def signal_types(self) -> dict[str, str]:
        with self._read() as db:
            return {p: t for p, t in db.execute("SELECT path, dtype FROM signal ORDER BY path")}

    def latest(self, pattern: str = "#") -> list[Sample]:
        with self._read() as db:
            rows = db.execute(
                f"SELECT g.id, g.path, g.dtype, x.ts, x.f, x.i, x.s, x.quality FROM signal g CROSS JOIN LATERAL "
                f"(SELECT {_COLS} FROM sample WHERE signal_id = g.id ORDER BY ts DESC LIMIT 1) x ORDER BY g.path"
            ).fetchall()
        out = []
        for sid, path, dtype, ts, f, i, s, q in rows:
            if pattern == "#" or matches(pattern, path):
                self._dtypes.setdefault(sid, dtype)
                out.append(self._sample(path, sid, ts, f, i, s, q))
        return out

    def signals(self) -> list[str]:
        with self._read() as db:
            return [r[0] for r in db.execute("SELECT path FROM signal ORDER BY path")]

    def query_events(self, **where: Unpack[EventFilter]) -> list[Event]:
        sql, args = events_query(mark="%s", array=True, **where)
        with self._read() as db:
            rows = db.execute(sql, args).fetchall()
        return [Event(k, src, from_micros(ts), json.loads(d), key) for ts, k, src, d, key in rows]

    def count_samples(self, path: str | None = None) -> int:
        with self._read() as db:
            if path is None:
                row = db.execute("SELECT count(*) FROM sample").fetchone()
            else:
                sid = self._sid(db, path)
                if sid is None:
                    return 0
                row = db.execute("SELECT count(*) FROM sample WHERE signal_id = %s", (sid,)).fetchone()
        return int(row[0]) if row else 0

    def count_events(self) -> int:
        with self._read() as db:
            row = db.execute("SELECT count(*) FROM event").fetchone()
        return int(row[0]) if row else 0

    # --- counters and states for reports ---------------------------------------------------------------------

    def last_before(self, path: str, ts: datetime) -> Sample | None:
        """The newest sample strictly before ``ts`` (the value a signal had at that instant)."""
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return None
            row = db.execute(
                f"SELECT {_COLS} FROM sample WHERE signal_id = %s AND ts < %s ORDER BY ts DESC LIMIT 1",
                (sid, to_micros(ts)),
            ).fetchone()
        return None if row is None else self._sample(path, sid, *row)

    def changes(self, path: str, start: datetime, end: datetime) -> list[tuple[int, Value]]:
        """(microseconds, value) of a signal's samples in [start, end), led by the last one before ``start``, as
        raw values (a bool as 0 or 1), as SQLite's."""
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return []
            a, z = to_micros(start), to_micros(end)
            first = db.execute(
                "SELECT ts, f, i, s FROM sample WHERE signal_id = %s AND ts < %s ORDER BY ts DESC LIMIT 1",
                (sid, a),
            ).fetchall()
            rest = db.execute(
                "SELECT ts, f, i, s FROM sample WHERE signal_id = %s AND ts >= %s AND ts < %s ORDER BY ts",
                (sid, a, z),
            ).fetchall()
        return [(ts, _raw(f, i, s)) for ts, f, i, s in first + rest]

    def counter_increase(self, path: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """How much a machine counter grew in each span (a reset to a lower value counts from zero); as SQLite's:
        index seeks at the boundaries and one aggregate, a scan only of a span whose values leave the boundaries'
        (a reset inside), with the same blind spot (SQLiteHistorian.counter_increase)."""
        with self._read() as db:
            sid = self._sid(db, path)
            if sid is None:
                return [0 for _ in spans]

            def one(sql: str, *args: object) -> Any:
                row = db.execute(sql, (sid, *args)).fetchone()
                return None if row is None else (row[0] if row[1] is None else row[1])

            good = "signal_id = %s AND quality = 0"
            out = []
            for a, z in spans:
                ua, uz = to_micros(a), to_micros(z)
                before = one(f"SELECT f, i FROM sample WHERE {good} AND ts < %s ORDER BY ts DESC LIMIT 1", ua)
                stats = db.execute(
                    f"SELECT min({_NUM}), max({_NUM}), count(*) FROM sample WHERE {good} AND ts >= %s AND ts < %s",
                    (sid, ua, uz),
                ).fetchone()
                mn, mx, n = stats if stats is not None else (None, None, 0)
                if not n:
                    out.append(0)
                    continue
                last = one(f"SELECT f, i FROM sample WHERE {good} AND ts < %s ORDER BY ts DESC LIMIT 1", uz)
                base = (
                    before
                    if before is not None
                    else one(f"SELECT f, i FROM sample WHERE {good} AND ts >= %s ORDER BY ts LIMIT 1", ua)
                )
                if base <= mn and mx <= last:
                    out.append(int(last - base))
                    continue
                total = 0
                prev = before
                for f, i in db.execute(
                    f"SELECT f, i FROM sample WHERE {good} AND ts >= %s AND ts < %s ORDER BY ts",
                    (sid, ua, uz),
                ):
                    v = f if i is None else i
                    if prev is not None:
                        total += v - prev if v >= prev else v
                    prev = v
                out.append(int(total))
        return out
