"""The apps' pages and APIs on a ``werk api`` replica, end to end on a real NATS server and PostgreSQL: a
``werk worker`` with ``cluster.apps`` runs machine state, OEE, maintenance and alarms over two presses whose state
batches are published to the log as an edge does; a ``werk api`` process serves the apps over the shared tables.

The replica lists the stops the worker's OEE stored and computes the shift's KPIs from them; a person's reason
given through the replica to a stop still going on stays when the worker ends the stop; the maintenance and alarms
pages render translated (an operator's actions on alarms through a replica: test_alarm_actions_on_replica.py); the
plant-wide apps' pages and APIs answer from the tables too, and a stock booking through the replica is booked by the
worker holding the plant lease (more of that: test_plant_actions_on_replica.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import APPS, cluster_plant
from tests.cluster.test_api_replicas_twin import Replica
from tests.cluster.test_faults import Workers
from tests.conftest import free_port
from werk.bus.jetstream import encode
from werk.core.model import Sample, utcnow

TOKEN = "replica-pages-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASSETS = [f"acme/hall-1/press/line-1/cell-1/press-{n}" for n in range(2)]


def plant_file(tmp_path: Path, name: str, pg_url: str, nats_url: str, port: int) -> Path:
    """Two presses, a shift all day long, the apps on the shared PostgreSQL; ``name`` keeps each process's werk
    file its own."""
    return cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name=name,
        presses=[a.rsplit("/", 1)[1] for a in ASSETS],
        plant="""\
  timezone: UTC
  shifts:
    - {name: day, start: "00:00", end: "00:00"}
""",
        cluster=APPS,
        port=port,
        users=[("sue", "supervisor", "WERK_PAGES_TEST_TOKEN")],
        more="""\
apps:
  oee: {kpi_interval_s: 1, micro_stop_s: 5}
""",
    )


def classified_events(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url) as c:
        rows = c.execute(
            "SELECT key FROM event WHERE kind = 'downtime' AND key LIKE '%/downtime.classified/%'"
        )
        return [k for (k,) in rows.fetchall()]


def work_orders(pg_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT asset, body FROM work_order").fetchall()
    return [(a, json.loads(b)["title"]) for a, b in rows]


async def eventually(
    get: Callable[[], Awaitable[httpx.Response]], check: Callable[[Any], bool], s: float
) -> Any:
    """The first answer that passes ``check`` (on its JSON) within ``s`` seconds (the last one when none did)."""
    deadline = time.monotonic() + s
    while True:
        r = await get()
        if (r.status_code == 200 and check(r.json())) or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r.json()
        await asyncio.sleep(0.2)


@pytest.mark.timeout(120)
async def test_a_replica_serves_the_apps_that_a_worker_runs(
    tmp_path: Path, pg_url: str, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    workers = Workers(plant_file(tmp_path, "worker", pg_url, nats_server.url, free_port()), tmp_path)
    monkeypatch.setenv("WERK_PAGES_TEST_TOKEN", TOKEN)
    replica = Replica(plant_file(tmp_path, "api", pg_url, nats_server.url, port))
    base = f"http://127.0.0.1:{port}"
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=3)

    async def publish(states: list[tuple[int, str]]) -> None:
        for offset, state in states:
            for path in ASSETS:
                for m in encode([Sample(f"{path}/state", t0 + timedelta(seconds=offset), state)]):
                    await js.publish(m.subject, m.payload)

    try:
        workers.start("w1")
        replica.start()
        await workers.ready("w1", timeout=60)
        await asyncio.to_thread(replica.ready)
        # a stop that ended (a fault of 30 s) and one going on (idle): neither has a reason by itself
        await publish([(0, "running"), (10, "fault"), (40, "running"), (60, "idle")])
        http = httpx.AsyncClient(base_url=base, timeout=10)

        def stops() -> Awaitable[httpx.Response]:
            return http.get("/api/downtime", params={"asset": "press-0"})

        listed = await eventually(stops, lambda x: len(x) == 2, 40)
        assert [(s["first_state"], s["end"] is None) for s in listed] == [("idle", True), ("fault", False)]
        assert [s["reason"] for s in listed] == [None, None]

        # the shift's KPIs, computed by the replica from the stops and states the worker stored
        live = await eventually(
            lambda: http.get("/api/oee/live"),
            lambda x: (x.get("assets") or {}).get("press-0", {}).get("time", {}).get("observed_s", 0) > 0,
            20,
        )
        assert live["in_shift"] and live["assets"]["press-0"]["availability"] < 1
        page = await http.get("/oee", params={"lang": "de"})
        assert page.status_code == 200 and "Stillstände" in page.text

        # a person classifies the stop still going on through the replica; the worker then ends it and writes
        # its own copy of the stop: the person's reason stays
        reasons = (await http.get("/api/downtime/reasons")).json()
        code = next(c for c, r in reasons.items() if not r.get("planned"))
        open_stop = listed[0]["id"]
        r = await http.post(f"/api/downtime/{open_stop}/reason", json={"reason": code}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["reason"] == code and r.json()["reason_source"] == "operator"
        await publish([(90, "running")])
        ended = await eventually(stops, lambda x: all(s["end"] is not None for s in x), 20)
        assert ended[0]["id"] == open_stop and ended[0]["reason"] == code
        assert ended[0]["reason_source"] == "operator" and ended[0]["status"] == "classified"

        deadline = time.monotonic() + 10  # the replica's historian writer commits its events within a flush
        while (
            not (classified := await asyncio.to_thread(classified_events, pg_url))
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.2)
        assert [k.split("/")[1] for k in classified] == ["press-0"]  # the person's act, as an event

        # maintenance and alarms render, translated, from their tables; a work order opened through the replica
        # is in the shared table, where the workers look work orders up
        r = await http.post(
            "/api/workorders", json={"asset": "press-1", "title": "check the die"}, headers=AUTH
        )
        assert r.status_code == 201, r.text
        assert await asyncio.to_thread(work_orders, pg_url) == [("press-1", "check the die")]
        for path, title in (("/maintenance", "Instandhaltung"), ("/alarms", "Alarme")):
            page = await http.get(path, params={"lang": "de"})
            assert page.status_code == 200 and title in page.text, path
        assert (await http.get("/api/maintenance")).status_code == 200
        assert (await http.get("/api/alarms")).status_code == 200

        # the plant-wide apps run in the worker that holds the plant lease: the replica serves their pages from
        # the tables and the historian, and sends what only the running instance may do there
        page = await http.get("/energy", params={"lang": "de"})
        assert page.status_code == 200 and 'id="not-running"' not in page.text
        assert (await http.get("/api/energy/live")).status_code == 200
        assert (await http.get("/api/inventory/stock")).status_code == 200
        r = await http.post(
            "/api/inventory/receipts", json={"material": "steel", "quantity": 1.0}, headers=AUTH
        )
        assert r.status_code == 200 and r.json()["who"] == "sue", r.text
        await http.aclose()
    finally:
        await nc.close()
        replica.stop()
        workers.stop()
