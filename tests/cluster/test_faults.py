"""An edge, a JetStream broker and ``werk worker`` processes writing to PostgreSQL, under load, through three faults
in a row: ``kill -9`` of a worker, the database ending every worker's connection, ``kill -9`` of the broker (the
edge's spool holds and replays). Counted exactly against what the edge sent: 0 acknowledged samples lost, 0
duplicates, each asset's samples in the order the edge sent them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import cluster_plant
from tests.conftest import REPO
from werk.config import load_config
from werk.connect.base import ConnectorStatus
from werk.core.model import Sample
from werk.runtime.edge import Edge

T0 = datetime(2026, 6, 1, tzinfo=UTC)
ASSETS = [f"acme/hall-{h}/press/line-1/cell-1/press-{n}" for h in (1, 2) for n in range(3)]
PER_BATCH = 40  # samples per asset per batch


def plant_file(tmp_path: Path, pg_url: str, nats_url: str) -> Path:
    return cluster_plant(
        tmp_path, pg_url, nats_url, name="werk", cluster="  ack_wait_s: 2\n  fetch_messages: 16\n"
    )


class Workers:
    def __init__(self, plant: Path, tmp_path: Path) -> None:
        self.plant = plant
        self.logs = tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "werk.cli", "-v", "worker", "-c", str(self.plant), "--name", name],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.logs,
        )

    async def ready(self, *names: str, timeout: float = 30.0) -> None:
        """Until each worker says it is bound to the consumer (importing werk takes a second or two)."""
        deadline = time.monotonic() + timeout
        for name in names:
            log = self.logs / f"{name}.log"
            while "✓ worker" not in log.read_text(encoding="utf-8", errors="replace"):
                assert self.procs[name].poll() is None, log.read_text(encoding="utf-8", errors="replace")
                assert time.monotonic() < deadline, f"worker {name} not ready in {timeout} s"
                await asyncio.sleep(0.1)

    def kill(self, name: str) -> None:
        self.procs.pop(name).send_signal(signal.SIGKILL)

    def stop(self) -> None:
        for p in self.procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        self.procs.clear()


def stored(pg_url: str) -> tuple[int, dict[str, list[tuple[int, int]]]]:
    with psycopg.connect(pg_url) as c:
        (n,) = c.execute("SELECT count(*) FROM sample").fetchone() or (0,)
        rows = c.execute(
            "SELECT g.path, x.ts, x.i FROM sample x JOIN signal g ON g.id = x.signal_id ORDER BY g.path, x.ts"
        ).fetchall()
    out: dict[str, list[tuple[int, int]]] = {}
    for path, ts, i in rows:
        out.setdefault(path, []).append((ts, i))
    return int(n), out


def end_connections(pg_url: str) -> int:
    """What a database restart does to its clients: every other session of the test database ends."""
    with psycopg.connect(pg_url, autocommit=True) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


# about 30 s on a busy 2-core machine; the bound leaves room for a slower one
@pytest.mark.timeout(300)
async def test_no_acknowledged_sample_is_lost_or_doubled_through_a_worker_a_database_and_a_broker_dying(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    plant = plant_file(tmp_path, pg_url, nats_server.url)
    config = load_config(plant)
    workers = Workers(plant, tmp_path)
    status = ConnectorStatus(name="gen", type="synthetic", endpoint="test")
    edge = Edge(config, connectors=[], spool_dir=tmp_path / "spool")
    await edge.start()
    pub = edge.publisher(status)
    seq = {a: 0 for a in ASSETS}
    sent = 0

    async def load(seconds: float, every: float = 0.02) -> None:
        """About 6 assets x 40 samples every 20 ms (12,000 samples/s at most), each asset's values counting up."""
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batch = []
            for a in ASSETS:
                n0 = seq[a]
                batch += [
                    Sample(f"{a}/count", T0 + timedelta(milliseconds=n), n) for n in range(n0, n0 + PER_BATCH)
                ]
                seq[a] = n0 + PER_BATCH
            await pub.offer(batch)
            sent += len(batch)
            await asyncio.sleep(every)

    try:
        for name in ("w1", "w2"):
            workers.start(name)
        await workers.ready("w1", "w2")
        await load(3.0)
        assert stored(pg_url)[0] > 0, "the workers write while the edge sends"

        # 1. kill -9 of a worker under load; a new one comes up (what a process supervisor does)
        workers.kill("w1")
        await load(2.0)
        workers.start("w3")
        await workers.ready("w3")

        # 2. the database ends every worker's connection mid-stream
        await load(1.0)
        assert end_connections(pg_url) >= 2
        await load(2.0)

        # 3. kill -9 of the broker under load: the edge spools, then replays once the broker is back
        nats_server.kill()
        await load(2.0)
        assert edge.spooled() > 0, "with the broker gone, batches wait in the edge's spool"
        nats_server.start()
        await load(2.0)

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (edge.spooled() or stored(pg_url)[0] < sent):
            await asyncio.sleep(0.25)
        count, by_path = stored(pg_url)
        assert status.dropped == 0 and edge.spooled() == 0
        assert pub.published == sent, "every sample sent was acknowledged by the broker"
        assert count == sent, f"{sent - count} samples lost" if count < sent else f"{count - sent} too many"
        for a in ASSETS:
            rows = by_path[f"{a}/count"]
            # each value once, none missing, and in time order the values the edge sent, in its order
            assert [i for _, i in rows] == list(range(seq[a])), a
    finally:
        workers.stop()
        await edge.stop(drain_s=0.5)
