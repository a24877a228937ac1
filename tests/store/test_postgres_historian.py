"""What only the PostgreSQL historian has to show: the same answers as SQLite on the same data, day partitions that
retention drops whole, several writers at once, a lost connection, refusals that name the server."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from werk.config.model import HistorianConfig
from werk.core.model import Quality, Sample
from werk.errors import StoreError
from werk.store import SQLiteHistorian, open_historian
from werk.store.pg_connections import redact
from werk.store.postgres import DAY_US, PostgresHistorian

T0 = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)


@pytest.fixture
def pg(pg_url: str) -> PostgresHistorian:
    h = PostgresHistorian(pg_url)
    h.open()
    yield h
    h.close()


def _partitions(url: str) -> list[str]:
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "WHERE h.inhparent = 'sample'::regclass ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_both_stores_answer_every_query_alike_on_the_same_samples(
    pg: PostgresHistorian, tmp_path: Path
) -> None:
    """Random mixed data (floats, ints, bools, text, BAD placeholders, ties): raw, buckets, downsampled series,
    latest, counters and changes are equal on SQLite and PostgreSQL, value types included."""
    rnd = random.Random(7)
    rows: list[Sample] = []
    for i in range(6000):
        ts = T0 + timedelta(milliseconds=rnd.randrange(0, 3_600_000))
        q = Quality.BAD if rnd.random() < 0.05 else Quality.GOOD
        rows.append(Sample("m/load", ts, float(rnd.randrange(0, 40)), q))  # ties: min/max picks must agree
        rows.append(Sample("m/count", T0 + timedelta(seconds=i), (i % 900) * 3))  # resets
        rows.append(Sample("m/state", ts, rnd.choice(["run", "idle", "fault"])))
        rows.append(Sample("m/on", ts, rnd.random() < 0.5))
    lite = SQLiteHistorian(tmp_path / "same.db")
    lite.open()
    # batches of floats alone take the binary fast path (the first two), or fall back to the upsert when a key
    # comes twice (the others); with an infinity, a negative zero, a tiny value and a BAD one
    floats = [
        Sample(
            "m/temp",
            T0 + timedelta(seconds=i if i < 1400 else 1400 + (i - 1400) // 2),
            rnd.uniform(-1e6, 1e6),
        )
        for i in range(3000)
    ]
    floats[10:13] = [Sample("m/temp", T0 + timedelta(hours=2), x) for x in (float("inf"), -0.0, 1e-300)]
    floats[20] = Sample("m/temp", floats[20].ts, 5.5, Quality.BAD)
    for k in range(0, len(rows), 1000):
        lite.write_samples(rows[k : k + 1000])
        pg.write_samples(rows[k : k + 1000])
    for k in range(0, len(floats), 700):
        lite.write_samples(floats[k : k + 700])
        pg.write_samples(floats[k : k + 700])
    assert pg.direct >= 2 and pg.upserts >= 3
    a, z = T0 - timedelta(minutes=1), T0 + timedelta(hours=2)
    spans = [(T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + 20)) for m in range(0, 100, 20)]
    for path in ("m/load", "m/count", "m/state", "m/on", "m/temp"):
        for budget in (50, 401, 100_000):
            want, got = lite.query_series(path, a, z, budget), pg.query_series(path, a, z, budget)
            assert got == want, (path, budget)
            assert [type(s.value) for s in got.samples] == [type(s.value) for s in want.samples]
        assert pg.query_raw(path, a, z, 500) == lite.query_raw(path, a, z, 500)
        assert pg.query_buckets(path, a, z, 300) == lite.query_buckets(path, a, z, 300)
        assert pg.changes(path, T0 + timedelta(minutes=5), z) == lite.changes(
            path, T0 + timedelta(minutes=5), z
        )
        assert pg.last_before(path, T0 + timedelta(minutes=30)) == lite.last_before(
            path, T0 + timedelta(minutes=30)
        )
    assert pg.counter_increase("m/count", spans) == lite.counter_increase("m/count", spans)
    assert pg.latest() == lite.latest() and pg.signal_types() == lite.signal_types()
    assert pg.count_samples() == lite.count_samples()
    lite.close()


def test_a_key_twice_in_one_batch_keeps_the_last_value(pg: PostgresHistorian) -> None:
    pg.write_samples([Sample("k/x", T0, 1.0), Sample("k/y", T0, 5), Sample("k/x", T0, 2.0)])
    assert [s.value for s in pg.query_raw("k/x", T0, T0 + timedelta(1))] == [2.0]
    assert pg.count_samples() == 2


def test_new_rows_go_straight_in_and_a_replay_through_the_upsert(pg: PostgresHistorian) -> None:
    """The fast path (COPY into the table) is taken while no key is stored yet; a batch that meets a stored key
    (delivered again, or corrected) falls back to the upsert, in the same transaction, and loses nothing."""
    first = [Sample("u/x", T0 + timedelta(seconds=i), float(i)) for i in range(100)]
    pg.write_samples(first)
    assert (pg.direct, pg.upserts) == (1, 0)
    again = [*first[50:], Sample("u/x", T0 + timedelta(seconds=100), 100.0), Sample("u/x", T0, -1.0)]
    pg.write_samples(again)
    assert (pg.direct, pg.upserts) == (1, 1)
    values = [s.value for s in pg.query_raw("u/x", T0, T0 + timedelta(hours=1))]
    assert values == [-1.0, *map(float, range(1, 101))]


def test_samples_go_into_day_partitions_and_retention_drops_whole_days(
    pg: PostgresHistorian, pg_url: str
) -> None:
    pg.write_samples([Sample("r/x", T0 + timedelta(hours=12 * h), float(h)) for h in range(10)])  # 5 days
    day0 = int(T0.timestamp() * 1_000_000) // DAY_US
    parts = _partitions(pg_url)
    assert {f"sample_d{day0 + d}" for d in range(5)} <= set(parts)
    # the cut-off inside day 3: days 0..2 go whole, day 3 loses its morning sample only
    removed = pg.purge(T0 + timedelta(days=3, hours=6))
    assert removed == 7
    assert [s.value for s in pg.query_raw("r/x", T0, T0 + timedelta(days=9))] == [7.0, 8.0, 9.0]
    left = set(_partitions(pg_url))
    assert not {f"sample_d{day0 + d}" for d in range(3)} & left and f"sample_d{day0 + 3}" in left
    # a process that still believes a dropped day exists writes there again
    other = PostgresHistorian(pg_url)
    other.open()
    other._parts = None
    other._known_parts().add(day0)  # stale: dropped by the purge above
    with pytest.raises(psycopg.Error):
        other.write_samples([Sample("r/x", T0, -1.0)])
    other.write_samples([Sample("r/x", T0, -1.0)])  # the retry finds the truth and makes the day again
    assert pg.query_raw("r/x", T0, T0 + timedelta(hours=1))[0].value == -1.0
    other.close()


def test_samples_long_before_1970_and_far_ahead_find_their_day(pg: PostgresHistorian) -> None:
    old, ahead = datetime(1969, 12, 31, 23, 0, tzinfo=UTC), datetime(2090, 1, 1, tzinfo=UTC)
    pg.write_samples([Sample("t/x", old, 1.0), Sample("t/x", ahead, 2.0)])
    assert [s.ts for s in pg.query_raw("t/x", old, ahead + timedelta(1))] == [old, ahead]


def test_writers_in_several_threads_and_connections_store_each_sample_once(pg_url: str) -> None:
    """Four historians (as four workers) write overlapping batches of the same new signals at once: no deadlock,
    no duplicate, every key once, and redelivered batches change nothing."""
    batches = [
        [Sample(f"w/s{(b + i) % 13}", T0 + timedelta(milliseconds=b * 100 + i), float(i)) for i in range(400)]
        for b in range(40)
    ]
    expected = {(s.path, s.ts) for batch in batches for s in batch}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        h = PostgresHistorian(pg_url)
        try:
            h.open()
            for k in range(offset, offset + 40):  # each batch twice, by two different writers
                h.write_samples(batches[k % 40])
            h.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in (0, 20, 10, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    check = PostgresHistorian(pg_url)
    check.open()
    assert check.count_samples() == len(expected)
    check.close()


def test_a_lost_connection_fails_one_write_and_the_next_reconnects(
    pg: PostgresHistorian, pg_url: str
) -> None:
    pg.write_samples([Sample("c/x", T0, 1.0)])
    assert pg._w is not None
    pid = pg._w.info.backend_pid
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        pg.write_samples([Sample("c/x", T0 + timedelta(seconds=1), 2.0)])
    pg.write_samples([Sample("c/x", T0 + timedelta(seconds=1), 2.0)])
    assert [s.value for s in pg.query_raw("c/x", T0, T0 + timedelta(1))] == [1.0, 2.0]


def test_a_database_from_a_newer_werk_is_refused(pg: PostgresHistorian, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("INSERT INTO werk_migration VALUES ('historian', 99, 'future', 0)")
    with pytest.raises(StoreError, match="'historian' are at schema version 99, newer than this werk knows"):
        PostgresHistorian(pg_url).open()


def test_an_unreachable_server_is_refused_with_its_address_and_no_password() -> None:
    url = "postgresql://werk:s3cret@127.0.0.1:1/plant"
    with pytest.raises(
        StoreError, match=r"postgresql://werk:\*\*\*@127\.0\.0\.1:1/plant: cannot connect"
    ) as e:
        PostgresHistorian(url).open()
    assert "s3cret" not in str(e.value) and redact("postgresql://h/db") == "postgresql://h/db"


def test_the_plant_file_chooses_the_store(pg_url: str) -> None:
    h = open_historian(HistorianConfig(backend="postgresql", url=pg_url))
    assert isinstance(h, PostgresHistorian)
    h.close()
    with pytest.raises(ValueError, match="backend postgresql needs url"):
        HistorianConfig(backend="postgresql")
    with pytest.raises(ValueError, match="url is for backend postgresql"):
        HistorianConfig(url=pg_url)
