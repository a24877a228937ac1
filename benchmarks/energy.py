"""Time to compute the energy app's monthly report (goal: <= 1 s on a 2-core machine).

    python benchmarks/energy.py [--quick] [--meters 50] [--machines 50]

Part 1, from the historian: a year of 15-minute kWh counter readings for 50 meters (1.75 M samples in a SQLite
historian, Europe/Berlin, a rollover on one meter and a recorded exchange on another), and the monthly report as
the API makes it (``EnergyReader.report``: per meter, line, area and site; cost by five time-of-use bands, CO2e, the
15-minute peak) for one month by day, and for the year by month. Reference: what an EMS typically runs instead,
one SQL query of counter deltas (``LAG``) summed per local day over the same table: no rollover, exchange or glitch
handling, no cost or peak.

Part 2, the engine: a month of 1-second power (kW) for 50 machines (130 M readings), integrated and summed into the
month's days with cost, CO2e and peak (``integrate_power_arrays`` + ``periods.rows``), machine by machine in memory
(a historian of 130 M rows is what a plant keeps 15-minute rollups instead of).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from werk.apps.energy import periods
from werk.apps.energy.meter import integrate_power_arrays
from werk.apps.energy.report import EnergyReader
from werk.apps.energy.settings import Band, EmissionFactor, EnergySettings, MeterConfig, Tariff
from werk.apps.energy.store import MIGRATIONS, EnergyStore, RecordedEvent
from werk.config.model import WerkConfig
from werk.core.model import Sample
from werk.store import SQLiteFile, SQLiteHistorian

TZ = ZoneInfo("Europe/Berlin")
GOAL_S = 1.0
TARIFF = Tariff(
    name="tou",
    base_price=0.19,
    bands=[
        Band(name="peak", price=0.31, days=["mon", "tue", "wed", "thu", "fri"], start="08:00", end="12:00"),
        Band(name="high", price=0.27, days=["mon", "tue", "wed", "thu", "fri"], start="12:00", end="18:00"),
        Band(
            name="shoulder", price=0.23, days=["mon", "tue", "wed", "thu", "fri"], start="06:00", end="08:00"
        ),
        Band(
            name="evening", price=0.21, days=["mon", "tue", "wed", "thu", "fri"], start="18:00", end="22:00"
        ),
        Band(name="night", price=0.15, start="22:00", end="06:00"),
        Band(name="weekend", price=0.17, days=["sat", "sun"]),
    ],
)
FACTORS = {"electricity": [EmissionFactor(valid_from=date(2026, 1, 1), kg_per_unit=0.38)]}


def plant(n: int) -> WerkConfig:
    cells = {
        f"cell-{c}": {
            "assets": {f"m{i:03d}": {"kind": "machine"} for i in range(c * 10, min(n, c * 10 + 10))}
        }
        for c in range((n + 9) // 10)
    }
    return WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "bench",
                "timezone": "Europe/Berlin",
                "sites": {"s": {"areas": {"a": {"lines": {"l1": {"cells": cells}}}}}},
            }
        }
    )


def fill(h: SQLiteHistorian, config: WerkConfig, start: datetime, days: int) -> tuple[int, dict[str, float]]:
    """15-minute counter readings; meter m001 rolls over at 100 000, m002 is exchanged on day 40."""
    rng = np.random.default_rng(1)
    steps = days * 96
    t0 = start.timestamp()
    truth: dict[str, float] = {}
    total = 0
    for k, ref in enumerate(config.assets()):
        kwh = rng.uniform(0.5, 12.0, steps) * (1 + 0.5 * np.sin(np.arange(steps) / 96 * 2 * np.pi))
        cum = (99_000.0 if k == 1 else 0.0) + np.concatenate(([0.0], np.cumsum(kwh)))
        truth[ref.name] = float(cum[-1] - cum[0])
        if k == 1:
            cum = cum % 100_000.0
        if k == 2:  # exchanged on day 40: the new meter starts at 0
            cut = 40 * 96
            cum[cut:] = cum[cut:] - cum[cut - 1] - kwh[cut - 1] * 0.5
        path = ref.signal_path("energy")
        batch = [
            Sample(path, datetime.fromtimestamp(t0 + 900 * i, TZ), float(round(v, 4)))
            for i, v in enumerate(cum)
        ]
        for i in range(0, len(batch), 50_000):
            total += h.write_samples(batch[i : i + 50_000])
    return total, truth


def reference(file: SQLiteFile, a: datetime, z: datetime) -> float:
    """Counter deltas summed per local day in one SQL query (LAG), over every meter: the usual EMS shortcut."""
    t = time.perf_counter()
    file.reader().execute(
        "SELECT signal_id, date((ts / 1000000) + 3600, 'unixepoch') AS day, sum(d) FROM ("
        " SELECT signal_id, ts, value - lag(value) OVER (PARTITION BY signal_id ORDER BY ts) AS d FROM sample"
        " WHERE ts >= ? AND ts < ?) GROUP BY signal_id, day",
        (int(a.timestamp() * 1e6), int(z.timestamp() * 1e6)),
    ).fetchall()
    return time.perf_counter() - t


def part1(meters: int, days: int) -> float:
    config = plant(meters)
    meters_cfg = {ref.name: MeterConfig(rated_kw=60.0) for ref in config.assets()}
    meters_cfg["m001"] = MeterConfig(modulus=100_000.0, rated_kw=60.0)
    settings = EnergySettings(meters=meters_cfg, tariffs=[TARIFF], emission_factors=FACTORS)
    start = datetime(2026, 1, 1, tzinfo=TZ)
    with tempfile.TemporaryDirectory() as d:
        file = SQLiteFile(Path(d) / "werk.db")
        file.open()
        h = SQLiteHistorian(file)
        h.open()
        file.migrate("energy", MIGRATIONS)
        t = time.perf_counter()
        n, truth = fill(h, config, start, days)
        print(
            f"historian: {n:,} counter samples of {meters} meters over {days} days in {time.perf_counter() - t:.1f} s"
        )
        store = EnergyStore(file)
        cut = start + timedelta(days=40)
        store.record(RecordedEvent("m002", cut - timedelta(minutes=7), "exchange", None, 0.0, "bench", cut))
        reader = EnergyReader(config, h, settings, store)
        month = (datetime(2026, 1, 1, tzinfo=TZ), datetime(2026, 2, 1, tzinfo=TZ))
        reader.report(*month, "day", states=False)  # warm the connection and the page cache
        t = time.perf_counter()
        rep = reader.report(*month, "day", states=False)
        monthly = time.perf_counter() - t
        rows = len(rep["rows"])
        t = time.perf_counter()
        rep_m = reader.report(*month, "month", states=False)
        one_row = time.perf_counter() - t
        year = (start, start + timedelta(days=days))
        t = time.perf_counter()
        rep_y = reader.report(*year, "month", states=False)
        yearly = time.perf_counter() - t
        ref = reference(file, *month)
        site = [r for r in rep_y["rows"] if r["level"] == "site"]
        booked = sum(r["energy"] for r in rep_y["rows"] if r["level"] == "asset" and r["scope"] == "m001")
        print(
            f"monthly report, {meters} meters by day ({rows:,} rows): {monthly:.3f} s   (goal <= {GOAL_S} s)"
        )
        print(f"monthly report, one row per meter and scope: {one_row:.3f} s")
        print(
            f"yearly report by month ({len(rep_y['rows']):,} rows): {yearly:.3f} s; site total "
            f"{sum(r['energy'] for r in site):,.0f} kWh, peak {max(p['peak_kw'] for p in rep_y['peaks']):,.1f} kW"
        )
        print(f"rollover meter m001: booked {booked:,.3f} kWh against {truth['m001']:,.3f} kWh counted")
        print(
            f"reference, SQL LAG deltas per day over the month: {ref:.3f} s (no rollover, exchange, cost or peak)"
        )
        assert abs(booked - truth["m001"]) < 1e-6 * truth["m001"]
        assert rep_m["rows"]
        file.close()
    return monthly


def part2(machines: int, days: int) -> float:
    secs = days * 86400
    start = datetime(2026, 3, 1, tzinfo=TZ)
    g = periods.grid(start, start + timedelta(days=days), TZ, "day")
    rng = np.random.default_rng(2)
    ts = start.timestamp() + np.arange(secs, dtype=np.float64)
    spent = 0.0
    for m in range(machines):
        kw = 20 + 10 * np.sin(np.arange(secs) / 3600.0 + m) + rng.normal(0, 1, secs)
        t = time.perf_counter()
        booked = integrate_power_arrays(ts, kw, max_gap_s=10)
        periods.rows({f"m{m}": periods.MeterInput(booked)}, g, tariffs=[TARIFF], factors=FACTORS)
        spent += time.perf_counter() - t
    print(
        f"engine: {machines} machines x {secs:,} one-second power readings ({machines * secs / 1e6:,.0f} M) "
        f"integrated and summed by day with cost, CO2e and peak in {spent:.2f} s ({spent / machines * 1000:.0f} ms "
        "a machine-month)"
    )
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="60 days of 15-minute data, 3 days of 1-second power"
    )
    ap.add_argument("--meters", type=int, default=50)
    ap.add_argument("--machines", type=int, default=50)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
    )
    monthly = part1(args.meters, 60 if args.quick else 365)
    part2(args.machines, 3 if args.quick else 30)
    if monthly <= GOAL_S:
        print(f"goal monthly report <= {GOAL_S:g} s: met")
    else:
        print(f"goal monthly report <= {GOAL_S:g} s: not met ({monthly:.2f} s)")


if __name__ == "__main__":
    main()
