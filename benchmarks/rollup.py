"""Minute rollups on PostgreSQL: a chart's 4-week and 1-week query of one signal sampled at 1 Hz, read from the raw
samples and through the rollup (werk.store.postgres_rollup), the same answer checked; what the rollup costs: the
refresh's rate, and the ingest rate with and without the triggers that mark touched minutes.

    python benchmarks/rollup.py [--quick] [--pg postgresql://postgres@127.0.0.1:5432]

Query: ``query_series`` over the range with the overview chart's budget (1,600 points: 400 buckets), as
``/api/series/set`` runs it; four weeks of one signal at 1 Hz are 2.42 million samples (``--quick``: one week).
The rollup is refreshed, then two more minutes are written and left unrefreshed (the minutes a live plant is
writing), so the rollup's query reads those raw, as it would in a running plant. Median of 5 runs each, after one
warm-up run; both give the same samples (checked). Also ``query_buckets`` with 1-hour buckets (``bucket_s=3600``).

Ingest: the same 20 signals' float batches of 32,000 rows (a worker's fetched group) written by COPY into a
historian without the triggers and into one with them, in turns, best of three each.

A database ``werk_bench_<random>`` is made on the server of ``--pg`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from rich.console import Console

from werk.core.model import to_micros
from werk.store.postgres import PostgresHistorian
from werk.store.postgres_rollup import RollupHistorian

console = Console()
T0 = datetime(2026, 1, 5, tzinfo=UTC)
PATH = "acme/hall-1/press/line-1/cell-1/press-1/force"
CHART_LIMIT = 1600  # werk/ui/static/overview.js: points per signal and request
GOAL_SPEEDUP = 10.0
GOAL_MS = 100.0
INGEST_SIGNALS = 20
GROUP_ROWS = 32_000


def schema_url(db_url: str, schema: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return f"{db_url}?options=-csearch_path%3D{schema}"


def chart_rows(
    start: datetime, seconds: int, chunk: int = 200_000
) -> Iterator[list[tuple[str, int, float, int]]]:
    """One signal at 1 Hz from ``start``: a random walk, in chunks."""
    rnd = np.random.default_rng(5)
    base = to_micros(start)
    level = 0.0
    for k in range(0, seconds, chunk):
        n = min(chunk, seconds - k)
        walk = level + np.cumsum(rnd.normal(0, 1, n))
        level = float(walk[-1])
        stamps = base + (np.arange(k, k + n, dtype=np.int64) * 1_000_000)
        yield [(PATH, int(t), float(v), 0) for t, v in zip(stamps, walk, strict=True)]


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    """The median wall time of ``runs`` calls after a warm-up call (s), and the last result."""
    out = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def ingest_groups(n_groups: int, start: datetime) -> list[list[tuple[str, int, float, int]]]:
    rnd = np.random.default_rng(9)
    per_signal = GROUP_ROWS // INGEST_SIGNALS
    groups = []
    base = to_micros(start)
    for g in range(n_groups):
        rows = []
        for s in range(INGEST_SIGNALS):
            stamps = base + (g * per_signal + np.arange(per_signal, dtype=np.int64)) * 1_000_000
            vals = rnd.normal(50, 5, per_signal)
            path = f"acme/hall-1/a/l/c/m{s}/v"
            rows.extend((path, int(t), float(v), 0) for t, v in zip(stamps, vals, strict=True))
        groups.append(rows)
    return groups


def ingest_rate(h: PostgresHistorian, groups: list[list[tuple[str, int, float, int]]]) -> float:
    t = time.perf_counter()
    n = sum(h.write_rows(g) for g in groups)
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("WERK_TEST_PG", "postgresql://postgres@127.0.0.1:5432"))
    ap.add_argument(
        "--quick", action="store_true", help="one week of data instead of four, fewer ingest rounds"
    )
    args = ap.parse_args()
    days = 7 if args.quick else 28
    db = f"werk_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")
        version = c.execute("SHOW server_version").fetchone()
    db_url = f"{args.pg}/{db}"
    console.print(f"PostgreSQL {version[0] if version else '?'}; one signal at 1 Hz for {days} days")
    try:
        # --- ingest cost of the marking triggers --------------------------------------------------------------
        groups = ingest_groups(4 if args.quick else 12, T0)
        plain = PostgresHistorian(schema_url(db_url, "plain"))
        plain.open()
        marked = RollupHistorian(schema_url(db_url, "marked"))
        marked.open()
        plain_rates, marked_rates = [], []
        for k in range(3):
            for h, rates in ((plain, plain_rates), (marked, marked_rates)):
                shifted = [[(p, t + k * 86_400_000_000, v, q) for p, t, v, q in g] for g in groups]
                rates.append(ingest_rate(h, shifted))
        cost = 1 - max(marked_rates) / max(plain_rates)
        console.print(
            f"ingest ({INGEST_SIGNALS} signals, groups of {GROUP_ROWS:,} rows): without triggers "
            f"{max(plain_rates):,.0f} samples/s, with {max(marked_rates):,.0f} samples/s "
            f"(marking costs {cost:.0%}; runs {', '.join(f'{r:,.0f}' for r in plain_rates)} / "
            f"{', '.join(f'{r:,.0f}' for r in marked_rates)})"
        )
        plain.close()
        marked.close()

        # --- the chart's signal --------------------------------------------------------------------------------
        h = RollupHistorian(schema_url(db_url, "chart"))
        h.open()
        seconds = days * 86_400
        t = time.perf_counter()
        for rows in chart_rows(T0, seconds):
            h.write_rows(rows)
        write_s = time.perf_counter() - t
        end = T0 + timedelta(seconds=seconds)
        t = time.perf_counter()
        minutes = h.refresh_all(end + timedelta(hours=1))
        refresh_s = time.perf_counter() - t
        console.print(
            f"wrote {seconds:,} samples in {write_s:.1f} s; refresh: {minutes:,} minutes in {refresh_s:.1f} s "
            f"({seconds / refresh_s:,.0f} samples/s rolled up)"
        )
        # the minutes being written now stay marked: read raw by the rollup's query
        for rows in chart_rows(end, 120):
            h.write_rows(rows)
        z = end + timedelta(seconds=120)
        figures = []
        for label, length in (("4 weeks", timedelta(weeks=4)), ("1 week", timedelta(weeks=1))):
            if length > timedelta(days=days):
                continue
            a = z - length
            raw_s, want = timed(lambda a=a: PostgresHistorian.query_series(h, PATH, a, z, CHART_LIMIT))
            roll_s, got = timed(lambda a=a: h.query_series(PATH, a, z, CHART_LIMIT))
            assert got == want, f"{label}: the rollup's series differs from the raw one"
            braw_s, bwant = timed(lambda a=a: PostgresHistorian.query_buckets(h, PATH, a, z, 3600))
            broll_s, bgot = timed(lambda a=a: h.query_buckets(PATH, a, z, 3600))
            assert [(b.start, b.min, b.max, b.count) for b in bgot] == [
                (b.start, b.min, b.max, b.count) for b in bwant
            ]
            figures.append((label, raw_s, roll_s))
            console.print(
                f"{label} chart ({want.total:,} samples -> {len(got.samples)} points): raw {raw_s * 1000:,.0f} ms, "
                f"rollup {roll_s * 1000:,.1f} ms ({raw_s / roll_s:,.0f}x); 1-hour buckets: raw "
                f"{braw_s * 1000:,.0f} ms, rollup {broll_s * 1000:,.1f} ms ({braw_s / broll_s:,.0f}x); same answers"
            )
        h.close()
        load = os.getloadavg()
        console.print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        label, raw_s, roll_s = figures[0]
        met = raw_s / roll_s >= GOAL_SPEEDUP and roll_s * 1000 <= GOAL_MS
        goal = f"goal {label} chart query through the rollup >= {GOAL_SPEEDUP:.0f}x faster than raw and <= {GOAL_MS:.0f} ms"
        figure = f"{raw_s / roll_s:.1f}x, {roll_s * 1000:.1f} ms"
        console.print(f"{goal}: met ({figure})" if met else f"{goal}: not met ({figure})")
        return 0
    finally:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
