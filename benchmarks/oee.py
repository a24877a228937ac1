"""Time to compute a 30-day OEE report for 50 assets from the historian (goal: <= 1 s on a 2-core machine).

    python benchmarks/oee.py [--assets 50] [--days 30] [--cycle-s 60] [--quick]

Builds a SQLite historian the way werk fills it: a derived state change every ~10 minutes per asset, a good-parts
counter sample per cycle, a scrap counter, and the stops the OEE app would store. Then times ReportBuilder.report for
the whole range and split by shift. Reference: the naive way to get the counts, a window-function scan over every
counter sample (what the boundary-seek method in counter_increase avoids). The goal is on the report of the whole
range. ``--quick``: 10 assets (the 30 days and their DST change kept).
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from werk.apps.oee.report import ReportBuilder
from werk.apps.oee.stops import StopTracker
from werk.apps.oee.store import MIGRATIONS, OeeStore
from werk.config.model import WerkConfig
from werk.core.model import Sample, to_micros
from werk.store import SQLiteHistorian

console = Console()
GOAL_S = 1.0
STATES = ["running"] * 6 + ["idle", "setup", "starved", "blocked", "fault", "maintenance"]


def plant(n: int) -> WerkConfig:
    assets = {f"m{i:03d}": {"kind": "machine", "ideal_cycle_s": 55.0} for i in range(n)}
    cells = {
        f"cell-{c}": {"assets": dict(list(assets.items())[c * 10 : c * 10 + 10])}
        for c in range((n + 9) // 10)
    }
    return WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "bench",
                "timezone": "Europe/Berlin",
                "shifts": [
                    {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["09:00", "09:15"]]},
                    {"name": "late", "start": "14:00", "end": "22:00", "breaks": [["18:00", "18:15"]]},
                    {"name": "night", "start": "22:00", "end": "06:00"},
                ],
                "sites": {"s": {"areas": {"a": {"lines": {"l1": {"cells": cells}}}}}},
            }
        }
    )


def fill(h: SQLiteHistorian, config: WerkConfig, start: datetime, days: int, cycle_s: float) -> int:
    rng = random.Random(1)
    total = 0
    refs = list(config.assets())
    end = start + timedelta(days=days)
    with Progress(console=console) as progress:
        job = progress.add_task("filling the historian", total=len(refs))
        for ref in refs:
            tracker = StopTracker(ref.name, 120.0)
            rows: list[Sample] = []
            t, good, scrap = start, 0, 0
            state = "running"
            stops = {}
            while t < end:
                rows.append(Sample(ref.signal_path("machine_state"), t, state))
                for s in tracker.on_state(t, state):
                    stops[s.id] = s
                dur = timedelta(seconds=rng.uniform(60, 1200))
                if state == "running":
                    n = int(dur.total_seconds() // cycle_s)
                    for k in range(n):
                        ts = t + timedelta(seconds=k * cycle_s)
                        if rng.random() < 0.02:
                            scrap += 1
                            rows.append(Sample(ref.signal_path("scrap_count"), ts, scrap))
                        else:
                            good += 1
                            rows.append(Sample(ref.signal_path("good_count"), ts, good))
                t += dur
                state = rng.choice(STATES) if state == "running" else "running"
            for i in range(0, len(rows), 20_000):
                h.write_samples(rows[i : i + 20_000])
            OeeStore(h.file).upsert_stops(list(stops.values()))
            total += len(rows)
            progress.advance(job)
    return total


def naive_counts(h: SQLiteHistorian, config: WerkConfig, a: datetime, z: datetime) -> float:
    t0 = time.perf_counter()
    with h.file.read_guard():
        db = h.file.reader()
        for ref in config.assets():
            for sig in ("good_count", "scrap_count"):
                sid = h._sid(ref.signal_path(sig))
                db.execute(
                    "SELECT sum(CASE WHEN d >= 0 THEN d ELSE value END) FROM (SELECT value, value - lag(value) "
                    "OVER (ORDER BY ts) AS d FROM sample WHERE signal_id = ? AND ts >= ? AND ts < ?)",
                    (sid, to_micros(a), to_micros(z)),
                ).fetchone()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--cycle-s", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true", help="10 assets (a check, not a figure)")
    args = ap.parse_args()
    if args.quick:
        args.assets = 10
        console.print("quick run: 10 assets, 30 days (a check, not the figure of record)")
    config = plant(args.assets)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as tmp:
        h = SQLiteHistorian(Path(tmp) / "oee.db")
        h.open()
        h.file.migrate("oee", MIGRATIONS)
        n = fill(h, config, start, args.days, args.cycle_s)
        h.close()
        h = SQLiteHistorian(
            Path(tmp) / "oee.db"
        )  # a cold start, as a report request after a restart would see
        h.open()
        b = ReportBuilder(config, h, OeeStore(h.file))
        timings = {}
        for period in ("range", "day", "shift"):
            t0 = time.perf_counter()
            rows = b.report(start, end, period=period, now=end)
            timings[period] = (time.perf_counter() - t0, len(rows))
        plant_row = next(r for r in b.report(start, end, period="range", now=end) if r.level == "plant")
        naive = naive_counts(h, config, start, end)
        h.close()
    console.print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    console.print(
        f"historian: {n:,} samples, {args.assets} assets, {args.days} days (DST change on 2026-10-25 inside)"
    )
    for period, (dt, nrows) in timings.items():
        goal = f"   goal <= {GOAL_S:g} s" if period == "range" else ""
        console.print(f"report by {period:<5}: {dt:6.3f} s  ({nrows:,} rows){goal}")
    console.print(f"reference, counts only by full window-function scan: {naive:6.3f} s")
    r = plant_row.report
    console.print(
        f"plant OEE {r.oee:.3f} (A {r.availability:.3f}, E {r.effectiveness:.3f}, Q {r.quality_ratio:.3f})"
    )
    took = timings["range"][0]
    what = f"goal {args.days}-day report for {args.assets} assets <= {GOAL_S:g} s"
    print(f"{what}: met" if took <= GOAL_S else f"{what}: not met ({took:.2f} s)")


if __name__ == "__main__":
    main()
