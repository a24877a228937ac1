"""The historian's contract on every backend (SQLite, PostgreSQL): exact round trips, idempotent writes,
downsampling, retention, restart; and what only the SQLite file has to show (crash safety of the file, refusals).

The PostgreSQL cases skip with a reason where no server is reachable, and fail under CI=true (tests/postgres.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from werk.core.model import Event, Quality, Sample
from werk.errors import StoreError
from werk.store import Historian, SQLiteHistorian
from werk.store.migrations import HISTORIAN_MIGRATIONS, PG_HISTORIAN_MIGRATIONS
from werk.store.postgres import PostgresHistorian
from werk.store.postgres_rollup import RollupHistorian

T0 = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
P = "acme/s/a/l/c/cnc-1/load"

Opener = Callable[[], SQLiteHistorian | PostgresHistorian]


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-rollup"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens a historian on one store; each call a new one on the same data (a restart)."""
    if request.param == "sqlite":
        return lambda: _opened(SQLiteHistorian(tmp_path / "h.db"))
    url = request.getfixturevalue("pg_url")
    if request.param == "postgresql-rollup":
        return lambda: _opened(RollupHistorian(url))
    return lambda: _opened(PostgresHistorian(url))


def _opened(h: SQLiteHistorian | PostgresHistorian) -> SQLiteHistorian | PostgresHistorian:
    h.open()
    return h


@pytest.fixture
def hist(backend: Opener) -> Iterator[Historian]:
    h = backend()
    yield h
    h.close()


def test_values_round_trip_with_their_types(hist: Historian) -> None:
    rows = [
        Sample("x/a", T0, 1.5),
        Sample("x/b", T0, 7),
        Sample("x/c", T0, True),
        Sample("x/d", T0, "running", Quality.UNCERTAIN),
        Sample("x/a", T0 + timedelta(microseconds=1), -0.25, Quality.BAD),
    ]
    hist.write_samples(rows)
    got = {p: hist.query_raw(p, T0, T0 + timedelta(seconds=1)) for p in ("x/a", "x/b", "x/c", "x/d")}
    assert got["x/a"] == [rows[0], rows[4]]
    assert got["x/b"] == [rows[1]] and type(got["x/b"][0].value) is int
    assert got["x/c"] == [rows[2]] and got["x/c"][0].value is True
    assert got["x/d"] == [rows[3]]


def test_replayed_batch_creates_no_duplicates_and_last_write_wins(hist: Historian) -> None:
    batch = [Sample(P, T0 + timedelta(seconds=i), float(i)) for i in range(100)]
    hist.write_samples(batch)
    hist.write_samples(batch)
    hist.write_samples([Sample(P, T0, 99.0)])
    assert hist.count_samples(P) == 100
    assert hist.query_raw(P, T0, T0 + timedelta(seconds=1))[0].value == 99.0


def test_buckets_give_min_avg_max_per_interval(hist: Historian) -> None:
    # 0..9 s: values 0..9; 10 s buckets of 5 s: [0..4] -> min 0 avg 2 max 4; [5..9] -> 5, 7, 9
    hist.write_samples([Sample(P, T0 + timedelta(seconds=i), float(i)) for i in range(10)])
    hist.write_samples([Sample(P, T0 + timedelta(seconds=3, milliseconds=1), "text is ignored")])
    b = hist.query_buckets(P, T0, T0 + timedelta(seconds=10), 5)
    assert [(x.start, x.min, x.avg, x.max, x.count) for x in b] == [
        (T0, 0.0, 2.0, 4.0, 5),
        (T0 + timedelta(seconds=5), 5.0, 7.0, 9.0, 5),
    ]


def test_buckets_leave_bad_placeholders_out_and_count_them(hist: Historian) -> None:
    """A connector that lost its source stores BAD samples holding the last value (here 1000): they are not
    measurements, so min/avg/max skip them and the bucket says how many it skipped; an all-BAD bucket has none."""
    hist.write_samples([Sample(P, T0 + timedelta(seconds=i), float(i)) for i in range(5)])
    hist.write_samples([Sample(P, T0 + timedelta(seconds=i), 1000.0, Quality.BAD) for i in range(5, 10)])
    b = hist.query_buckets(P, T0, T0 + timedelta(seconds=10), 5)
    assert [(x.min, x.avg, x.max, x.count, x.bad) for x in b] == [
        (0.0, 2.0, 4.0, 5, 0),
        (None, None, None, 0, 5),
    ]
    mixed = hist.query_buckets(P, T0, T0 + timedelta(seconds=10), 10)
    assert [(x.max, x.count, x.bad) for x in mixed] == [(4.0, 5, 5)]


def test_a_series_beyond_its_point_budget_is_downsampled_up_to_the_newest_sample(
    hist: Historian,
) -> None:
    """10 000 samples, a budget of 400 points: each bucket keeps its lowest and highest value (a spike survives),
    its first BAD sample, and the range's first and newest sample are always there."""
    rows = [Sample(P, T0 + timedelta(seconds=i), float(i % 50)) for i in range(10_000)]
    rows[4321] = Sample(P, rows[4321].ts, 999.0)
    rows[7777] = Sample(P, rows[7777].ts, 12.0, Quality.BAD)
    hist.write_samples(rows)
    s = hist.query_series(P, T0, T0 + timedelta(hours=3), 400)
    assert s.downsampled and s.total == 10_000 and 100 < len(s.samples) <= 402
    assert s.samples[0] == rows[0] and s.samples[-1] == rows[-1]
    assert rows[4321] in s.samples and rows[7777] in s.samples
    assert [x.ts for x in s.samples] == sorted({x.ts for x in s.samples})
    assert s.interval_s == 1.0
    small = hist.query_series(P, T0, T0 + timedelta(seconds=30), 400)
    assert (small.downsampled, small.total, small.samples) == (False, 30, rows[:30])
    assert hist.query_series("no/such/signal", T0, T0 + timedelta(hours=1), 400).total == 0


def test_text_series_are_downsampled_by_their_first_and_last_change_per_bucket(hist: Historian) -> None:
    states = ["running", "idle", "fault"]
    rows = [Sample("x/state", T0 + timedelta(seconds=i), states[i % 3]) for i in range(1000)]
    hist.write_samples(rows)
    s = hist.query_series("x/state", T0, T0 + timedelta(hours=1), 100)
    assert s.downsampled and s.samples[-1] == rows[-1] and len(s.samples) <= 102
    assert hist.signal_types()["x/state"] == "str"


def test_latest_and_signals(hist: Historian) -> None:
    hist.write_samples(
        [Sample("a/x", T0, 1), Sample("a/x", T0 + timedelta(seconds=1), 2), Sample("b/y", T0, 3)]
    )
    assert [(s.path, s.value) for s in hist.latest()] == [("a/x", 2), ("b/y", 3)]
    assert [s.path for s in hist.latest("a/#")] == ["a/x"]
    assert hist.signals() == ["a/x", "b/y"]


def test_events_are_queried_newest_first(hist: Historian) -> None:
    hist.write_events(
        [Event("state", "a/m1", T0, {"to": "fault"}), Event("alarm", "a/m2", T0 + timedelta(1))]
    )
    assert [e.kind for e in hist.query_events()] == ["alarm", "state"]
    assert hist.query_events(kinds=["state"])[0].data == {"to": "fault"}
    assert hist.query_events(source="a/m2")[0].kind == "alarm"


def test_an_event_with_a_key_is_stored_once_however_often_it_is_written(hist: Historian) -> None:
    first = Event("state", "a/m1", T0, {"to": "run"}, key="machine_state:a/m1:1")
    again = Event("state", "a/m1", T0, {"to": "run", "written": "again"}, key="machine_state:a/m1:1")
    other = Event("state", "a/m1", T0 + timedelta(seconds=1), {"to": "idle"}, key="machine_state:a/m1:2")
    unkeyed = Event("audit", "a/m1", T0, {"n": 1})
    hist.write_events([first, unkeyed])
    hist.write_events(
        [again, other, unkeyed]
    )  # a batch handled twice: the keyed ones once, the others as told
    got = hist.query_events()
    assert sorted((e.kind, e.key, tuple(sorted(e.data.items()))) for e in got) == sorted(
        (e.kind, e.key, tuple(sorted(e.data.items()))) for e in (first, other, unkeyed, unkeyed)
    )


def test_retention_purges_only_older_data(hist: Historian) -> None:
    hist.write_samples([Sample(P, T0 + timedelta(days=d), float(d)) for d in range(10)])
    hist.write_events([Event("state", "x", T0), Event("state", "x", T0 + timedelta(days=9))])
    removed = hist.purge(T0 + timedelta(days=7))
    assert removed == 7 + 1
    assert [s.value for s in hist.query_raw(P, T0, T0 + timedelta(days=30))] == [7.0, 8.0, 9.0]
    assert len(hist.query_events()) == 1


def test_restart_keeps_every_written_sample(backend: Opener) -> None:
    h = backend()
    written = [Sample(f"x/s{i % 7}", T0 + timedelta(milliseconds=i), i * 0.5) for i in range(5000)]
    for k in range(0, 5000, 500):
        h.write_samples(written[k : k + 500])
    h.close()
    h2 = backend()
    back = [s for i in range(7) for s in h2.query_raw(f"x/s{i}", T0, T0 + timedelta(hours=1))]
    assert sorted(back, key=lambda s: s.ts) == written
    assert h2.schema_version() == HISTORIAN_MIGRATIONS[-1].version == PG_HISTORIAN_MIGRATIONS[-1].version
    h2.close()


def test_killed_writer_loses_no_committed_batch(tmp_path: Path) -> None:
    """A process killed with SIGKILL right after write_samples returned: every committed sample is there."""
    db = tmp_path / "k.db"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from datetime import datetime, timedelta, UTC
        from werk.core.model import Sample
        from werk.store import SQLiteHistorian
        h = SQLiteHistorian({str(db)!r}); h.open()
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for b in range(20):
            h.write_samples([Sample("k/v", t0 + timedelta(seconds=b * 100 + i), float(i)) for i in range(100)])
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and "committed" in proc.stdout
    h = SQLiteHistorian(db)
    h.open()
    assert h.count_samples("k/v") == 2000
    h.close()


def test_database_from_a_newer_werk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    h = SQLiteHistorian(path)
    h.open()
    h.close()
    with sqlite3.connect(path) as c:
        c.execute("INSERT INTO werk_migration VALUES ('historian', 99, 'future', 0)")
    with pytest.raises(StoreError, match="'historian' are at schema version 99, newer than this werk knows"):
        SQLiteHistorian(path).open()


def test_file_that_is_not_a_database_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db: cannot (open|migrate)"):
        SQLiteHistorian(path).open()
    assert path.read_bytes().startswith(b"this is not sqlite")  # and it is left untouched


def test_a_failed_batch_leaves_no_stale_signal_behind(backend: Opener) -> None:
    """A batch that fails midway is rolled back whole; a signal it introduced must not linger in the id cache,
    or the next good batch for that signal would be stored under an id no path points to (lost after a restart)."""
    h = backend()
    bad = Sample("x/new", T0, 1.0), Sample("x/other", T0, object())  # type: ignore[arg-type]
    with pytest.raises((sqlite3.Error, TypeError)):
        h.write_samples(list(bad))
    assert h.count_samples() == 0
    h.write_samples([Sample("x/new", T0, 2.0)])
    h.close()
    again = backend()
    assert [s.value for s in again.query_raw("x/new", T0, T0 + timedelta(seconds=1))] == [2.0]
    again.close()


def test_close_waits_for_reads_running_in_other_threads(tmp_path: Path) -> None:
    """An app's report runs in a worker thread; if its task is cancelled at shutdown, the read goes on there.
    Closing the connection under it would crash the process: close waits, and refuses reads that come after."""
    import threading

    h = SQLiteHistorian(tmp_path / "werk.db")
    h.open()
    h.write_samples([Sample("a/b/c/d/e/f/x", T0, 1.0)])
    inside, release = threading.Event(), threading.Event()
    original = h.file.reader

    def slow_reader() -> sqlite3.Connection:  # a read that takes as long as the test says
        inside.set()
        release.wait(5)
        return original()

    h.file.reader = slow_reader  # type: ignore[method-assign]
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(h.query_raw("a/b/c/d/e/f/x", T0, T0 + timedelta(1))))
    reader.start()
    assert inside.wait(5)
    closer = threading.Thread(target=h.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # waiting for the read
    release.set()
    closer.join(5)
    reader.join(5)
    assert not closer.is_alive() and [s.value for s in got[0]] == [1.0]  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="the werk database is closed"):
        h.query_raw("a/b/c/d/e/f/x", T0, T0 + timedelta(1))


def test_a_counter_reset_inside_a_span_counts_from_zero_even_when_it_climbs_past_its_old_count(
    hist: Historian,
) -> None:
    t0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    # a counter reset at each shift start (06:00, 14:00, 22:00 as minutes 0, 480, 960), its last shift the biggest
    counts = [(0, 30), (400, 34), (480, 0), (900, 20), (960, 0), (1400, 100)]
    hist.write_samples([Sample("m/count", at(m), v) for m, v in counts])
    day = (at(-1), at(1440))
    assert hist.counter_increase("m/count", [day]) == [4 + 20 + 100]  # the first value is where it starts
    # a restart of the machine (or of the demo) within a span: 34 -> 0 -> 100 is 100 parts made after it
    assert hist.counter_increase("m/count", [(at(401), at(1440))]) == [20 + 100]
    # spans without a reset, from the boundaries alone
    assert hist.counter_increase("m/count", [(at(-1), at(401)), (at(481), at(901))]) == [4, 20]
