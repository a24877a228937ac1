"""Minute rollups of the PostgreSQL historian: ``sample_1m`` holds per signal and minute what a chart's downsampling
and the bucket API need, so a week or four of a signal reads 10,080 or 40,320 rows per signal instead of every
sample, and gives the same answer as the raw query.

The design, a continuous aggregate done by hand:

- **Touched minutes are marked in the writer's own transaction**, by statement triggers on ``sample`` (insert and
  update; transition tables): each statement adds the (signal, minute) pairs it touched to
  ``sample_1m_dirty``, in key order, skipping those marked already. Every writer marks (``werk worker``, ``werk
  serve``, ``werk store migrate``, a DBA's ``UPDATE``). A pair is marked once until it is refreshed, so the cost
  is one lookup per pair and statement, not per sample. The one exception is this class's own fast path
  (:meth:`RollupHistorian._copy_floats`, every float batch of a worker): it COPYs into the day partitions by name,
  where the parent's statement triggers do not fire, and marks the pairs itself in the same transaction (computed
  by numpy from the columns it copies): the triggers' transition tables and PostgreSQL's partition routing cost a
  COPY about 40% of PostgreSQL's CPU per sample, the explicit marking next to nothing. Deletes are not marked: a trigger would hold every row of retention's
  delete in memory; retention marks the one minute it cuts itself (:meth:`RollupHistorian.purge`), and samples
  deleted by hand need their minutes marked by hand (``INSERT INTO sample_1m_dirty``).
- **The rollup is refreshed from a watermark**: :meth:`RollupHistorian.refresh_rollups` takes the marked minutes
  that ended more than :data:`SETTLE_S` ago, recomputes each from its raw samples and removes their marks, in one
  transaction; one process refreshes at a time (an advisory lock), the others skip. The minute still being written
  stays marked until it settles, so it is aggregated once, not at every batch. Late data (a backfill, an edge's
  spool replayed after a day) marks its old minutes again, and the next refresh redoes them.
- **Reads are exact at every instant.** A reader takes one snapshot (repeatable read) and treats every marked minute
  as raw: a marked minute is read from ``sample``, an unmarked one from ``sample_1m``. A writer's samples and their
  marks commit together, a refresh's new rows and the removal of their marks too, so in any snapshot an unmarked
  minute's rollup row is exactly the aggregate of its raw samples. Minutes cut by a boundary of the query (the
  range's ends, a chart bucket's edges) are read raw as well.
- **Partitioned and retained like the samples**: ``sample_1m`` is range-partitioned by week (``sample_1m_w<n>``,
  made on demand), and :meth:`RollupHistorian.purge` drops its weeks wholly before the cut-off and deletes inside
  the one it falls into, after the samples' own purge.

What a minute keeps: counts (all samples, good and uncertain numbers, BAD numbers), the sum of the good numbers (for
a bucket's average), the lowest and highest good number with the time of its first occurrence, the first and last
sample's time, of text samples too, and the first BAD sample's time. A chart's picks (see
:meth:`werk.store.postgres.PostgresHistorian.query_series`) are then chosen among the minutes' candidates with the
same order the raw query uses (value, then time), and the picked samples are read by key.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime
from typing import Any

import numpy as np
import psycopg

from werk.core.model import Quality, from_micros, to_micros, utcnow
from werk.errors import StoreError
from werk.store.base import NEWEST_STAMPS, Bucket, Series, typical_interval
from werk.store.migrations import Migration
from werk.store.pg_connections import Conn
from werk.store.postgres import (
    _COLS,
    _COPY_COLUMNS,
    _NUM,
    DAY_US,
    PostgresHistorian,
    _f,
    _float_rows,
    _FloatColumns,
    _part,
    apply_migrations,
)

log = logging.getLogger(__name__)

MINUTE_US = 60_000_000
WEEK_US = 7 * 86_400_000_000
SETTLE_S = 90.0  # a minute is rolled up once it ended this long ago (later samples mark it again)
REFRESH_KEYS = 20_000  # marked minutes refreshed in one transaction at most
MIN_CHART_BUCKET_US = (
    5 * MINUTE_US
)  # narrower chart buckets read raw samples (most minutes would be cut anyway)
_LOCK_REFRESH = 0x7765726B03
REFRESH_CONNECTION = "werk rollup refresh"  # the refresh's application_name, to tell it apart on the server
OWNER = "historian_rollup"
# the planner guesses the raw minutes' rows from a whole range's statistics, far too many, and would compile the
# query (JIT) for most of a second to save milliseconds
_NO_JIT = "SET LOCAL jit = off"
BAD = int(Quality.BAD)

# the floor of a timestamp to its minute, for negative ones too (integer % truncates towards zero)
_MINUTE_OF = f"(ts - (((ts % {MINUTE_US}) + {MINUTE_US}) % {MINUTE_US}))"

_MIGRATIONS = (
    Migration(
        1,
        "minute rollups of samples, the minutes touched since their refresh, the triggers that mark them",
        "",
        whole=(
            """
            CREATE TABLE IF NOT EXISTS sample_1m (
                signal_id     integer NOT NULL,
                bucket        bigint NOT NULL,           -- the minute's start, microseconds since 1970 UTC
                n             integer NOT NULL,          -- samples
                n_num         integer NOT NULL,          -- numeric samples of quality good or uncertain
                n_bad         integer NOT NULL,          -- numeric samples of quality BAD
                sum_num       double precision,          -- sum of the n_num values
                min_v         double precision,          -- lowest of them, and when it came first
                min_ts        bigint,
                max_v         double precision,          -- highest of them, and when it came first
                max_ts        bigint,
                first_ts      bigint NOT NULL,
                last_ts       bigint NOT NULL,
                text_first_ts bigint,
                text_last_ts  bigint,
                bad_first_ts  bigint,                    -- first sample of quality BAD (any type)
                PRIMARY KEY (signal_id, bucket)
            ) PARTITION BY RANGE (bucket)
            """,
            "CREATE TABLE IF NOT EXISTS sample_1m_dirty (signal_id integer NOT NULL, bucket bigint NOT NULL, "
            "PRIMARY KEY (signal_id, bucket))",
            # marks in key order: two writers marking the same minutes take their keys in the same order
            f"""
            CREATE OR REPLACE FUNCTION werk_sample_touched() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO sample_1m_dirty (signal_id, bucket)
                SELECT DISTINCT t.signal_id, t.bucket FROM (
                    SELECT signal_id, {_MINUTE_OF} AS bucket FROM touched
                ) t
                WHERE NOT EXISTS (
                    SELECT 1 FROM sample_1m_dirty d WHERE d.signal_id = t.signal_id AND d.bucket = t.bucket
                )
                ORDER BY 1, 2
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER sample_inserted AFTER INSERT ON sample REFERENCING NEW TABLE AS touched "
            "FOR EACH STATEMENT EXECUTE FUNCTION werk_sample_touched()",
            "CREATE TRIGGER sample_updated AFTER UPDATE ON sample REFERENCING NEW TABLE AS touched "
            "FOR EACH STATEMENT EXECUTE FUNCTION werk_sample_touched()",
            # what was stored before the triggers existed is rolled up by the first refreshes
            f"INSERT INTO sample_1m_dirty (signal_id, bucket) SELECT DISTINCT signal_id, {_MINUTE_OF} FROM sample "
            "ON CONFLICT DO NOTHING",
        ),
    ),
)

_ROLLUP_COLS = (
    "signal_id, bucket, n, n_num, n_bad, sum_num, min_v, min_ts, max_v, max_ts, first_ts, last_ts, "
    "text_first_ts, text_last_ts, bad_first_ts"
)

# each marked minute's aggregate from its raw samples (for the refresh): the minutes to do, in runs of consecutive
# minutes per signal, each run read as one index range
_AGGREGATE = f"""
    WITH spans AS (
        SELECT signal_id, min(bucket) AS lo, max(bucket) + {MINUTE_US} AS hi FROM (
            SELECT signal_id, bucket,
                bucket - {MINUTE_US} * row_number() OVER (PARTITION BY signal_id ORDER BY bucket) AS run
            FROM (SELECT DISTINCT signal_id, bucket FROM rollup_todo) d
        ) q GROUP BY signal_id, run
    ), x AS (
        SELECT m.signal_id, y.* FROM spans m CROSS JOIN LATERAL (
            SELECT {_MINUTE_OF} AS bucket, {_COLS} FROM sample
            WHERE signal_id = m.signal_id AND ts >= m.lo AND ts < m.hi
            OFFSET 0  -- kept a subquery: an index range per run, whatever the planner's row estimates
        ) y
    )
    SELECT signal_id, bucket, count(*),
        count(*) FILTER (WHERE s IS NULL AND quality < {BAD}),
        count(*) FILTER (WHERE s IS NULL AND quality >= {BAD}),
        sum({_NUM}) FILTER (WHERE s IS NULL AND quality < {BAD}),
        min({_NUM}) FILTER (WHERE s IS NULL AND quality < {BAD}),
        (array_agg(ts ORDER BY {_NUM}, ts) FILTER (WHERE s IS NULL AND quality < {BAD}))[1],
        max({_NUM}) FILTER (WHERE s IS NULL AND quality < {BAD}),
        (array_agg(ts ORDER BY {_NUM} DESC, ts) FILTER (WHERE s IS NULL AND quality < {BAD}))[1],
        min(ts), max(ts),
        min(ts) FILTER (WHERE s IS NOT NULL), max(ts) FILTER (WHERE s IS NOT NULL),
        min(ts) FILTER (WHERE quality >= {BAD})
    FROM x GROUP BY signal_id, bucket
"""

# the minutes of a query's range, split into those read from the rollup (r) and those read raw (x): raw are the
# marked minutes and the minutes a boundary cuts (%(cut)s), read as runs of consecutive minutes (one index range
# each); the rollup's are the rest, wholly inside [a, z)
_SPLIT = f"""
    raw_min AS (
        SELECT bucket FROM sample_1m_dirty WHERE signal_id = %(sid)s AND bucket >= %(a0)s AND bucket < %(z)s
        UNION SELECT unnest(%(cut)s::bigint[])
    ),
    spans AS (
        SELECT min(bucket) AS lo, max(bucket) + {MINUTE_US} AS hi FROM (
            SELECT bucket, bucket - {MINUTE_US} * row_number() OVER (ORDER BY bucket) AS run FROM raw_min
        ) q GROUP BY run
    ),
    x AS (
        SELECT y.* FROM spans m CROSS JOIN LATERAL (
            SELECT {_COLS} FROM sample WHERE signal_id = %(sid)s
                AND ts >= greatest(m.lo, %(a)s) AND ts < least(m.hi, %(z)s)
            OFFSET 0  -- kept a subquery: an index range per run, whatever the planner's row estimates
        ) y
    ),
    r AS (
        SELECT bucket, n, n_num, n_bad, sum_num, min_v, min_ts, max_v, max_ts, text_first_ts, text_last_ts,
            bad_first_ts
        FROM sample_1m WHERE signal_id = %(sid)s AND bucket >= %(a)s AND bucket + {MINUTE_US} <= %(z)s
            AND bucket NOT IN (SELECT bucket FROM raw_min)
    )
"""

# a chart's picks per bucket k = (ts - a) / w among the minutes' candidates, as the raw query picks them: the lowest
# (highest) good number, the first of equal ones (PostgreSQL's order: NaN above every number and equal to itself, so
# min/max and = agree with the raw query's ORDER BY), the first and last text, the first BAD sample; hash aggregates,
# not a sort of every candidate
_PICKS = (
    "WITH "
    + _SPLIT
    + f""",
    good AS (
        SELECT (bucket - %(a)s) / %(w)s AS k, min_v AS lo, min_ts AS lo_ts, max_v AS hi, max_ts AS hi_ts
            FROM r WHERE n_num > 0
        UNION ALL SELECT (ts - %(a)s) / %(w)s, {_NUM}, ts, {_NUM}, ts FROM x WHERE s IS NULL AND quality < {BAD}
    ),
    txt AS (
        SELECT (bucket - %(a)s) / %(w)s AS k, text_first_ts AS t0, text_last_ts AS t1 FROM r
            WHERE text_first_ts IS NOT NULL
        UNION ALL SELECT (ts - %(a)s) / %(w)s, ts, ts FROM x WHERE s IS NOT NULL
    ),
    bad AS (
        SELECT (bucket - %(a)s) / %(w)s AS k, bad_first_ts AS t0 FROM r WHERE bad_first_ts IS NOT NULL
        UNION ALL SELECT (ts - %(a)s) / %(w)s, ts FROM x WHERE quality >= {BAD}
    )
    ,
    extremes AS (SELECT k, min(lo) AS lo, max(hi) AS hi FROM good GROUP BY k)
    SELECT 0, coalesce((SELECT sum(n) FROM r), 0) + (SELECT count(*) FROM x)
    UNION ALL SELECT 1, min(g.lo_ts) FROM good g JOIN extremes e USING (k) WHERE g.lo = e.lo GROUP BY k
    UNION ALL SELECT 1, min(g.hi_ts) FROM good g JOIN extremes e USING (k) WHERE g.hi = e.hi GROUP BY k
    UNION ALL SELECT 1, min(t0) FROM txt GROUP BY k
    UNION ALL SELECT 1, max(t1) FROM txt GROUP BY k
    UNION ALL SELECT 1, min(t0) FROM bad GROUP BY k
"""
)

# min, avg, max, count, bad per epoch-aligned bucket of width w (a multiple of a minute), as query_buckets
_BUCKETS = (
    "WITH "
    + _SPLIT
    + f""",
    parts AS (
        SELECT (bucket / %(w)s) * %(w)s AS b, min_v AS lo, sum_num AS su, max_v AS hi, n_num AS cnt, n_bad AS nb
            FROM r WHERE n_num + n_bad > 0
        UNION ALL SELECT (ts / %(w)s) * %(w)s, g, g, g, (g IS NOT NULL)::int, (quality >= {BAD})::int FROM (
            SELECT ts, quality, CASE WHEN quality < {BAD} THEN {_NUM} END AS g FROM x WHERE s IS NULL
        ) y
    )
    SELECT b, min(lo), sum(su) / nullif(sum(cnt), 0), max(hi), sum(cnt), sum(nb) FROM parts GROUP BY b ORDER BY b
"""
)


def _minute(ts: int) -> int:
    return ts - ts % MINUTE_US  # Python's % floors, negative times included


def _week_part(week: int) -> str:
    return f"sample_1m_w{week}" if week >= 0 else f"sample_1m_wm{-week}"


def install(conn: Conn, where: str) -> int:
    """Bring the rollup's tables and triggers to the newest version, in one transaction per step (the triggers and
    the marking of what is stored already together, so no write falls between); several processes starting at
    once take turns. The schema version."""
    return apply_migrations(conn, OWNER, _MIGRATIONS, where)


class RollupHistorian(PostgresHistorian):
    """:class:`PostgresHistorian` with minute rollups (module docstring): the same writes, the same answers; long
    ranges of :meth:`query_series` and minute-multiple buckets of :meth:`query_buckets` read the rollup.

    :meth:`refresh_rollups` must run now and then (``werk worker`` and ``werk serve`` on PostgreSQL do, every few
    seconds); while it does not, answers stay right and get slower (marked minutes are read raw).
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._weeks: set[int] | None = None
        self._refresh_lock = threading.Lock()
        self._r: Conn | None = (
            None  # the refresh's own connection: a refresh never holds up this process's writes
        )
        self.refreshed = 0  # minutes rolled up by this process

    def close(self) -> None:
        with self._refresh_lock:
            if self._r is not None:
                self._r.close()
                self._r = None
        super().close()

    def open(self) -> None:
        super().open()
        with self.write_lock:
            try:
                install(self._writer(), self.where)
            except BaseException:
                self.close()
                raise

    # --- writes --------------------------------------------------------------------------------------------------

    def _copy_floats(self, cur: psycopg.Cursor[Any], columns: _FloatColumns) -> None:
        """Float samples straight into their day partitions (named: no routing, and the parent's marking triggers
        do not fire), and their (signal, minute) pairs marked here, in the same transaction and in key order as the
        triggers mark them. A key stored already fails the COPY as it would on the parent (the caller's upsert then
        goes through ``sample``, where the triggers mark)."""
        sids, ts = columns.sids, columns.ts
        days = ts // DAY_US
        first, last = int(days.min()), int(days.max())
        for day in [first] if first == last else np.unique(days).tolist():
            on = slice(None) if first == last else days == day
            with cur.copy(f"COPY {_part(day)} ({_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
                cp.write(_float_rows(*(column[on] for column in columns)))
        # the distinct (signal, minute) pairs in key order; as one sorted int64 each where the batch spans fewer than
        # 2^32 minutes (8,000 years): the signal id (positive, a serial) in the high 32 bits, the minute counted
        # from the batch's first in the low ones (numpy's // floors, as Python's, negative times included)
        minute = ts // MINUTE_US
        base = int(minute.min())
        if int(minute.max()) - base < 1 << 32:
            keys = np.unique((sids.astype(np.int64) << 32) | (minute - base))
            signals, buckets = keys >> 32, ((keys & 0xFFFFFFFF) + base) * MINUTE_US
        else:
            pairs = np.unique(np.stack((sids.astype(np.int64), minute * MINUTE_US), axis=1), axis=0)
            signals, buckets = pairs[:, 0], pairs[:, 1]
        cur.execute(
            "INSERT INTO sample_1m_dirty (signal_id, bucket) SELECT * FROM unnest(%s::integer[], %s::bigint[]) "
            "AS t (signal_id, bucket) WHERE NOT EXISTS (SELECT 1 FROM sample_1m_dirty d "
            "WHERE d.signal_id = t.signal_id AND d.bucket = t.bucket) ON CONFLICT DO NOTHING",
            (signals.tolist(), buckets.tolist()),
        )

    # --- refresh -------------------------------------------------------------------------------------------------

    def refresh_rollups(self, now: datetime | None = None, limit: int = REFRESH_KEYS) -> int:
        """Roll up the marked minutes that ended :data:`SETTLE_S` before ``now`` (default: the clock's now), at most
        ``limit`` in this call; the number done, 0 when another process is refreshing."""
        mark = to_micros(now or utcnow()) - int(SETTLE_S * 1_000_000) - MINUTE_US
        with self._refresh_lock:
            if self._readers.closed:
                raise StoreError(f"{self.where}: the historian is closed")
            if self._r is None or self._r.closed or self._r.broken:
                if self._r is not None:
                    with contextlib.suppress(Exception):
                        self._r.close()
                self._r = None
                self._r = self._connect(REFRESH_CONNECTION)
            conn = self._r
            with conn.transaction():
                got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_REFRESH,)).fetchone()
                if got is None or not got[0]:
                    return 0
                conn.execute(_NO_JIT)
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS rollup_todo (signal_id integer, bucket bigint) "
                    "ON COMMIT DELETE ROWS"
                )
                n = conn.execute(
                    "WITH gone AS (DELETE FROM sample_1m_dirty WHERE (signal_id, bucket) IN ("
                    "  SELECT signal_id, bucket FROM sample_1m_dirty WHERE bucket < %s LIMIT %s"
                    ") RETURNING signal_id, bucket) INSERT INTO rollup_todo SELECT * FROM gone",
                    (mark, limit),
                ).rowcount
                if n <= 0:
                    return 0
                # the week's floor, for minutes before 1970 too (integer / truncates towards zero)
                weeks = {
                    int(w)
                    for (w,) in conn.execute(
                        f"SELECT DISTINCT (bucket - ((bucket % {WEEK_US}) + {WEEK_US}) % {WEEK_US}) / {WEEK_US} "
                        "FROM rollup_todo"
                    )
                }
                self._ensure_weeks(conn, weeks)
                conn.execute(
                    "DELETE FROM sample_1m r USING rollup_todo t WHERE r.signal_id = t.signal_id "
                    "AND r.bucket = t.bucket"
                )
                conn.execute(f"INSERT INTO sample_1m ({_ROLLUP_COLS}) {_AGGREGATE}")
        self.refreshed += n
        return n

    def refresh_all(self, now: datetime | None = None) -> int:
        """Refresh until no settled minute is marked (a backlog, a test); the number done."""
        total = 0
        while (n := self.refresh_rollups(now)) > 0:
            total += n
        return total

    def _known_weeks(self, conn: Conn) -> set[int]:
        if self._weeks is None:
            rows = conn.execute(
                "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                "WHERE h.inhparent = 'sample_1m'::regclass"
            )
            weeks = set()
            for (name,) in rows:
                tail = str(name).removeprefix("sample_1m_w")
                if tail.lstrip("m").isdigit():
                    weeks.add(-int(tail[1:]) if tail.startswith("m") else int(tail))
            self._weeks = weeks
        return self._weeks

    def _ensure_weeks(self, conn: Conn, weeks: set[int]) -> None:
        """Make the week partitions of ``sample_1m`` that ``weeks`` lack (inside the caller's transaction; the
        refresh lock makes this process the only one making them)."""
        known = self._known_weeks(conn)
        for week in sorted(weeks - known):
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_week_part(week)} PARTITION OF sample_1m "
                f"FOR VALUES FROM ({week * WEEK_US}) TO ({(week + 1) * WEEK_US})"
            )
        self._weeks = None  # read again after the commit (a rollback would leave a set that lies)

    # --- retention -----------------------------------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        """The samples' purge, then the rollup's: its weeks wholly before ``before`` dropped, the rest of its rows
        before the cut-off's minute deleted, and that minute marked (it lost its first samples)."""
        removed = super().purge(before)
        cut = _minute(to_micros(before))
        with self.write_lock, self._refresh_lock:
            conn = self._writer()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_REFRESH,))
                for week in sorted(w for w in self._known_weeks(conn) if (w + 1) * WEEK_US <= cut):
                    conn.execute(f"DROP TABLE IF EXISTS {_week_part(week)}")
                self._weeks = None
                # the minute the cut-off falls into lost its first samples: marked, so it is read raw and redone
                conn.execute(
                    "INSERT INTO sample_1m_dirty (signal_id, bucket) SELECT signal_id, bucket FROM sample_1m "
                    "WHERE bucket = %s ORDER BY 1 ON CONFLICT DO NOTHING",
                    (cut,),
                )
                conn.execute("DELETE FROM sample_1m WHERE bucket < %s", (cut,))
                conn.execute("DELETE FROM sample_1m_dirty WHERE bucket < %s", (cut,))
        return removed

    # --- reads ---------------------------------------------------------------------------------------------------

    def query_series(self, path: str, start: datetime, end: datetime, max_points: int) -> Series:
        """As :meth:`PostgresHistorian.query_series`, sample for sample; a range whose chart buckets are at least
        :data:`MIN_CHART_BUCKET_US` wide reads the rollup for the minutes it can."""
        a, z = to_micros(start), to_micros(end)
        buckets = max(1, max_points // 4)
        w = max(1, -(-(z - a) // buckets))
        if w < MIN_CHART_BUCKET_US or z <= a:
            return super().query_series(path, start, end, max_points)
        # the minutes a chart bucket's edge cuts (and the range's ends) are read raw
        edges = {min(a + k * w, z) for k in range(buckets + 1)} | {z}
        cut = sorted({_minute(e) for e in edges if e % MINUTE_US} | {_minute(a), _minute(z)})
        with self._read() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            db.execute(_NO_JIT)
            sid = self._sid(db, path)
            if sid is None:
                return Series([], 0, False, None)
            args: dict[str, Any] = {"sid": sid, "a": a, "z": z, "a0": _minute(a), "w": w, "cut": cut}
            rows = db.execute(_PICKS, args).fetchall()
            total = int(next(v for kind, v in rows if kind == 0))
            if total <= max_points:
                return super().query_series(path, start, end, max_points)
            where = "signal_id = %(sid)s AND ts >= %(a)s AND ts < %(z)s"
            newest = db.execute(NEWEST_STAMPS.format(where=where), args).fetchall()
            interval = typical_interval(newest)
            stamps = {int(v) for kind, v in rows if kind == 1}
            first = db.execute(f"SELECT ts FROM sample WHERE {where} ORDER BY ts LIMIT 1", args).fetchone()
            stamps.update(int(r[0]) for r in (first, newest[0]) if r is not None)
            # one index probe per pick (ts = ANY(...) would probe every day partition for every pick)
            picked = db.execute(
                "SELECT y.* FROM unnest(%s::bigint[]) p(t) CROSS JOIN LATERAL ("
                f"  SELECT {_COLS} FROM sample WHERE signal_id = %s AND ts = p.t OFFSET 0"
                ") y ORDER BY y.ts",
                (sorted(stamps), sid),
            ).fetchall()
        return Series([self._sample(path, sid, *r) for r in picked], total, True, interval)

    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]:
        """As :meth:`PostgresHistorian.query_buckets`; buckets a whole number of minutes wide read the rollup
        (averages may differ in the last bits: a sum of sums is added in another order)."""
        if bucket_s <= 0:
            raise ValueError("bucket width must be positive (seconds)")
        w = max(1, int(bucket_s * 1_000_000))
        a, z = to_micros(start), to_micros(end)
        if w % MINUTE_US or z <= a or a < 0:
            return super().query_buckets(path, start, end, bucket_s)
        with self._read() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            db.execute(_NO_JIT)
            sid = self._sid(db, path)
            if sid is None:
                return []
            args = {"sid": sid, "a": a, "z": z, "a0": _minute(a), "w": w, "cut": [_minute(a), _minute(z)]}
            rows = db.execute(_BUCKETS, args).fetchall()
        return [
            Bucket(from_micros(int(b)), _f(lo), _f(av), _f(hi), int(n), int(nb))
            for b, lo, av, hi, n, nb in rows
        ]


def refresh_budget(historian: RollupHistorian, seconds: float) -> int:
    """Refresh for at most about ``seconds`` (rounds of :data:`REFRESH_KEYS`); the minutes done."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        n = historian.refresh_rollups()
        total += n
        if n < REFRESH_KEYS:
            break
    return total
