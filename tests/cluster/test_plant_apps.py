"""The plant-wide apps in a cluster, end to end on a real NATS server and PostgreSQL: two ``werk worker``
processes with ``cluster.apps`` and the energy app enabled (a meter on one press, a peak limit it goes over), a
``werk api`` replica. Exactly one worker holds the plant lease and runs energy, fed every asset's samples through
the durable plant consumer; its peak warning is stored as an event, and the replica's energy page and API answer
from the historian. The holder is killed with ``kill -9``: the other takes the lease after its TTL and goes on from
the durable consumer (the samples published meanwhile are handled and acknowledged)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import nats
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import APPS, cluster_plant
from tests.cluster.test_api_replicas_twin import Replica
from tests.cluster.test_app_host import wait_for
from tests.cluster.test_faults import Workers
from tests.conftest import free_port
from werk.bus.jetstream import encode
from werk.core.model import Sample, utcnow
from werk.runtime.app_host import PLANT_SUBJECT
from werk.runtime.partition_feed import consumer_name
from werk.runtime.partitions import BUCKET, PLANT_LEASE

METER = "acme/hall-1/press/line-1/cell-1/press-0/energy"
KWH_PER_S = 1.0  # 3,600 kW against a peak limit of 1 kW: every window warns


def plant_file(tmp_path: Path, name: str, pg_url: str, nats_url: str, port: int) -> Path:
    """Two presses, press-0 metered (it binds an ``energy`` signal; no process here runs its connector)."""
    path = cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name=name,
        presses=["press-0", "press-1"],
        plant="  timezone: UTC\n",
        cluster=APPS,
        port=port,
        more="""\
apps:
  energy: {interval_s: 0.5, peak_limit_kw: 1}
  production_orders: {enabled: false}
  stock: {enabled: false}
  maintenance: {enabled: false}
  alarms: {enabled: false}
connectors:
  meter: {type: opcua, endpoint: "opc.tcp://127.0.0.1:4840"}
""",
    )
    text = path.read_text(encoding="utf-8").replace(
        "press-0: {kind: press}",
        'press-0: {kind: press, source: {connector: meter, signals: {energy: "ns=2;s=Energy"}}}',
    )
    path.write_text(text, encoding="utf-8")
    return path


def peak_warnings(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT key FROM event WHERE kind = 'energy'").fetchall()
    return [k for (k,) in rows]


async def plant_holder(js: nats.js.JetStreamContext) -> str | None:
    try:
        entry = await (await js.key_value(BUCKET)).get(PLANT_LEASE)
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.KeyNotFoundError):
        return None
    return entry.value.decode() if entry.value else None


@pytest.mark.timeout(120)
async def test_the_plant_wide_apps_run_in_one_worker_and_move_when_it_dies(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    port = free_port()
    workers = Workers(plant_file(tmp_path, "worker", pg_url, nats_server.url, free_port()), tmp_path)
    replica = Replica(plant_file(tmp_path, "api", pg_url, nats_server.url, port))
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    published = 0

    async def meter() -> None:
        """The meter counts on at wall-clock time, a reading every half second (every window gets readings)."""
        nonlocal published
        kwh = 1000.0
        while True:
            for m in encode([Sample(METER, utcnow(), kwh)]):
                await js.publish(m.subject, m.payload)
            published += 1
            kwh += KWH_PER_S / 2
            await asyncio.sleep(0.5)

    readings: asyncio.Task[None] | None = None
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        workers.start("w1")
        workers.start("w2")
        replica.start()
        await workers.ready("w1", "w2", timeout=60)
        await asyncio.to_thread(replica.ready)
        readings = asyncio.create_task(meter())  # the workers made the stream

        async def held() -> bool:
            return await plant_holder(js) in {"w1", "w2"}

        await wait_for("a worker holds the plant lease", held, 20)
        holder = await plant_holder(js)
        other = "w2" if holder == "w1" else "w1"
        plant_log = "group=plant held=[0]"
        await wait_for(
            "the holder built the plant-wide apps",
            lambda: _said(tmp_path / f"{holder}.log", plant_log),
            20,
        )
        assert not (tmp_path / f"{other}.log").read_text(errors="replace").count(plant_log)

        async def warned() -> bool:
            return bool(await asyncio.to_thread(peak_warnings, pg_url))

        await wait_for("the peak warning is stored", warned, 20)
        keys = await asyncio.to_thread(peak_warnings, pg_url)
        assert all(k.startswith("energy/hall-1/peak_warning/") for k in keys) and len(set(keys)) == len(keys)

        # the replica serves energy from the historian, as the running instance computes it: no note
        async def live_window() -> bool:
            r = await http.get("/api/energy/live")
            assert r.status_code == 200, r.text
            w = r.json()["window"]
            return bool(w) and w["energy_kwh"] > 0 and w["warning"]

        await wait_for("the replica's energy window", live_window, 20)
        page = await http.get("/energy", params={"lang": "de"})
        assert page.status_code == 200 and 'id="not-running"' not in page.text

        # the holder dies without a goodbye: the other takes the lease after its TTL and goes on from the consumer
        assert holder is not None
        workers.kill(holder)

        async def taken() -> bool:
            return await plant_holder(js) == other

        await wait_for("the other worker takes the plant lease", taken, 20)
        await wait_for(
            "the new holder built the plant-wide apps",
            lambda: _said(tmp_path / f"{other}.log", plant_log),
            20,
        )
        after = (
            published + 4
        )  # readings published after the takeover, handled and acknowledged by the new holder
        name = consumer_name(PLANT_SUBJECT)

        async def caught_up() -> bool:
            if published < after:
                return False
            info = await js.consumer_info("WERK_SAMPLES", name)
            return info.num_pending == 0 and info.num_ack_pending <= 1 and info.ack_floor.stream_seq > 0

        await wait_for("the plant consumer is handled up to date", caught_up, 30)
    finally:
        if readings is not None:
            readings.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await readings
        await http.aclose()
        await nc.close()
        replica.stop()
        workers.stop()


async def _said(log: Path, text: str) -> bool:
    return text in await asyncio.to_thread(log.read_text, encoding="utf-8", errors="replace")
