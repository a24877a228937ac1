"""Reports from a real historian: per-product ideal cycle times and plant-wide planned downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from werk.apps.oee.report import ReportBuilder
from werk.apps.oee.store import MIGRATIONS, OeeStore
from werk.config import parse_config
from werk.core.model import Sample
from werk.store import SQLiteHistorian
from werk.store.app_database import AppDatabase

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
PLANT = """\
plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: mill, ideal_cycle_s: 60}}}}}}}}}}
  planned_downtime: PLANNED
products:
  A: {ideal_cycle_s: {m1: 30}}
  B: {ideal_cycle_s: {m1: 90}}
"""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def hist(tmp_path: Path) -> SQLiteHistorian:
    h = SQLiteHistorian(tmp_path / "r.db")
    h.open()
    p = "acme/s/a/l/c/m1/"
    h.write_samples(
        [
            Sample(p + "machine_state", at(0), "running"),
            Sample(p + "product", at(0), "A"),
            Sample(p + "product", at(30), "B"),
            Sample(p + "good_count", at(0), 0),
            Sample(p + "good_count", at(29), 50),  # 50 parts of A
            Sample(p + "good_count", at(59), 60),  # 10 parts of B
            Sample(p + "scrap_count", at(0), 0),
        ]
    )
    h.file.migrate("oee", MIGRATIONS)
    yield h
    h.close()


def test_effectiveness_uses_each_products_ideal_cycle(hist: SQLiteHistorian) -> None:
    """APT 3 600 s; ideal = 50 x 30 s + 10 x 90 s = 2 400 s; effectiveness = 2 400 / 3 600 = 0.667.
    With the asset's default PRI (60 s) it would have been 60 x 60 / 3 600 = 1.0, which hides the slow B parts."""
    config = parse_config(PLANT.replace("PLANNED", "[]"))
    r = ReportBuilder(config, hist, OeeStore(hist.file)).asset(config.asset("m1"), at(0), at(60), now=at(60))
    assert (r.pq, r.gq, r.time.apt_s) == (60, 60, 3600)
    assert r.ideal_s == pytest.approx(2400)
    assert r.effectiveness == pytest.approx(2400 / 3600)


def test_plant_wide_planned_downtime_is_pdot(hist: SQLiteHistorian) -> None:
    """A works meeting 08:50-09:00 UTC: PDOT 600 s, PBT 3 000 s, APT inside PBT 3 000 s, availability 1."""
    meeting = '[{start: "2026-06-01T10:50:00+02:00", end: "2026-06-01T11:00:00+02:00", reason: meeting}]'
    config = parse_config(PLANT.replace("PLANNED", meeting))
    r = ReportBuilder(config, hist, OeeStore(hist.file)).asset(config.asset("m1"), at(0), at(60), now=at(60))
    assert (r.time.pdot_s, r.time.pbt_s, r.time.apt_s) == (600, 3000, 3000)
    assert r.availability == 1.0


def test_product_and_planned_window_mistakes_are_reported() -> None:
    from werk.errors import ConfigError

    bad = PLANT.replace("PLANNED", '[{start: "2026-06-01T11:00:00+02:00", end: "2026-06-01T10:00:00+02:00"}]')
    with pytest.raises(ConfigError, match="end must be after start"):
        parse_config(bad)
    with pytest.raises(ConfigError, match="no asset named 'm9'"):
        parse_config(PLANT.replace("PLANNED", "[]").replace("{m1: 90}", "{m9: 90}"))


SHIFTS = """\
plant:
  enterprise: acme
  timezone: UTC
  shifts: [{name: early, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri]}]
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: mill, ideal_cycle_s: 30}}}}}}}}}}
apps:
  oee:
    targets: {default: {oee: 0.6}, assets: {m1: {availability: 0.9}}}
"""
MON = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday


def mon(h: float) -> datetime:
    return MON + timedelta(hours=h)


def _oee_app(tmp_path: Path, samples: list[Sample], db: AppDatabase) -> object:
    from werk.apps.oee.app import OeeApp
    from werk.apps.spec import AppContext
    from werk.bus.memory import MemoryBus

    config = parse_config(SHIFTS)
    h = SQLiteHistorian(tmp_path / "live.db")
    h.open()
    db.migrate("oee", MIGRATIONS)
    h.write_samples(samples)
    ctx = AppContext("oee", config, config.app("oee"), MemoryBus(), h, db, {}, tmp_path)
    return OeeApp(ctx)


def test_live_kpis_after_a_restart_are_the_shift_report_with_coverage(
    tmp_path: Path, app_db: AppDatabase
) -> None:
    """werk watched 06:00-08:00, was stopped until 10:00, and watches again. At 11:30 the live KPIs are the
    report of the early shift up to now: the same figures, coverage (2 h + 1.5 h) / 5.5 h; parts made while werk was
    stopped (100 -> 250) are not put on the time it saw; targets stand against the actuals."""
    p = "acme/s/a/l/c/m1/"
    app = _oee_app(
        tmp_path,
        [
            Sample(p + "machine_state", mon(6), "disconnected"),  # werk starts
            Sample(p + "machine_state", mon(6) + timedelta(seconds=1), "running"),
            Sample(p + "good_count", mon(6) + timedelta(seconds=1), 0),
            Sample(p + "good_count", mon(8) - timedelta(seconds=1), 200),
            Sample(p + "machine_state", mon(8), "disconnected"),  # werk stops
            Sample(p + "machine_state", mon(10), "disconnected"),  # werk starts again
            Sample(p + "good_count", mon(10) + timedelta(seconds=1), 450),
            Sample(p + "machine_state", mon(10) + timedelta(seconds=1), "running"),
            Sample(p + "machine_state", mon(11), "idle"),
            Sample(p + "good_count", mon(11), 550),
        ],
        app_db,
    )
    now = mon(11.5)
    live = app.compute_live(now)  # type: ignore[attr-defined]
    assert live["in_shift"] and live["shift"]["key"] == "2026-06-01/early"
    assert live["window"] == {"start": mon(6).isoformat(), "end": now.isoformat()}
    (row,) = [
        r
        for r in app.builder.report(mon(6), now, period="shift", now=now)  # type: ignore[attr-defined]
        if r.level == "asset"
    ]
    assert live["assets"]["m1"] == row.report.as_dict()
    m1 = live["assets"]["m1"]
    observed = 2 * 3600 - 1 + 1.5 * 3600 - 1
    assert m1["time"]["observed_s"] == pytest.approx(observed)
    assert m1["coverage"] == pytest.approx(observed / (5.5 * 3600))  # of the shift so far
    assert m1["availability"] == pytest.approx((2 * 3600 - 2 + 3600) / observed)
    assert m1["pq"] == 200 + 100  # not 550: 250 parts were made while werk was stopped
    assert m1["low_coverage"] is True
    assert m1["targets"]["availability"]["target"] == 0.9 and m1["targets"]["oee"]["target"] == 0.6
    assert live["plant"]["coverage"] == pytest.approx(m1["coverage"])


def test_outside_every_shift_there_is_no_current_shift_and_the_next_one_is_named(
    tmp_path: Path, app_db: AppDatabase
) -> None:
    """Friday 15:00, after the early shift: no current shift, no KPIs, the next shift is Monday 06:00."""
    app = _oee_app(tmp_path, [Sample("acme/s/a/l/c/m1/machine_state", mon(4 * 24 + 6), "running")], app_db)
    live = app.compute_live(mon(4 * 24 + 15))  # type: ignore[attr-defined]
    assert (live["in_shift"], live["shift"], live["window"], live["assets"]) == (False, None, None, {})
    assert live["next_shift"]["start"] == mon(7 * 24 + 6).isoformat()
    assert live["previous_shift"]["end"] == mon(4 * 24 + 14).isoformat()


def test_targets_naming_an_unknown_asset_or_line_are_reported() -> None:
    from werk.errors import ConfigError

    bad = SHIFTS.replace(
        "assets: {m1: {availability: 0.9}}", "assets: {m9: {availability: 0.9}}, lines: {l9: {}}"
    )
    with pytest.raises(ConfigError, match="no asset named 'm9'") as err:
        parse_config(bad)
    assert "no line named 'l9'" in str(err.value)
    with pytest.raises(ConfigError, match="oee"):
        parse_config(SHIFTS.replace("oee: 0.6", "oee: 1.5"))
