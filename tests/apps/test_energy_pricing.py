"""Time-of-use prices and emission factors per quarter hour: bands by weekday and local time (one past midnight),
tariffs and factors that change on a date, and the projection of the current 15-minute window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from werk.apps.energy.pricing import emission_factors, prices, projected_window
from werk.apps.energy.settings import Band, EmissionFactor, Tariff

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = ["mon", "tue", "wed", "thu", "fri"]
OLD = Tariff(
    name="2025",
    valid_from=date(2025, 1, 1),
    valid_to=date(2026, 3, 1),
    base_price=0.20,
    bands=[Band(name="flat", price=0.25, start="00:00", end="00:00")],
)
NEW = Tariff(
    name="2026",
    valid_from=date(2026, 3, 1),
    base_price=0.19,
    bands=[
        Band(name="peak", price=0.31, days=WEEK, start="08:00", end="12:00"),
        Band(name="high", price=0.27, days=WEEK, start="12:00", end="18:00"),
        Band(name="shoulder", price=0.23, days=WEEK, start="06:00", end="08:00"),
        Band(name="evening", price=0.21, days=WEEK, start="18:00", end="22:00"),
        Band(name="night", price=0.15, days=WEEK, start="22:00", end="06:00"),
        Band(name="weekend", price=0.17, days=["sat", "sun"]),
    ],
)


def _at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=BERLIN)


def test_each_quarter_hour_is_priced_by_the_band_and_tariff_of_its_local_time() -> None:
    cases = {
        _at(2, 7, 45): "2026/shoulder",  # Monday 2 March
        _at(2, 8): "2026/peak",
        _at(2, 11, 45): "2026/peak",
        _at(2, 12): "2026/high",
        _at(2, 21, 45): "2026/evening",
        _at(2, 23): "2026/night",
        _at(3, 5, 45): "2026/night",  # Tuesday 05:45 belongs to Monday's night band
        _at(7, 10): "2026/weekend",  # Saturday
        _at(9, 2): "2026/base",  # Monday 02:00: Sunday has no night band, Monday's starts at 22:00
        datetime(2026, 2, 28, 23, 45, tzinfo=BERLIN): "2025/flat",  # the old tariff's last quarter hour
    }
    price, names = prices(list(cases), BERLIN, [OLD, NEW])
    assert names == list(cases.values())
    assert price.tolist() == [0.23, 0.31, 0.31, 0.27, 0.21, 0.15, 0.15, 0.17, 0.19, 0.25]
    # another carrier has no tariff: no price rather than electricity's
    assert prices([_at(2, 9)], BERLIN, [OLD, NEW], "gas")[0].tolist() == [0.0]


def test_emission_factors_change_on_their_local_date() -> None:
    factors = [
        EmissionFactor(valid_from=date(2026, 7, 1), kg_per_unit=0.35),
        EmissionFactor(valid_from=date(2026, 1, 1), kg_per_unit=0.38),
    ]
    midnight = datetime(2026, 7, 1, tzinfo=BERLIN)
    starts = [midnight - timedelta(minutes=15), midnight, datetime(2025, 6, 1, tzinfo=BERLIN)]
    assert emission_factors(starts, BERLIN, factors, 0.5).tolist() == [0.38, 0.35, 0.5]


def test_the_window_is_projected_with_the_present_power() -> None:
    # 5 kWh in the first 5 minutes, 90 kW from now on: (5 + 15) kWh over a quarter hour is 80 kW
    assert projected_window(5.0, 90.0, 300.0) == pytest.approx(80.0)
    assert projected_window(20.0, 500.0, 900.0) == pytest.approx(80.0)  # the window is over: what it was


def test_a_band_reads_back_what_a_dumped_plant_file_writes_and_refuses_seconds() -> None:
    """A plant file written from the settings (``model_dump(mode="json")``) says ``"08:00:00"``; reading it back
    gives the same band. A time with seconds werk would drop is refused with what it expected."""
    dumped = NEW.model_dump(mode="json")
    assert dumped["bands"][0]["start"] == "08:00:00"
    assert Tariff.model_validate(dumped) == NEW
    with pytest.raises(ValueError, match="a local time like '06:00' expected, got '08:00:30'"):
        Band(name="odd", price=0.2, start="08:00:30")
