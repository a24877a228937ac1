"""Ingest throughput: bus + historian in one process, batched, against raw SQLite inserts of the same rows.

    python benchmarks/ingest.py [--samples 1000000] [--signals 1000] [--batch 1000] [--quick]

The reference is the ceiling for this path: sqlite3 ``executemany`` of pre-built tuples into an equivalent table with
the same pragmas (WAL, synchronous=NORMAL), no Sample objects, no bus, no upsert. werk's figure includes building
Sample objects' rows, matching patterns on the bus, batching in the writer and the upsert.

Goal: werk >= 0.75 of the raw rate (no goal was stated with the walking skeleton; 0.75 leaves room below the 0.79
of its first measurement for the work werk does beyond the ceiling). ``--quick``: 300,000 samples.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from werk.bus import MemoryBus
from werk.core.model import Sample
from werk.runtime.historian_writer import HistorianWriter
from werk.store import SQLiteHistorian

console = Console()
GOAL = 0.75  # werk / raw executemany
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_batches(n: int, signals: int, batch: int) -> list[list[Sample]]:
    paths = [f"acme/site/area/line-{i % 10}/cell-{i % 50}/m-{i % 200}/s{i}" for i in range(signals)]
    out, cur = [], []
    for i in range(n):
        cur.append(
            Sample(paths[i % signals], T0 + timedelta(milliseconds=i // signals * 100), float(i % 977))
        )
        if len(cur) == batch:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


async def werk_rate(batches: list[list[Sample]], db: Path, progress: Progress) -> float:
    n = sum(len(b) for b in batches)
    hist = SQLiteHistorian(db)
    hist.open()
    bus = MemoryBus(queue_batches=64)
    writer = HistorianWriter(bus, hist, batch_max=10_000, flush_s=0.05)
    task = asyncio.create_task(writer.run())
    live = bus.subscribe("+/+/+/+/+/+/s1")  # one dashboard-like subscriber, so the bus really routes
    drain = asyncio.create_task(_drain(live))
    await asyncio.sleep(0)
    job = progress.add_task("werk bus + historian", total=n)
    t = time.perf_counter()
    for b in batches:
        await bus.publish(b)
        progress.update(job, completed=writer.written)
    await writer.wait_written(n, timeout=600)
    dt = time.perf_counter() - t
    progress.update(job, completed=n)
    task.cancel()
    drain.cancel()
    await asyncio.gather(task, drain, return_exceptions=True)
    assert hist.count_samples() == n
    hist.close()
    return n / dt


async def _drain(sub: object) -> None:
    async for _ in sub:  # type: ignore[attr-defined]
        pass


def raw_rate(batches: list[list[Sample]], db: Path, progress: Progress) -> float:
    n = sum(len(b) for b in batches)
    ids: dict[str, int] = {}
    rows = [[(ids.setdefault(s.path, len(ids)), i, s.value) for i, s in enumerate(b)] for b in batches]
    base = 0
    for r in rows:  # unique timestamps per signal, like the real run
        r[:] = [(sid, base + i, v) for sid, i, v in r]
        base += len(r)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (sid INTEGER, ts INTEGER, value, PRIMARY KEY (sid, ts)) WITHOUT ROWID")
    job = progress.add_task("raw sqlite3 executemany", total=n)
    t = time.perf_counter()
    step = max(1, 10_000 // max(1, len(rows[0])))
    for k in range(0, len(rows), step):
        conn.execute("BEGIN")
        for r in rows[k : k + step]:
            conn.executemany("INSERT INTO t VALUES (?, ?, ?)", r)
        conn.execute("COMMIT")
        progress.update(job, advance=sum(len(r) for r in rows[k : k + step]))
    dt = time.perf_counter() - t
    conn.close()
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--signals", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="300,000 samples (a check, not a figure)")
    a = ap.parse_args()
    if a.quick:
        a.samples = 300_000
        console.print("quick run: 300,000 samples (a check, not the figure of record)")
    batches = make_batches(a.samples, a.signals, a.batch)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        werk = asyncio.run(werk_rate(batches, Path(tmp) / "werk.db", progress))
        raw = raw_rate(batches, Path(tmp) / "raw.db", progress)
    console.print(
        f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    console.print(f"samples: {a.samples:,} on {a.signals:,} signals, published in batches of {a.batch:,}")
    console.print(f"werk bus + historian : {werk:>12,.0f} samples/s")
    console.print(f"raw SQLite reference : {raw:>12,.0f} samples/s  (executemany, no bus, no objects)")
    console.print(f"werk / raw           : {werk / raw:>12.2f}  (goal >= {GOAL:.2f})")
    what = f"goal werk >= {GOAL:.2f} of raw SQLite executemany"
    print(f"{what}: met" if werk / raw >= GOAL else f"{what}: not met ({werk / raw:.2f})")


if __name__ == "__main__":
    main()
