"""Live values through the log: an edge publishes, a worker stores, and two ``werk api`` replicas (real uvicorn
servers on loopback, each with its own werk file) stream the new values over SSE and answer the newest value as
latest, fed only by the samples subjects of a real NATS server; the historian is a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from tests.cluster.conftest import NatsServer
from tests.conftest import bounded, plant_config, serving, wait_until
from werk.api import create_app
from werk.config.model import ClusterConfig, WerkConfig
from werk.connect.base import ConnectorStatus
from werk.core.model import Sample, utcnow
from werk.runtime.edge import Edge
from werk.runtime.platform import Platform
from werk.runtime.worker import Worker


def cluster_plant(tmp_path: Path, pg_url: str, nats_url: str) -> WerkConfig:
    base = plant_config(tmp_path)
    historian = base.historian.model_copy(update={"backend": "postgresql", "url": pg_url})
    return base.model_copy(
        update={"historian": historian, "cluster": ClusterConfig(nats=nats_url, ack_wait_s=2)}
    )


@asynccontextmanager
async def api_replica(config: WerkConfig, werk_file: Path) -> AsyncIterator[tuple[Platform, str]]:
    """A replica as ``werk api`` runs it: the apps served (the workers run them), no connectors, live values from the log; its
    own werk file (the twin)."""
    config = config.model_copy(
        update={"historian": config.historian.model_copy(update={"path": str(werk_file)})}
    )
    platform = Platform(config, live_from_log=True)
    platform.connectors = []
    await bounded("platform.start", platform.start())
    try:
        assert platform.live_feed is not None
        await asyncio.wait_for(platform.live_feed.ready.wait(), 20)
        async with serving(create_app(platform), config.server) as url:
            yield platform, url
    finally:
        await bounded("platform.stop", platform.stop())


async def sse_values(http: httpx.AsyncClient, path: str, opened: asyncio.Event, want: int) -> list[object]:
    """The values of the ``samples`` events of ``/api/stream?path=`` until ``want`` of them came."""
    values: list[object] = []
    async with http.stream("GET", "/api/stream", params={"path": path}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in r.aiter_lines():
            opened.set()  # the first line comes after the stream subscribed to the bus
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "samples":
                values.extend(p["value"] for p in json.loads(line[6:]))
                if len(values) >= want:
                    return values
    return values


async def test_two_api_replicas_stream_what_an_edge_publishes_and_answer_the_newest_value(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    config = cluster_plant(tmp_path, pg_url, nats_server.url)
    power = config.asset("cnc-1").signal_path("power")
    spindle = config.asset("cnc-1").signal_path("spindle_speed")
    t0 = utcnow() - timedelta(seconds=30)
    edge = Edge(config, connectors=[], spool_dir=tmp_path / "spool")
    worker = Worker(config)
    async with AsyncExitStack() as stack:
        await edge.start()
        stack.push_async_callback(edge.stop, 0)
        task = asyncio.create_task(worker.run())

        async def stop_worker() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        stack.push_async_callback(stop_worker)
        pub = edge.publisher(ConnectorStatus(name="gen", type="synthetic", endpoint="test"))
        # published before any replica runs: a replica starts from the historian's newest values
        await pub.offer([Sample(power, t0, 1.0), Sample(spindle, t0, 900)])
        await wait_until(lambda: worker.samples == 2, timeout=30)

        replicas = [
            await stack.enter_async_context(api_replica(config, tmp_path / f"{n}.db")) for n in ("a", "b")
        ]
        for platform, _ in replicas:
            assert platform.live.latest[power].value == 1.0 and platform.live.latest[spindle].value == 900
            assert platform.writer is not None and not platform.writer.samples  # the workers store samples

        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
            for _, url in replicas
        ]
        opened = [asyncio.Event() for _ in clients]
        sent = [round(10.0 + k * 0.5, 1) for k in range(12)]
        streams = [
            asyncio.create_task(sse_values(c, power, o, len(sent)))
            for c, o in zip(clients, opened, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 20)
        for k in range(0, len(sent), 3):  # four batches, each with a sample of another signal beside
            batch = [
                Sample(power, t0 + timedelta(seconds=1 + k + j), v) for j, v in enumerate(sent[k : k + 3])
            ]
            await pub.offer([*batch, Sample(spindle, t0 + timedelta(seconds=1 + k), 1000 + k)])
        streamed = await asyncio.wait_for(asyncio.gather(*streams), 30)
        assert streamed == [
            sent,
            sent,
        ]  # each replica, every value, in the edge's order, nothing of the other signal

        for platform, _ in replicas:
            feed = platform.live_feed
            assert feed is not None and feed.samples == 16 and feed.dropped == 0 and feed.rejected == 0
        for http in clients:
            latest = {
                s["path"]: s["value"]
                for s in (await http.get("/api/signals", params={"prefix": power})).json()
            }
            assert latest == {power: sent[-1]}
            asset = (await http.get("/api/assets/cnc-1")).json()
            assert asset["signals"]["spindle_speed"]["value"] == 1009
            health = (await http.get("/api/health")).json()
            assert (health["live_samples"], health["live_dropped"], health["samples_written"]) == (16, 0, 0)
        # what the replicas showed live is what the worker stored, once
        await wait_until(lambda: worker.samples == 2 + 16, timeout=30)
        h = replicas[0][0].historian
        assert h is not None
        stored = await asyncio.to_thread(h.query_raw, power, t0, t0 + timedelta(minutes=1))
        assert [s.value for s in stored] == [1.0, *sent]


async def test_a_replica_serves_the_plant_wide_apps_only_where_the_workers_run_them(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    """Without ``cluster.apps`` no process runs the plant-wide apps: their API answers 503 and their pages show the
    note. With it (the plant lease's holder runs them) the replica serves them like the per-asset ones."""
    config = cluster_plant(tmp_path, pg_url, nats_server.url)
    async with (
        api_replica(config, tmp_path / "a.db") as (platform, url),
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert platform.apps["energy"].ctx.served == "nowhere"
        r = await http.get("/api/energy/live", params={"lang": "en"})
        assert r.status_code == 503 and "does not run in a werk cluster" in r.json()["detail"], r.text
        assert 'id="not-running"' in (await http.get("/energy")).text
    with_apps = config.model_copy(update={"cluster": config.cluster.model_copy(update={"apps": True})})
    async with (
        api_replica(with_apps, tmp_path / "b.db") as (platform, url),
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert platform.apps["energy"].ctx.served == "workers"
        assert (await http.get("/api/energy/live")).status_code == 200
        assert 'id="not-running"' not in (await http.get("/energy")).text
