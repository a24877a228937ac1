"""The minute rollups of the PostgreSQL historian: a chart's downsampled series and the bucket API read through the
rollup give what the raw query gives on the same random data, before the refresh, after it, after late data and
rewritten samples, and after retention; the refresh waits for a minute to settle; the rollup is partitioned by week."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from werk.config.model import HistorianConfig
from werk.core.model import Quality, Sample
from werk.store import open_historian
from werk.store.base import Bucket
from werk.store.postgres import PostgresHistorian
from werk.store.postgres_rollup import MINUTE_US, REFRESH_CONNECTION, SETTLE_S, RollupHistorian

T0 = datetime(2026, 2, 2, 0, 0, 17, 250_000, tzinfo=UTC)  # not on a minute
SPAN = timedelta(days=30)
PATHS = ("m/load", "m/count", "m/state", "m/on")


@pytest.fixture
def h(pg_url: str) -> Iterator[RollupHistorian]:
    store = RollupHistorian(pg_url)
    store.open()
    yield store
    store.close()


def _random_samples(rnd: random.Random, n: int, start: datetime, span: timedelta) -> list[Sample]:
    out: list[Sample] = []
    us = int(span.total_seconds() * 1_000_000)
    for _ in range(n):
        ts = start + timedelta(microseconds=rnd.randrange(us))
        q = Quality.BAD if rnd.random() < 0.03 else Quality.UNCERTAIN if rnd.random() < 0.05 else Quality.GOOD
        out.append(
            Sample("m/load", ts, float(rnd.randrange(0, 25)), q)
        )  # ties: the first of equal values wins
        out.append(Sample("m/count", ts + timedelta(milliseconds=3), rnd.randrange(-5, 1000)))
        if rnd.random() < 0.2:
            # a text signal that sometimes carries a number, as a tag whose type changed
            out.append(
                Sample("m/state", ts, rnd.choice(["run", "idle", "fault"]) if rnd.random() < 0.9 else 4.0)
            )
        if rnd.random() < 0.1:
            out.append(Sample("m/on", ts, rnd.random() < 0.5, q))
    return out


def _write(store: PostgresHistorian, samples: list[Sample], batch: int = 2500) -> None:
    for k in range(0, len(samples), batch):
        store.write_samples(samples[k : k + batch])


def _ranges(rnd: random.Random) -> list[tuple[datetime, datetime, int]]:
    """Chart-like ranges: four weeks, a week, two days, at random offsets (not on minutes), with several budgets."""
    out = [(T0 - timedelta(hours=1), T0 + SPAN + timedelta(hours=1), 1600)]
    for length, budget in ((timedelta(weeks=4), 1600), (timedelta(weeks=1), 1600), (timedelta(days=2), 400)):
        off = timedelta(seconds=rnd.uniform(0, (SPAN - length).total_seconds()))
        out.append((T0 + off, T0 + off + length, budget))
    out.append((T0 + timedelta(days=3, seconds=7.5), T0 + timedelta(days=10, seconds=1), 5000))
    return out


def _same_buckets(got: list[Bucket], want: list[Bucket]) -> None:
    assert [(b.start, b.min, b.max, b.count, b.bad) for b in got] == [
        (b.start, b.min, b.max, b.count, b.bad) for b in want
    ]
    for g, w in zip(got, want, strict=True):
        assert (g.avg is None) == (w.avg is None)
        if g.avg is not None and w.avg is not None:
            assert math.isclose(g.avg, w.avg, rel_tol=1e-9, abs_tol=1e-9)


def _check(store: RollupHistorian, rnd: random.Random, stage: str) -> None:
    """Every path over every range: the rollup's answer is the raw query's (PostgresHistorian's own)."""
    for a, z, budget in _ranges(rnd):
        for path in PATHS:
            want = PostgresHistorian.query_series(store, path, a, z, budget)
            got = store.query_series(path, a, z, budget)
            assert got == want, (stage, path, a, z, budget)
        for bucket_s in (60.0, 900.0, 3600.0, 86400.0):
            for path in ("m/load", "m/count", "m/on"):
                want_b = PostgresHistorian.query_buckets(store, path, a, z, bucket_s)
                _same_buckets(store.query_buckets(path, a, z, bucket_s), want_b)


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as c:
        row = c.execute(sql).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


def test_the_rollup_answers_as_the_raw_samples_before_and_after_refresh_late_data_and_retention(
    h: RollupHistorian, pg_url: str
) -> None:
    rnd = random.Random(11)
    _write(h, _random_samples(rnd, 25_000, T0, SPAN))
    # and a dense hour: many samples per minute, ties inside a minute
    _write(h, _random_samples(rnd, 3000, T0 + timedelta(days=12, minutes=7), timedelta(hours=1)))
    assert h.query_series("m/load", T0, T0 + SPAN, 1600).downsampled
    _check(h, rnd, "all minutes marked, nothing rolled up yet")

    later = T0 + SPAN + timedelta(days=1)
    done = h.refresh_all(later)
    assert done > 15_000 and _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 0
    assert _count(pg_url, "SELECT count(*) FROM sample_1m") == done
    _check(h, rnd, "rolled up")

    # late data in old minutes, and samples stored again with other values (the upsert's update)
    late = _random_samples(rnd, 3000, T0 + timedelta(days=5), timedelta(days=3))
    _write(h, late, batch=700)
    again = [
        Sample(s.path, s.ts, -1.0 if isinstance(s.value, float) else s.value, s.quality) for s in late[:500]
    ]
    _write(h, again)
    assert _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") > 0
    _check(h, rnd, "late data marked")
    h.refresh_all(later)
    _check(h, rnd, "late data rolled up")

    cutoff = T0 + timedelta(days=9, hours=5, seconds=31)
    h.purge(cutoff)
    assert (
        _count(
            pg_url,
            f"SELECT count(*) FROM sample_1m WHERE bucket < {int(cutoff.timestamp()) * 1_000_000 // MINUTE_US * MINUTE_US}",
        )
        == 0
    )
    _check(h, rnd, "after retention, before refresh")
    h.refresh_all(later)
    _check(h, rnd, "after retention")


def test_a_minute_is_rolled_up_once_it_settled_and_marked_again_by_later_samples(
    h: RollupHistorian, pg_url: str
) -> None:
    t = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    h.write_samples([Sample("m/x", t + timedelta(seconds=s), float(s)) for s in range(0, 180, 5)])
    assert _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 3
    # at 10:03:30 only 10:00 has ended SETTLE_S ago
    assert SETTLE_S <= 120
    assert h.refresh_rollups(t + timedelta(minutes=2) + timedelta(seconds=SETTLE_S)) == 1
    assert _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 2
    with psycopg.connect(pg_url) as c:
        row = c.execute("SELECT n, n_num, min_v, max_v, sum_num FROM sample_1m").fetchone()
    assert row == (12, 12, 0.0, 55.0, float(sum(range(0, 60, 5))))
    h.write_samples([Sample("m/x", t + timedelta(seconds=30.5), -3.0, Quality.BAD)])
    assert _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 3
    h.refresh_all(t + timedelta(hours=1))
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT bucket, n, n_bad FROM sample_1m ORDER BY bucket").fetchall()
        weeks = c.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'sample_1m'::regclass"
        ).fetchone()
    assert [(n, nb) for _, n, nb in rows] == [(13, 1), (12, 0), (12, 0)] and weeks == (1,)


def test_only_one_process_refreshes_at_a_time_and_the_plant_file_opens_the_rollup_store(pg_url: str) -> None:
    one = open_historian(HistorianConfig(backend="postgresql", url=pg_url))
    assert isinstance(one, RollupHistorian)
    two = RollupHistorian(pg_url)
    two.open()  # a second process on the same database: the triggers are there once
    try:
        t = datetime(2026, 5, 4, tzinfo=UTC)
        one.write_samples([Sample("m/x", t + timedelta(minutes=m), 1.0) for m in range(10)])
        assert _count(pg_url, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'sample'::regclass") == 2
        with psycopg.connect(pg_url) as c, c.transaction():
            c.execute("SELECT pg_advisory_xact_lock(%s)", (0x7765726B03,))  # someone is refreshing
            assert two.refresh_rollups(t + timedelta(days=1)) == 0
        assert two.refresh_rollups(t + timedelta(days=1)) == 10
        # the refresh's own connection is named on the server, for a DBA (and the scale benchmark's CPU account)
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
        with psycopg.connect(pg_url) as c:
            row = c.execute(sql, (REFRESH_CONNECTION,)).fetchone()
        assert row is not None and row[0] >= 1
    finally:
        two.close()
        one.close()


def test_float_batches_go_straight_into_their_day_partitions_and_mark_their_minutes_as_the_triggers_would(
    h: RollupHistorian, pg_url: str
) -> None:
    # two days (one before 1970) and a minute marked already by another writer's trigger
    t = datetime(2026, 5, 4, 23, 59, 30, tzinfo=UTC)
    early = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    h.write_samples([Sample("m/y", t, 1)])  # an int: through the parent and its triggers
    batch = [Sample("m/x", t + timedelta(seconds=s), float(s)) for s in range(0, 90, 10)]
    batch += [Sample("m/y", t + timedelta(seconds=5), 2.5), Sample("m/x", early, -1.0, Quality.BAD)]
    before = h.direct
    h.write_samples(batch)
    assert h.direct == before + 1 and h.upserts == 0  # straight in: the floats' own COPY
    minute = MINUTE_US
    with psycopg.connect(pg_url) as c:
        marked = c.execute(
            "SELECT s.path, d.bucket FROM sample_1m_dirty d JOIN signal s ON s.id = d.signal_id"
        ).fetchall()
        rows = c.execute(
            "SELECT tableoid::regclass::text, count(*) FROM sample GROUP BY 1 ORDER BY 1"
        ).fetchall()
    t_us = int(t.timestamp()) * 1_000_000
    early_us = int(early.timestamp()) * 1_000_000
    first = t_us - t_us % minute
    want = [("m/x", first), ("m/x", first + minute), ("m/x", early_us - early_us % minute), ("m/y", first)]
    assert sorted(marked) == sorted(want)
    assert rows == [("sample_d20577", 5), ("sample_d20578", 6), ("sample_dm1", 1)]
    # delivered again, changed: through the upsert on the parent, whose triggers mark what the refresh removed
    h.refresh_all(t + timedelta(days=1))
    assert _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 0
    h.write_samples([Sample("m/x", t + timedelta(seconds=80), 99.0)])
    assert h.upserts == 1 and _count(pg_url, "SELECT count(*) FROM sample_1m_dirty") == 1
    assert h.query_raw("m/x", t + timedelta(seconds=80), t + timedelta(seconds=81))[0].value == 99.0
    h.refresh_all(t + timedelta(days=1))
    with psycopg.connect(pg_url) as c:
        got = c.execute(
            "SELECT n, max_v FROM sample_1m r JOIN signal s ON s.id = r.signal_id WHERE s.path = 'm/x' ORDER BY bucket"
        ).fetchall()
    assert got == [(1, None), (3, 20.0), (6, 99.0)]  # the BAD one has no good number
