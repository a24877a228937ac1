"""``server.workers: 2``: the primary and a worker process answer one port (werk.api.workers). Every request here
goes on a new connection, so Linux spreads them over both processes (SO_REUSEPORT hashes each connection's ports);
what one process acknowledged, every connection must then read, the worker's live values must be the plant's, and
what it cannot answer itself (writes to machines, structural changes) must be answered by the primary through it."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from pathlib import Path

import httpx

from tests.conftest import Stack, plant_config, running_stack, stored_value, wait_until
from werk.config import WerkConfig

TOKENS = {"sam": ("supervisor", "sv-secret"), "olga": ("operator", "op-secret")}
SAM = {"Authorization": "Bearer sv-secret"}
CONNECTIONS = 16  # new connections per check: the chance that all land on one of two processes is 2**-15


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _config(tmp_path: Path) -> WerkConfig:
    config = plant_config(tmp_path, acceleration=40, users=TOKENS)
    return config.model_copy(update={"server": config.server.model_copy(update={"workers": 2})})


def _fresh(stack: Stack) -> httpx.AsyncClient:
    """A client that opens a new connection for every request."""
    return httpx.AsyncClient(base_url=stack.url, limits=httpx.Limits(max_keepalive_connections=0), timeout=10)


async def _everyone(http: httpx.AsyncClient, url: str) -> list[httpx.Response]:
    return [await http.get(url) for _ in range(CONNECTIONS)]


async def test_what_one_process_acknowledged_every_connection_reads_and_it_is_stored(tmp_path: Path) -> None:
    config = _config(tmp_path)
    ref = config.asset("cnc-1")
    sm_id = ref.aas_id + "/submodels/TechnicalData"
    element = "TechnicalPropertyAreas[0].IdealCycleTime"
    url = f"/api/v3.0/submodels/{_b64(sm_id)}/submodel-elements/{element}/$value"
    async with running_stack(config) as stack, _fresh(stack) as http:
        assert stack.workers is not None and stack.workers.pool is not None
        worker = stack.workers.pool.procs[0]
        assert worker is not None and worker.returncode is None
        follower = stack.platform.twin_follower
        assert follower is not None
        for value in range(1, 13):
            r = await http.patch(url, json=float(value), headers=SAM)
            assert r.status_code == 204, r.text
            answers = await _everyone(http, url)
            assert {r.status_code for r in answers} == {200}
            assert [r.json() for r in answers] == [{"IdealCycleTime": float(value)}] * CONNECTIONS, value
        # some of those writes were the worker's: the primary read them from the file, as it reads any other's
        assert follower.applied > 0
        # a write is refused whichever process takes it, without a token or with too small a role
        for headers in ({}, {"Authorization": "Bearer op-secret"}):
            answers = [await http.patch(url, json=99.0, headers=headers) for _ in range(CONNECTIONS)]
            assert {r.status_code for r in answers} <= {401, 403} and len(answers) == CONNECTIONS
        assert {r.json()["IdealCycleTime"] for r in await _everyone(http, url)} == {12.0}
    # acknowledged means stored: the file holds the last value, whichever process wrote it
    assert stored_value(config.historian.path, sm_id, element) == 12.0


async def test_the_worker_serves_the_plant_live_values_and_hands_machine_writes_to_the_primary(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    ref = config.asset("cnc-1")
    base = f"/api/v3.0/submodels/{_b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements"
    async with running_stack(config) as stack, _fresh(stack) as http:
        live = stack.platform.live.latest
        temperature = ref.signal_path("temperature")
        await wait_until(lambda: temperature in live, timeout=20)
        # the worker hears of the first sample a moment after the primary did
        async with asyncio.timeout(10):
            while None in {
                r.json()["temperature"] for r in await _everyone(http, base + "/temperature/$value")
            }:
                await asyncio.sleep(0.05)
        seen: set[object] = set()

        async def watch() -> None:
            while True:
                seen.add(live[temperature].value)
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        try:
            answers = []
            for _ in range(3 * CONNECTIONS):
                r = await http.get(base + "/temperature/$value")
                assert r.status_code == 200, r.text
                answers.append(r.json()["temperature"])
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a sample the worker got a moment before the watcher looked
        finally:
            watcher.cancel()
        # every answer is a value the plant's signal held during the test (a worker without the live feed would
        # answer what it loaded at its start), and they move with the machine
        assert set(answers) <= seen, set(answers) - seen
        assert len(set(answers)) >= 3

        # a write to a machine goes to the primary, which holds the connectors, whichever process took it
        model = stack.sim.factory.assets["cnc-1"].model
        for value in (70.0, 90.0):
            r = await http.patch(base + "/feed_override/$value", json=value, headers=SAM)
            assert r.status_code == 204, r.text
            await wait_until(lambda v=value: model.feed_override == v, timeout=10)
        answers = [await http.patch(base + "/feed_override/$value", json=50, headers={}) for _ in range(8)]
        assert {r.status_code for r in answers} == {401}
        assert model.feed_override == 90.0


async def test_a_structural_change_reaches_the_worker_and_a_worker_that_dies_is_replaced(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    ref = config.asset("cnc-1")
    elements = f"/api/v3.0/submodels/{_b64(ref.aas_id + '/submodels/TechnicalData')}/submodel-elements"
    prop = {"modelType": "Property", "idShort": "Shifts", "valueType": "xs:int", "value": "2"}
    async with running_stack(config) as stack, _fresh(stack) as http:
        assert stack.workers is not None and stack.workers.pool is not None
        pool = stack.workers.pool
        assert {r.status_code for r in await _everyone(http, elements + "/Shifts/$value")} == {404}
        r = await http.post(elements, json=prop, headers=SAM)
        assert r.status_code == 201, r.text
        assert [r.json() for r in await _everyone(http, elements + "/Shifts/$value")] == [
            {"Shifts": 2}
        ] * CONNECTIONS
        for shifts in (3, 1):
            r = await http.patch(elements + "/Shifts/$value", json=shifts, headers=SAM)
            assert r.status_code == 204, r.text
            answers = await _everyone(http, elements + "/Shifts/$value")
            assert [r.json() for r in answers] == [{"Shifts": shifts}] * CONNECTIONS

        # the worker dies; connections go to the primary meanwhile, and a new worker takes the last state
        worker = pool.procs[0]
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)
        await wait_until(lambda: pool.started == 2 and pool.procs[0] is not worker, timeout=60)
        await wait_until(lambda: pool.procs[0] is not None and pool.ready[0], timeout=60)
        answers = await _everyone(http, elements + "/Shifts/$value")
        assert [r.json() for r in answers] == [{"Shifts": 1}] * CONNECTIONS

        r = await http.delete(elements + "/Shifts", headers=SAM)
        assert r.status_code == 204, r.text
        assert {r.status_code for r in await _everyone(http, elements + "/Shifts/$value")} == {404}


async def test_descriptors_name_the_scheme_the_client_used_whichever_process_took_the_request(
    tmp_path: Path,
) -> None:
    """Behind a TLS proxy named in server.forwarded_allow_ips, descriptors say https: a worker believes the proxy's
    X-Forwarded-Proto, and the primary believes what its worker passes on over their socket (FromWorkers)."""
    config = _config(tmp_path)
    server = config.server.model_copy(update={"forwarded_allow_ips": ["127.0.0.1"]})
    config = config.model_copy(update={"server": server})
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    async with running_stack(config) as stack, _fresh(stack) as http:
        for headers, scheme in ((proxied, "https"), ({}, "http")):
            hrefs = set()
            for _ in range(CONNECTIONS):
                r = await http.get("/api/v3.0/shell-descriptors", params={"limit": 1}, headers=headers)
                assert r.status_code == 200, r.text
                hrefs.add(r.json()["result"][0]["endpoints"][0]["protocolInformation"]["href"].split(":")[0])
            assert hrefs == {scheme}
