"""Alarm evaluation through the bus: 10,000 alarm definitions, 100,000 samples per second, sample-to-alarm latency.

    .venv/bin/python benchmarks/alarms.py [--assets 1000] [--signals 10] [--rate 100000] [--duration 20]
        [--toggle-every 100] [--quick]

The real alarm app (:class:`werk.apps.alarms.app.AlarmsApp`) runs on werk's in-process bus with its journal in a
SQLite file: a plant of ``--assets`` assets of one kind whose template declares one high alarm on each of
``--signals`` signals (10,000 definitions by default, expanded from the template as a plant file would). A producer
publishes batches of 1,000 samples stamped with the wall clock at ``--rate`` samples per second, sweeping every
signal; each signal goes above its limit once every ``--toggle-every`` sweeps and back the sweep after, so the app
raises and clears alarms all the time (2,000 transitions per second at the defaults, each an event on the bus and a
journal row). A subscriber to ``alarm`` events takes each event's latency: the wall clock when it arrives minus the
sample's timestamp (no delay is configured, so an alarm is stamped with its sample's time).

Goals: p99 latency at most 50 ms, every published sample evaluated (the app's subscription has back-pressure, so
the count the engine saw must equal the count published), and the rate reached (the producer catching up when
behind; the achieved rate is printed). The start-up heap is frozen out of the cyclic GC as ``werk serve`` does (``werk/cli.py``); without that,
full collections walking it were the p99 (over 200 ms at a load of 8 on 2 cores). The reference printed beside it is the engine alone (``AlarmEngine.feed`` on
the same batches, no bus, no journal): the ceiling of this design on this machine. ``--quick``: 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.settings import expand
from werk.apps.alarms.store import MIGRATIONS
from werk.apps.spec import AppContext
from werk.bus.memory import MemoryBus
from werk.config.model import WerkConfig
from werk.core.model import Sample
from werk.store.sqlite_file import SQLiteFile

BATCH = 1000
LIMIT = 50.0


def plant(assets: int, signals: int) -> WerkConfig:
    sigs = [f"s{j}" for j in range(signals)]
    return WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "bench",
                "sites": {
                    "site": {
                        "areas": {
                            "area": {
                                "lines": {
                                    "line": {
                                        "cells": {
                                            "cell": {
                                                "assets": {
                                                    f"m{i}": {"kind": "machine"} for i in range(assets)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            },
            "apps": {
                "alarms": {
                    "templates": {
                        "machine": {
                            f"{s}-high": {"signal": s, "type": "high", "limit": LIMIT, "deadband": 1}
                            for s in sigs
                        }
                    },
                    "suppress_in": [],
                }
            },
        }
    )


def paths_of(config: WerkConfig) -> list[str]:
    return sorted({a.path for a in expand(config, config.app("alarms"))})


def sweep_values(n: int, sweep: int, toggle: int) -> list[float]:
    return [100.0 if (sweep + i) % toggle == 0 else 0.0 for i in range(n)]


async def run_bus(config: WerkConfig, rate: float, duration: float, toggle: int, db: Path) -> dict[str, Any]:
    bus = MemoryBus()
    file = SQLiteFile(db)
    file.open()
    file.migrate("alarms", MIGRATIONS)
    ctx = AppContext(
        name="alarms",
        config=config,
        settings=config.app("alarms"),
        bus=bus,
        historian=None,  # type: ignore[arg-type]  # the alarm app reads no history
        db=file,
        live={},
        data_dir=db.parent,
    )
    app = AlarmsApp(ctx)
    paths = paths_of(config)
    latencies: list[float] = []
    events_sub = bus.subscribe_events({"alarm"})

    async def listen() -> None:
        async for batch in events_sub:
            now = time.time()
            latencies.extend(now - e.ts.timestamp() for e in batch)

    runner = asyncio.create_task(app.run())
    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    # as `werk serve` does once started (werk/cli.py): what lives as long as the process leaves the cyclic GC
    gc.collect()
    gc.freeze()
    published = 0
    start = time.perf_counter()
    sweep = 0
    values = sweep_values(len(paths), sweep, toggle)
    offset = 0
    while (elapsed := time.perf_counter() - start) < duration:
        due = published / rate
        if due > elapsed:
            await asyncio.sleep(due - elapsed)
        ts = datetime.now(UTC)
        chunk = paths[offset : offset + BATCH]
        vals = values[offset : offset + BATCH]
        await bus.publish([Sample(p, ts, v) for p, v in zip(chunk, vals, strict=True)])
        published += len(chunk)
        offset += BATCH
        if offset >= len(paths):
            offset, sweep = 0, sweep + 1
            values = sweep_values(len(paths), sweep, toggle)
    wall = time.perf_counter() - start
    # let the app drain what is queued, then stop it
    for _ in range(200):
        if app.engine.samples >= published:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    runner.cancel()
    listener.cancel()
    for task in (runner, listener):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    rows = file.reader().execute("SELECT count(*) FROM alarm_journal").fetchone()[0]
    file.close()
    return {
        "published": published,
        "evaluated": app.engine.samples,
        "rate": published / wall,
        "events": len(latencies),
        "journal": rows,
        "latencies": latencies,
    }


def engine_alone(config: WerkConfig, samples: int, toggle: int) -> float:
    eng = AlarmEngine(expand(config, config.app("alarms")))
    paths = paths_of(config)
    sweep, offset, done = 0, 0, 0
    values = sweep_values(len(paths), sweep, toggle)
    t0 = time.perf_counter()
    while done < samples:
        ts = datetime.now(UTC)
        chunk = paths[offset : offset + BATCH]
        eng.feed([Sample(p, ts, v) for p, v in zip(chunk, values[offset : offset + BATCH], strict=True)])
        done += len(chunk)
        offset += BATCH
        if offset >= len(paths):
            offset, sweep = 0, sweep + 1
            values = sweep_values(len(paths), sweep, toggle)
    return done / (time.perf_counter() - t0)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=int, default=1000)
    ap.add_argument("--signals", type=int, default=10)
    ap.add_argument("--rate", type=float, default=100_000)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--toggle-every", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="5 s (a check, not a figure)")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration = 5.0
        print("quick run: 5 s (a check, not the figure of record)")
    config = plant(args.assets, args.signals)
    n_defs = len(expand(config, config.app("alarms")))
    print(
        f"alarms: {n_defs:,} definitions on {args.assets:,} assets, target {args.rate:,.0f} samples/s for "
        f"{args.duration:g} s; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}"
    )
    ref = engine_alone(config, 300_000, args.toggle_every)
    print(f"reference, the engine alone (no bus, no journal): {ref:,.0f} samples/s")
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run_bus(config, args.rate, args.duration, args.toggle_every, Path(tmp) / "alarms.db"))
    lat = [x * 1000 for x in r["latencies"]]
    p50, p99, worst = pct(lat, 0.5), pct(lat, 0.99), max(lat, default=float("nan"))
    print(
        f"through the bus: {r['rate']:,.0f} samples/s published, {r['evaluated']:,} of {r['published']:,} "
        f"evaluated, {r['events']:,} alarm events ({r['events'] / args.duration:,.0f}/s), {r['journal']:,} "
        f"journal rows"
    )
    print(
        f"sample-to-alarm latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
        f"(mean {statistics.fmean(lat) if lat else float('nan'):.1f} ms); load after {os.getloadavg()[0]:.2f}"
    )
    dropped = r["published"] - r["evaluated"]
    rate_ok = r["rate"] >= 0.95 * args.rate
    ok = p99 <= 50.0 and dropped == 0 and rate_ok and r["events"] > 0
    what = f"{n_defs:,} alarms at {args.rate:,.0f} samples/s, p99 <= 50 ms, none dropped"
    if ok:
        print(f"goal {what}: met")
    else:
        print(
            f"goal {what}: not met (p99 {p99:.1f} ms, {dropped} dropped, {r['rate']:,.0f} samples/s reached)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
