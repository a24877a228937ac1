"""A real plant's year: DAEWOO Steel's 2018 record (UCI, 15-minute energy stamped at interval ends). werk reads it
as a cumulative meter and its yearly and monthly totals, daily totals, monthly 15-minute peaks and CO2e are held
against a plain computation over the CSV rows."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import shared_data
from werk.apps.energy.meter import book_counter
from werk.apps.energy.periods import MeterInput, grid, rows, site_peaks
from werk.apps.energy.settings import EmissionFactor

SEOUL = ZoneInfo("Asia/Seoul")
FACTORS = [
    EmissionFactor(valid_from=date(2018, 1, 1), kg_per_unit=0.45),
    EmissionFactor(valid_from=date(2018, 7, 1), kg_per_unit=0.40),
]


def _rows() -> list[tuple[datetime, float, float]]:
    """(interval end as local time, kWh, t CO2): a row stamped 00:00 ends the day its date names."""
    path: Path = shared_data("energy", "uci-steel", "Steel_industry_data.csv")
    out = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            end = datetime.strptime(r["date"], "%d/%m/%Y %H:%M")
            if end.hour == 0 and end.minute == 0:
                end += timedelta(days=1)
            out.append((end, float(r["Usage_kWh"]), float(r["CO2(tCO2)"])))
    return out


@pytest.fixture(scope="module")
def steel() -> tuple[list[tuple[datetime, float, float]], MeterInput]:
    data = _rows()
    start = data[0][0] - timedelta(minutes=15)
    readings = [(start.replace(tzinfo=SEOUL).timestamp(), 0.0)]
    counter = 0.0
    for end, kwh, _ in data:
        counter += kwh
        readings.append((end.replace(tzinfo=SEOUL).timestamp(), counter))
    # rated power: the highest quarter hour is 628.7 kW; no step is a glitch
    return data, MeterInput(book_counter(readings, max_kw=700.0, slack_s=0))


def test_the_year_the_months_and_the_days_match_the_rows(steel: tuple[list, MeterInput]) -> None:
    data, meter = steel
    assert len(data) == 35040 and meter.booked.anomalies == []
    year = grid(datetime(2018, 1, 1, tzinfo=SEOUL), datetime(2019, 1, 1, tzinfo=SEOUL), SEOUL, "year")
    (total,) = rows({"steel": meter}, year)
    assert total.period == "2018" and total.coverage == pytest.approx(1.0)
    assert total.energy == pytest.approx(math.fsum(k for _, k, _ in data), rel=1e-12)
    assert round(total.energy) == 959_637  # the dataset's published total

    monthly: dict[str, float] = defaultdict(float)
    daily: dict[date, float] = defaultdict(float)
    for end, kwh, _ in data:
        begin = end - timedelta(minutes=15)  # an interval belongs to the day and month it began in
        monthly[f"{begin.year}-{begin.month:02d}"] += kwh
        daily[begin.date()] += kwh
    months = rows(
        {"steel": meter},
        grid(datetime(2018, 1, 1, tzinfo=SEOUL), datetime(2019, 1, 1, tzinfo=SEOUL), SEOUL, "month"),
    )
    assert [r.period for r in months] == sorted(monthly)
    for r in months:
        assert r.energy == pytest.approx(monthly[r.period], rel=1e-9), r.period
    days = rows(
        {"steel": meter},
        grid(datetime(2018, 1, 1, tzinfo=SEOUL), datetime(2019, 1, 1, tzinfo=SEOUL), SEOUL, "day"),
    )
    assert len(days) == 365
    for r in days:
        assert r.energy == pytest.approx(daily[date.fromisoformat(r.period)], rel=1e-9, abs=1e-9), r.period
    # the day boundary: 1 January ends with the row stamped "01/01/2018 00:00", 3.42 kWh
    jan1 = next(r for r in days if r.period == "2018-01-01")
    assert jan1.start == datetime(2018, 1, 1, tzinfo=SEOUL) and jan1.end == datetime(2018, 1, 2, tzinfo=SEOUL)
    assert jan1.energy == pytest.approx(sum(k for e, k, _ in data[:96]))
    assert data[95][1] == 3.42 and data[95][0] == datetime(2018, 1, 2)


def test_the_fifteen_minute_peaks_and_co2_match_the_rows(steel: tuple[list, MeterInput]) -> None:
    data, meter = steel
    g = grid(datetime(2018, 1, 1, tzinfo=SEOUL), datetime(2019, 1, 1, tzinfo=SEOUL), SEOUL, "month")
    months = rows({"steel": meter}, g, factors={"electricity": FACTORS})
    peaks: dict[str, tuple[float, datetime]] = {}
    co2: dict[str, float] = defaultdict(float)
    for end, kwh, _ in data:
        begin = end - timedelta(minutes=15)
        key = f"{begin.year}-{begin.month:02d}"
        if key not in peaks or kwh * 4 > peaks[key][0]:
            peaks[key] = (kwh * 4, begin)
        co2[key] += kwh * (0.45 if begin.month < 7 else 0.40)
    for r in months:
        assert r.peak_kw == pytest.approx(peaks[r.period][0], rel=1e-9), r.period
        assert r.peak_at == peaks[r.period][1].replace(tzinfo=SEOUL)
        assert r.co2_kg == pytest.approx(co2[r.period], rel=1e-9), r.period
    assert max(r.peak_kw or 0 for r in months) == pytest.approx(628.72)  # the published peak, 628.7 kW
    site = site_peaks({"steel": meter}, g)
    assert [(p, round(kw, 6)) for p, kw, _ in site] == [(r.period, round(r.peak_kw or 0, 6)) for r in months]
    # the dataset's own CO2 column (t, rounded per row) says 403.81 t: 0.4208 kg/kWh over the year
    flat = rows(
        {"steel": meter},
        grid(datetime(2018, 1, 1, tzinfo=SEOUL), datetime(2019, 1, 1, tzinfo=SEOUL), SEOUL, "year"),
        default_factors={"electricity": 0.4208},
    )
    assert flat[0].co2_kg / 1000 == pytest.approx(math.fsum(c for _, _, c in data), rel=1e-3)
