"""``werk store migrate --to postgresql://...``: a werk file's samples and events on the server, without loss,
resumable after an interruption, and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from werk.cli import main
from werk.core.model import Event, Quality, Sample
from werk.store import SQLiteHistorian
from werk.store import transfer as transfer_module
from werk.store.postgres import PostgresHistorian
from werk.store.transfer import transfer

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _werk_file(path: Path) -> SQLiteHistorian:
    h = SQLiteHistorian(path)
    h.open()
    h.write_samples([Sample("p/load", T0 + timedelta(seconds=i), i * 0.5) for i in range(3000)])
    h.write_samples([Sample("p/count", T0 + timedelta(seconds=i), i) for i in range(500)])
    h.write_samples([Sample("p/on", T0 + timedelta(days=i), i % 2 == 0) for i in range(40)])  # 40 days
    h.write_samples(
        [Sample("p/state", T0 + timedelta(seconds=i), "run", Quality.UNCERTAIN) for i in range(7)]
    )
    h.write_samples([Sample("p/mixed", T0, 1.5), Sample("p/mixed", T0 + timedelta(seconds=1), "text")])
    h.write_events([Event("state", f"p/m{i % 3}", T0 + timedelta(minutes=i), {"n": i}) for i in range(250)])
    return h


def test_the_command_copies_every_sample_and_event_and_says_so(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lite = _werk_file(tmp_path / "werk.db")
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "5 signals, 3,549 samples, 250 events, counts equal" in out
    pg = PostgresHistorian(pg_url)
    pg.open()
    end = T0 + timedelta(days=60)
    for path in lite.signals():
        assert pg.query_raw(path, T0, end, 100_000) == lite.query_raw(path, T0, end, 100_000), path
    assert pg.signal_types() == lite.signal_types()
    assert pg.query_events(limit=1000) == lite.query_events(limit=1000)
    # run again: idempotent (nothing twice), and says the counts are equal
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]) == 0
    assert pg.count_samples() == 3549 and pg.count_events() == 250
    pg.close()
    lite.close()


def test_an_interrupted_copy_resumes_and_copies_no_event_twice(
    tmp_path: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _werk_file(tmp_path / "werk.db").close()
    monkeypatch.setattr(transfer_module, "CHUNK", 100)
    seen = {"samples": 0, "events": 0}

    def stop_midway(what: str, n: int) -> None:
        seen[what] += n
        if what == "events" and seen[what] >= 120:
            raise KeyboardInterrupt  # the operator pressed Ctrl+C

    pg = PostgresHistorian(pg_url)
    pg.open()
    with pytest.raises(KeyboardInterrupt):
        transfer(tmp_path / "werk.db", pg, stop_midway)
    assert pg.count_samples() == 3549 and pg.count_events() == 200
    report = transfer(tmp_path / "werk.db", pg)
    assert report.ok and report.copied_samples == 0 and report.copied_events == 50
    assert pg.count_events() == 250
    with psycopg.connect(pg_url) as c:
        dup = c.execute(
            "SELECT count(*) FROM (SELECT ts, data FROM event GROUP BY 1, 2 HAVING count(*) > 1) x"
        )
        assert dup.fetchone() == (0,)
    pg.close()


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path, pg_url: str) -> None:
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "nope.db"), "-q"]) == 2
