"""Scale-out ingest: edge -> NATS JetStream -> 1, 2, 4 ``werk worker`` processes -> PostgreSQL, beside the raw COPY
rate of the same PostgreSQL (the ceiling), and the end-to-end lag p99 under a steady load.

    python benchmarks/scale.py [--samples 1000000] [--quick] [--workers 1 2 4]

Throughput: the edge (in this process) first publishes ``--samples`` samples to the stream, as 20 assets' batches
of 500 samples (each acknowledged by the broker); then N worker processes (``benchmarks/scale_worker.py``: the
worker of ``werk worker`` without the command line's start-up) drain the stream, each writing what it
fetched in one transaction and acknowledging after the commit. A worker's rate is its samples over the time from its
first write to its last commit; the total is all samples over the first write to the last commit of any worker.
Every run ends with the database holding exactly the samples sent (checked). A run's samples are stamped a few
minutes ahead of now, as a live plant's are near now: no minute settles during the run, so the rollup's refresh
does not aggregate a minute again after every batch, as it would for samples long past.

Ceiling: the same rows, pre-built as the workers' own binary COPY buffers (a worker's group: 64 messages, 32,000
samples a transaction), copied into the same table where the workers copy them (the day partition of the historian's
``sample``, made by the same ``RollupHistorian``: the same indexes, the same triggers on the parent), from 1, 2 and 4
connections at once (the workers' counts), before and after the runs (the machine is shared: the best counts); no
broker, no decoding, no marking of minutes, no Python per row. Beside it, the same COPY into the parent ``sample``,
where the rollup's marking triggers fire (what any other writer pays).

CPU: the machine is shared, so rates move with everyone's load; CPU time per sample does not, much. Each run reports
CPU seconds per million samples of each process taking part: the workers (their own count, from ready to the last
commit), the benchmark's NATS server, this database's PostgreSQL backends (read from /proc while they run; the
rollup's refresh, which the workers run as a plant's do, apart) and the server's WAL writer, checkpointer and
background writer (shown, not counted: they serve every database on the server, and write the same WAL for the
ceiling's rows); for the ceiling, the COPY backends and the client threads. The most the two cores can give is
cores / (CPU s a sample): the ratio of the ceiling's CPU per sample to the pipeline's is the share of the ceiling
the pipeline can reach on this machine, however quiet it were; the verdict line is printed with it.

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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console

from werk.config import load_config
from werk.config.model import ClusterConfig
from werk.connect.base import ConnectorStatus
from werk.core.model import Sample, to_micros
from werk.runtime.edge import Edge
from werk.store.postgres import DAY_US, _float_rows, _part
from werk.store.postgres_rollup import REFRESH_CONNECTION, RollupHistorian

console = Console()
REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "benchmarks" / "scale_worker.py"  # a werk worker without the command line's start-up
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ASSETS = 20
PER_MESSAGE = 500  # samples per asset per batch
FETCH = 64  # messages a worker fetches and writes in one transaction
GROUP = FETCH * PER_MESSAGE
CONNECTIONS = (1, 2, 4)
TICK = os.sysconf("SC_CLK_TCK")
#: the server's own processes that write what the backends log (shared with every other database on it)
PG_SERVER = ("walwriter", "checkpointer", "background writer")
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


def live_t0(run: int) -> datetime:
    """Where a run's samples start: ``run`` minutes from now, each run its own (the broker drops a batch identical to
    one it took within its duplicate window)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=run)


def plant(tmp: Path, url: str, nats_url: str) -> Path:
    path = tmp / f"plant-{secrets.token_hex(3)}.yaml"
    path.write_text(
        f"""plant:
  enterprise: acme
  sites: {{s: {{areas: {{a: {{lines: {{l: {{cells: {{c: {{assets: {{m: {{kind: machine}}}}}}}}}}}}}}}}}}}}
historian: {{backend: postgresql, url: "{url}", path: {tmp / "werk.db"}}}
cluster: {{nats: "{nats_url}", fetch_messages: {FETCH}, ack_wait_s: 30, max_ack_pending: 1024}}
""",
        encoding="utf-8",
    )
    return path


def schema_url(db_url: str, schema: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    return f"{db_url}?options=-csearch_path%3D{schema}"


def cpu_of(pid: int) -> float:
    """CPU seconds (user and system) a live process spent so far; 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of proc(5)


class PgCpu:
    """CPU seconds of one database's backends and of the server's own writers (:data:`PG_SERVER`) while the block
    runs, read from /proc every 0.1 s: a backend that exits has its last reading counted (a worker's backend idles
    for a second before it goes), one that starts counts from zero."""

    def __init__(self, pg: str, db: str) -> None:
        self.pg, self.db = pg, db
        self.base: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._conn = psycopg.connect(f"{pg}/postgres", autocommit=True)

    def _poll(self) -> None:
        rows = self._conn.execute(
            "SELECT pid, CASE WHEN application_name = %s THEN 'refresh' ELSE backend_type END "
            "FROM pg_stat_activity WHERE datname = %s OR backend_type = ANY(%s)",
            (REFRESH_CONNECTION, self.db, list(PG_SERVER)),
        ).fetchall()
        for pid, kind in rows:
            self.last[pid] = (kind, cpu_of(pid) or self.last.get(pid, (kind, 0.0))[1])

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._poll()

    def __enter__(self) -> PgCpu:
        self._poll()
        self.base = {pid: cpu for pid, (_, cpu) in self.last.items()}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()
        self._conn.close()

    def seconds(self) -> tuple[float, float, float]:
        """CPU seconds of this database's backends that write, of the rollup's refresh, of the server's own
        writers."""
        spent = {pid: cpu - self.base.get(pid, 0.0) for pid, (_, cpu) in self.last.items()}
        server = sum(v for pid, v in spent.items() if self.last[pid][0] in PG_SERVER)
        refresh = sum(v for pid, v in spent.items() if self.last[pid][0] == "refresh")
        return sum(spent.values()) - server - refresh, refresh, server


def ceiling_table(url: str, data: list[list[Sample]]) -> tuple[list[bytes], str]:
    """The workers' binary COPY buffers of ``data`` (32,000 samples each, the signals made as a worker makes them)
    and the day partition they go into, in an empty historian at ``url`` with the rollup's tables and triggers."""
    h = RollupHistorian(url)
    h.open()
    h.write_samples(data[0][:1])  # the signals exist, as after the first batch of a real run
    h._signal_ids({s.path: "float" for s in data[0]})
    ids = {p: v[0] for p, v in h._ids.items()}
    rows = [(ids[s.path], to_micros(s.ts), s.value, 0) for b in data for s in b]
    days = {r[1] // DAY_US for r in rows}
    assert len(days) == 1, "the ceiling's samples are in one day"
    h._ensure_partitions(days)
    h.close()
    chunks = [_float_rows(*zip(*rows[k : k + GROUP], strict=True)) for k in range(0, len(rows), GROUP)]
    return chunks, _part(days.pop())


def copy_ceiling(
    url: str, meter: Callable[[], PgCpu], chunks: list[bytes], table: str, connections: int
) -> tuple[float, float]:
    """Samples/s PostgreSQL takes by binary COPY of pre-built buffers into ``table``, one transaction each, from
    ``connections`` connections at once (threads: the client does nothing but send bytes), and the CPU seconds a
    million samples cost (the backends and the client threads)."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE sample, sample_1m_dirty")
    cpu: list[float] = []

    def send(part: list[bytes]) -> None:
        with psycopg.connect(url) as c:
            client = time.thread_time()
            for chunk in part:
                with (
                    c.cursor() as cur,
                    cur.copy(
                        f"COPY {table} (signal_id, ts, f, i, s, quality) FROM STDIN (FORMAT BINARY)"
                    ) as cp,
                ):
                    cp.write(chunk)
                c.commit()
            cpu.append(time.thread_time() - client)

    parts = [chunks[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=send, args=(part,)) for part in parts]
    with meter() as pg:
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
    n = count(url)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE sample, sample_1m_dirty")
    return n / dt, (sum(cpu) + pg.seconds()[0]) / n * 1e6


def ceilings(
    url: str, meter: Callable[[], PgCpu], chunks: list[bytes], table: str, connections: tuple[int, ...]
) -> dict[int, tuple[float, float]]:
    return {k: copy_ceiling(url, meter, chunks, table, k) for k in connections}


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
            [sys.executable, str(WORKER), str(config_path), f"bench-{k}", str(idle_s), str(stats)],
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
    p.add_argument("--workers", type=int, nargs="+", help="worker counts (default 1 2 4; --quick: 1 2)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="100,000 samples, 1 and 2 workers, a 3 s lag run, the ceilings once (a check, not a figure)",
    )
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--nats", help="a NATS server with JetStream (default: start one of our own)")
    args = p.parse_args()
    n = 100_000 if args.quick else args.samples
    if args.quick:
        console.print(
            "quick run: 100,000 samples, 1 and 2 workers, the ceilings once (a check, not the figure of record)"
        )
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
        chunks, day_table = ceiling_table(ceiling_url, data)

        def meter() -> PgCpu:
            return PgCpu(args.pg, db)

        connections = CONNECTIONS[:2] if args.quick else CONNECTIONS
        before = ceilings(ceiling_url, meter, chunks, day_table, connections)
        parent = ceilings(ceiling_url, meter, chunks, "sample", (2,) if args.quick else CONNECTIONS)
        console.print(
            f"reference: binary COPY of the workers' buffers ({GROUP:,} samples a transaction) into the day "
            "partition: "
            + ", ".join(f"{r:,.0f} samples/s from {k} connection(s)" for k, (r, _) in before.items())
        )
        console.print(
            "  the same into the parent table, whose triggers mark minutes: "
            + ", ".join(f"{r:,.0f} from {k}" for k, (r, _) in parent.items())
        )
        results: list[tuple[int, float, float, dict[str, float]]] = []
        for w in args.workers or ([1, 2] if args.quick else [1, 2, 4]):
            url = schema_url(db_url, f"w{w}")
            cfg = plant(tmp, url, nats_url)
            made = RollupHistorian(url)
            made.open()  # tables and triggers made before the clock starts
            made.close()
            # stamped a few minutes ahead, as a live plant's are: no minute settles during the run, so the rollup's
            # refresh does what it does live (each minute once, 90 s after it ended), not again at every batch
            sent = batches(n, live_t0(w))
            broker0 = cpu_of(nats_proc.pid) if nats_proc else 0.0
            edge_rate = asyncio.run(publish(cfg, sent, tmp / f"spool-{w}"))
            broker1 = cpu_of(nats_proc.pid) if nats_proc else 0.0
            with PgCpu(args.pg, db) as pg_cpu:
                stats = finish(start_workers(cfg, w, tmp, idle_s=idle_s))
            broker2 = cpu_of(nats_proc.pid) if nats_proc else 0.0
            total = sum(int(s["samples"]) for s in stats)  # type: ignore[call-overload]
            first = min(float(s["first_write"]) for s in stats if s["first_write"])  # type: ignore[arg-type]
            last = max(float(s["last_commit"]) for s in stats if s["last_commit"])  # type: ignore[arg-type]
            stored = count(url)
            assert stored == len(data) * ASSETS * PER_MESSAGE, f"{w} workers: {stored:,} stored"
            rates = [float(s["rate"]) for s in stats if s["rate"]]  # type: ignore[arg-type]
            all_rate = total / (last - first)
            per = sum(rates) / len(rates)
            backends, refresh, server = pg_cpu.seconds()
            m = stored / 1e6
            cpu = {
                "workers": sum(float(s["cpu_s"]) for s in stats) / m,  # type: ignore[arg-type]
                "broker": (broker2 - broker1) / m,
                "backends": backends / m,
                "refresh": refresh / m,
                "server": server / m,
                "intake": (broker1 - broker0) / m,
            }
            results.append((w, per, all_rate, cpu))
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
        made = RollupHistorian(url)
        made.open()
        made.close()
        steady = batches(int(rate * lag_s), live_t0(30))  # made before the workers wait for it
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
        after = {} if args.quick else ceilings(ceiling_url, meter, chunks, day_table, CONNECTIONS)
        runs = [*before.values(), *after.values()]
        ceiling = max(r for r, _ in runs)
        console.print(
            "reference again: "
            + ", ".join(f"{r:,.0f} samples/s from {k} connection(s)" for k, (r, _) in after.items())
            + f"; the ceiling is the best of the COPY runs, {ceiling:,.0f} samples/s"
        )
        for w, per, all_rate, _ in results:
            console.print(
                f"  {w} worker(s): {per:,.0f} samples/s per worker, {all_rate:,.0f} in all = "
                f"{all_rate / ceiling:.0%} of the ceiling"
            )
        # CPU per sample: what the two cores allow, whatever the load
        cores = os.cpu_count() or 1
        copy_cpu = min(c for _, c in runs)  # the cheapest COPY run: the ceiling as PostgreSQL can do it
        parent_cpu = min(c for _, c in parent.values())
        console.print(
            f"CPU s per million samples (cores: {cores}): COPY alone {copy_cpu:.2f} (into the parent, triggers "
            f"marking: {parent_cpu:.2f}) -> at most {cores / copy_cpu * 1e6:,.0f} samples/s on {cores} cores"
        )
        console.print(
            "  workers + broker + PostgreSQL's writing backends + its rollup refresh = all -> at most on "
            f"{cores} cores = of the ceiling's own bound  (not counted: the server's writers, shared with other "
            "databases; the broker's intake of the edge's batches, paid while publishing)"
        )
        if nats_proc is None:
            console.print("  (the broker given by --nats is not this benchmark's: its CPU is not counted)")
        if args.quick:
            console.print(
                "  (coarse: the kernel counts CPU in 10 ms ticks, and a quick run is 100,000 samples)"
            )
        bounds = []
        for w, _, _, c in results:
            spent = c["workers"] + c["broker"] + c["backends"] + c["refresh"]
            bounds.append(copy_cpu / spent)
            console.print(
                f"  {w} worker(s): {c['workers']:.2f} + {c['broker']:.2f} + {c['backends']:.2f} + "
                f"{c['refresh']:.2f} = {spent:.2f} -> "
                f"{cores / spent * 1e6:,.0f} samples/s = {copy_cpu / spent:.0%}; with PostgreSQL on cores of its own "
                f"{copy_cpu / (c['backends'] + c['refresh']):.0%}  (writers {c['server']:.2f}, "
                f"intake {c['intake']:.2f})"
            )
        load = os.getloadavg()
        console.print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        worst_per = min(r[1] for r in results)
        best_all = max(r[2] for r in results)
        met = worst_per >= GOAL_PER_WORKER and best_all >= GOAL_SHARE * ceiling
        if not met and max(bounds) < GOAL_SHARE:
            console.print(
                f"the machine, not werk, bends the curve: on {cores} cores the pipeline (workers, broker and "
                f"PostgreSQL on one machine) can reach at most {max(bounds):.0%} of what PostgreSQL's COPY alone "
                "takes, since it needs that much more CPU per sample, however quiet the machine"
            )
        figure = (
            f"{worst_per:,.0f} samples/s per worker at worst, {best_all / ceiling:.0%} of COPY in all at best; "
            f"CPU bound {max(bounds):.0%}"
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
