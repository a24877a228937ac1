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
