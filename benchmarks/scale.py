"""Scale-out ingest: edge -> NATS JetStream -> 1, 2, 4 ``werk worker`` processes -> PostgreSQL, beside the raw COPY
rate of the same PostgreSQL (the ceiling), and the end-to-end lag p99 under a steady load.

    python benchmarks/scale.py [--samples 1000000] [--quick] [--workers 1 2 4]

Throughput: the edge (in this process) first publishes ``--samples`` samples to the stream, as 20 assets' batches
of 500 samples (each acknowledged by the broker); then N worker processes drain the stream, each writing what it
fetched in one transaction and acknowledging after the commit. A worker's rate is its samples over the time from its
first write to its last commit; the total is all samples over the first write to the last commit of any worker.
Every run ends with the database holding exactly the samples sent (checked).

Ceiling: the same rows, pre-built as COPY text, copied straight into the historian's partitioned ``sample`` table
from one and from two connections at once, before and after the runs (the machine is shared: the best of the four
counts); no staging table, no upsert, no broker, no decoding, no Python per row.

Lag: 2 workers running, the edge sending at a steady rate (half the 2-worker throughput) for a while: the time from
the edge's publish to the commit of the batch, per message, as the workers measure it.

A NATS server of its own is started when ``nats-server`` is installed (else ``--nats``); a database
``werk_bench_<random>`` is made on the server of ``--pg`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console

from werk.config import load_config
from werk.config.model import ClusterConfig
from werk.connect.base import ConnectorStatus
from werk.core.model import Sample, to_micros
from werk.runtime.edge import Edge
from werk.store.postgres import PostgresHistorian

console = Console()
REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ASSETS = 20
PER_MESSAGE = 500  # samples per asset per batch
SIGNALS_PER_ASSET = 10
GOAL_PER_WORKER = 50_000
GOAL_SHARE = 0.80


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batches(n: int, t0: datetime = T0) -> list[list[Sample]]:
    """n samples as connector batches: each batch 500 samples of each of 20 assets (10 signals each). Each run
    starts at its own ``t0``: the broker drops a batch identical to one it took within its duplicate window."""
    out: list[list[Sample]] = []
    i = 0
    while i < n:
        batch = []
        for a in range(ASSETS):
            base = f"acme/hall-{a % 4}/area-{a % 2}/line-1/cell-1/m-{a}"
            for k in range(PER_MESSAGE):
                j = i + k
                batch.append(
                    Sample(
                        f"{base}/s{j % SIGNALS_PER_ASSET}",
                        t0 + timedelta(milliseconds=j // SIGNALS_PER_ASSET * 10),
                        float(j % 977),
                    )
                )
        i += ASSETS * PER_MESSAGE
        out.append(batch)
    return out


def plant(tmp: Path, url: str, nats_url: str) -> Path:
    path = tmp / f"plant-{secrets.token_hex(3)}.yaml"
    path.write_text(
        f"""plant:
  enterprise: acme
  sites: {{s: {{areas: {{a: {{lines: {{l: {{cells: {{c: {{assets: {{m: {{kind: machine}}}}}}}}}}}}}}}}}}}}
historian: {{backend: postgresql, url: "{url}", path: {tmp / "werk.db"}}}
cluster: {{nats: "{nats_url}", fetch_messages: 64, ack_wait_s: 30, max_ack_pending: 1024}}
""",
        encoding="utf-8",
    )
    return path


def schema_url(db_url: str, schema: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    return f"{db_url}?options=-csearch_path%3D{schema}"


def copy_ceiling(url: str, data: list[list[Sample]], connections: int = 1) -> float:
    """Samples/s PostgreSQL takes by COPY of pre-built text rows into ``sample``, 32,000 rows a transaction, from
    ``connections`` connections at once (threads: the client does nothing but send bytes)."""
    h = PostgresHistorian(url)
    h.open()
    h.write_samples(data[0][:1])  # the signals exist, as after the first batch of a real run
    h._signal_ids({s.path: "float" for s in data[0]})
    ids = {p: v[0] for p, v in h._ids.items()}
    rows = [(ids[s.path], to_micros(s.ts), s.value) for b in data for s in b]
    h._ensure_partitions({r[1] // 86_400_000_000 for r in rows})
    h.close()
    chunks = [
        "".join(f"{sid}\t{ts}\t{v!r}\t\\N\t\\N\t0\n" for sid, ts, v in rows[k : k + 32_000]).encode()
        for k in range(0, len(rows), 32_000)
    ]
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE sample")

    def send(part: list[bytes]) -> None:
        with psycopg.connect(url) as c:
            for chunk in part:
                with (
                    c.cursor() as cur,
                    cur.copy("COPY sample (signal_id, ts, f, i, s, quality) FROM STDIN") as cp,
                ):
                    cp.write(chunk)
                c.commit()

    parts = [chunks[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=send, args=(part,)) for part in parts]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    dt = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE sample")
    return len(rows) / dt


async def publish(
    config_path: Path, data: list[list[Sample]], spool: Path, rate: float | None = None
) -> float:
    """Publish every batch through an edge's publisher; samples/s the broker acknowledged. With ``rate``, paced
    to about that many samples/s."""
    edge = Edge(load_config(config_path), connectors=[], spool_dir=spool)
    await edge.start()
    await asyncio.wait_for(edge.link.ready.wait(), 15)
    pub = edge.publisher(ConnectorStatus(name="bench", type="synthetic", endpoint="bench"))
    n = sum(len(b) for b in data)
    t = time.perf_counter()
    for k, b in enumerate(data):
        await pub.offer(b)
        if rate is not None:
            ahead = (k + 1) * len(b) / rate - (time.perf_counter() - t)
            if ahead > 0:
                await asyncio.sleep(ahead)
    while edge.spooled():
        await asyncio.sleep(0.05)
    dt = time.perf_counter() - t
    await edge.stop(drain_s=1)
    assert pub.published == n, (pub.published, n)
    return n / dt


def start_workers(
    config_path: Path, n: int, tmp: Path, idle_s: float
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    out = []
    for k in range(n):
        stats = tmp / f"stats-{secrets.token_hex(3)}.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "werk.cli",
                "worker",
                "-c",
                str(config_path),
                "--name",
                f"bench-{k}",
                "--until-idle",
                str(idle_s),
                "--stats",
                str(stats),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        out.append((proc, stats))
    return out


def finish(
    workers: list[tuple[subprocess.Popen[bytes], Path]], timeout: float = 900
) -> list[dict[str, object]]:
    stats = []
    for proc, path in workers:
        proc.wait(timeout)
        stats.append(json.loads(path.read_text()))
    return stats


async def bound(nats_url: str, workers: int, timeout: float = 60.0) -> None:
    """Until ``workers`` pull requests wait at the consumer: the workers have imported werk and bound to it."""
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    cfg = ClusterConfig()
    deadline = time.monotonic() + timeout
    try:
        while (await js.consumer_info(cfg.stream, cfg.consumer)).num_waiting < workers:
            assert time.monotonic() < deadline, "the workers did not bind to the consumer"
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


def count(url: str) -> int:
    with psycopg.connect(url) as c:
        row = c.execute("SELECT count(*) FROM sample").fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument(
        "--quick",
        action="store_true",
        help="100,000 samples, a 3 s lag run, the ceiling once (a check, not a figure; about a minute)",
    )
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--nats", help="a NATS server with JetStream (default: start one of our own)")
    args = p.parse_args()
    n = 100_000 if args.quick else args.samples
    if args.quick:
        console.print("quick run: 100,000 samples, the ceiling once (a check, not the figure of record)")
    lag_s = 3.0 if args.quick else 20.0
    idle_s = 1.0 if args.quick else 2.0  # a worker ends once the stream had nothing for this long
    load = os.getloadavg()
    console.print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared: the machine, not werk, bends the curve), "
        f"Python {platform.python_version()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="werk-scale-"))
    nats_proc = None
    if args.nats:
        nats_url = args.nats
    else:
        exe = shutil.which("nats-server")
        if exe is None:
            console.print("nats-server is not installed: pass --nats nats://host:4222")
            return 2
        port = free_port()
        nats_proc = subprocess.Popen(
            [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp / "js")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        nats_url = f"nats://127.0.0.1:{port}"
        time.sleep(0.5)
    db = f"werk_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")
        version = c.execute("SHOW server_version").fetchone()
    db_url = f"{args.pg}/{db}"
    console.print(
        f"PostgreSQL {version[0] if version else '?'}, {n:,} samples per run, {ASSETS} assets, {PER_MESSAGE} samples per message"
    )
    try:
        data = batches(n)
        ceiling_url = schema_url(db_url, "ceiling")
        ceilings = {k: copy_ceiling(ceiling_url, data, k) for k in (1, 2)}
        first_ceiling = max(ceilings.values())
        console.print(
            "reference: COPY of pre-built rows into the same partitioned table: "
            + ", ".join(f"{v:,.0f} samples/s from {k} connection(s)" for k, v in ceilings.items())
        )
        results = []
        for w in args.workers:
            url = schema_url(db_url, f"w{w}")
            cfg = plant(tmp, url, nats_url)
            PostgresHistorian(url).open()  # tables made before the clock starts
            edge_rate = asyncio.run(publish(cfg, batches(n, T0 + timedelta(days=w)), tmp / f"spool-{w}"))
            stats = finish(start_workers(cfg, w, tmp, idle_s=idle_s))
            total = sum(int(s["samples"]) for s in stats)  # type: ignore[call-overload]
            first = min(float(s["first_write"]) for s in stats if s["first_write"])  # type: ignore[arg-type]
            last = max(float(s["last_commit"]) for s in stats if s["last_commit"])  # type: ignore[arg-type]
            stored = count(url)
            assert stored == len(data) * ASSETS * PER_MESSAGE, f"{w} workers: {stored:,} stored"
            rates = [float(s["rate"]) for s in stats if s["rate"]]  # type: ignore[arg-type]
            all_rate = total / (last - first)
            per = sum(rates) / len(rates)
            results.append((w, per, all_rate))
            console.print(
                f"{w} worker(s): {per:,.0f} samples/s per worker (each: {', '.join(f'{r:,.0f}' for r in rates)}), "
                f"{all_rate:,.0f} samples/s in all; edge published "
                f"{edge_rate:,.0f} samples/s; {stored:,} stored, {sum(int(s['redelivered']) for s in stats)} redelivered"  # type: ignore[call-overload]
            )
        # lag: 2 workers, a steady load at half their throughput
        two = next((r for r in results if r[0] == 2), results[-1])
        rate = two[2] / 2
        url = schema_url(db_url, "lag")
        cfg = plant(tmp, url, nats_url)
        PostgresHistorian(url).open()
        steady = batches(int(rate * lag_s), T0 + timedelta(days=30))  # made before the workers wait for it
        live = start_workers(cfg, two[0], tmp, idle_s=idle_s + 1)
        asyncio.run(bound(nats_url, two[0]))
        asyncio.run(publish(cfg, steady, tmp / "spool-lag", rate=rate))
        stats = finish(live)
        lags = sorted(x for s in stats for x in s["lags_us"])  # type: ignore[attr-defined]
        p50, p99 = lags[len(lags) // 2] / 1000, lags[int(len(lags) * 0.99)] / 1000
        console.print(
            f"lag at {rate:,.0f} samples/s ({two[0]} workers, {lag_s:.0f} s, {len(lags):,} messages): "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (edge publish -> commit)"
        )
        # the machine is shared and its load moves: the ceiling is measured again, and the best run counts
        again = {} if args.quick else {k: copy_ceiling(ceiling_url, data, k) for k in (1, 2)}
        ceiling = max([first_ceiling, *again.values()])
        console.print(
            "reference again: "
            + ", ".join(f"{v:,.0f} samples/s from {k} connection(s)" for k, v in again.items())
            + f"; the ceiling is the best of the COPY runs, {ceiling:,.0f} samples/s"
        )
        for w, per, all_rate in results:
            console.print(
                f"  {w} worker(s): {per:,.0f} samples/s per worker, {all_rate:,.0f} in all = "
                f"{all_rate / ceiling:.0%} of the ceiling"
            )
        load = os.getloadavg()
        console.print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        worst_per = min(r[1] for r in results)
        best_all = max(r[2] for r in results)
        met = worst_per >= GOAL_PER_WORKER and best_all >= GOAL_SHARE * ceiling
        figure = (
            f"{worst_per:,.0f} samples/s per worker at worst, {best_all / ceiling:.0%} of COPY in all at best"
        )
        goal = f"goal >= {GOAL_PER_WORKER:,} samples/s per worker and >= {GOAL_SHARE:.0%} of the COPY ceiling in all"
        console.print(f"{goal}: met" if met else f"{goal}: not met ({figure})")
        return 0
    finally:
        if nats_proc is not None:
            nats_proc.send_signal(signal.SIGKILL)
            nats_proc.wait()
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
