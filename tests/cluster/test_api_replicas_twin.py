"""Two ``werk api`` processes over one PostgreSQL serve one twin: a submodel POSTed through one is read from the
other, a Property's ``$value`` PATCHed on one is read back from the other, a registered descriptor too, and a
restart of both keeps them. Each replica has a werk file of its own (users, the audit trail); the twin and the AAS
services' tables are on the server (werk.aas.backend.pg_twin)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import cluster_plant
from tests.conftest import REPO, free_port

TOKEN = "replica-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SM_ID = "https://example.com/ids/sm/replicated"
SUBMODEL = {
    "modelType": "Submodel",
    "id": SM_ID,
    "idShort": "Replicated",
    "submodelElements": [
        {"modelType": "Property", "idShort": "Setpoint", "valueType": "xs:double", "value": "1.5"},
    ],
}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def plant_file(tmp_path: Path, name: str, pg_url: str, nats_url: str) -> Path:
    """A one-press plant whose historian (and so the twin) is on ``pg_url``; the werk file is the replica's own."""
    return cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name=name,
        port=free_port(),
        users=[("sue", "supervisor", "WERK_REPLICA_TEST_TOKEN")],
    )


class Replica:
    """``werk api -c plant`` as a process, its output in a log beside the plant file."""

    def __init__(self, plant: Path) -> None:
        self.plant = plant
        self.log = plant.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None
        port = next(line for line in plant.read_text().splitlines() if "port:" in line).split(":")[1]
        self.url = f"http://127.0.0.1:{port.strip()}/api/v3.0"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "WERK_REPLICA_TEST_TOKEN": TOKEN}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "werk.cli", "api", "-c", str(self.plant)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.plant.parent,
            )

    def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(f"{self.url}/shells", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"not serving in {timeout} s: {self.log.read_text(errors='replace')}"
            )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str, nats_server: NatsServer) -> Iterator[list[Replica]]:
    started = [Replica(plant_file(tmp_path, name, pg_url, nats_server.url)) for name in ("a", "b")]
    try:
        yield started
    finally:
        for r in started:
            r.stop()


def eventually(get: Callable[[], httpx.Response], check: Callable[[httpx.Response], bool]) -> httpx.Response:
    """The first answer that passes ``check`` within 3 s (another replica serves a change within a second)."""
    deadline = time.monotonic() + 3.0
    while True:
        r = get()
        if check(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


@pytest.mark.timeout(240)
def test_two_api_replicas_serve_one_twin_and_keep_it_through_a_restart(
    replicas: list[Replica], pg_url: str
) -> None:
    a, b = replicas
    for r in replicas:
        r.start()
    for r in replicas:
        r.ready()
    sm_path = f"/submodels/{b64(SM_ID)}"
    value_path = f"{sm_path}/submodel-elements/Setpoint/$value"
    with httpx.Client(base_url=a.url, timeout=20) as ca, httpx.Client(base_url=b.url, timeout=20) as cb:
        posted = ca.post("/submodels", json=SUBMODEL, headers=AUTH)
        assert posted.status_code == 201, posted.text
        got = eventually(lambda: cb.get(sm_path), lambda r: r.status_code == 200)
        assert got.status_code == 200 and got.json()["idShort"] == "Replicated"

        patched = cb.patch(value_path, json=42.25, headers=AUTH)
        assert patched.status_code == 204, patched.text
        value = eventually(lambda: ca.get(value_path), lambda r: r.json() == {"Setpoint": 42.25})
        assert value.json() == {"Setpoint": 42.25}

        descriptor = {
            "id": "https://other.example/aas/pump-7",
            "endpoints": [
                {"interface": "AAS-3.0", "protocolInformation": {"href": "https://other.example/aas"}}
            ],
        }
        assert cb.post("/shell-descriptors", json=descriptor, headers=AUTH).status_code == 201
        assert ca.get(f"/shell-descriptors/{b64(descriptor['id'])}").json() == descriptor
        assert ca.post("/shell-descriptors", json=descriptor, headers=AUTH).status_code == 409

    for r in replicas:
        r.stop()
    with psycopg.connect(pg_url) as c:  # on the server, not in either werk file
        row = c.execute("SELECT kind FROM aas_object WHERE id = %s", (SM_ID,)).fetchone()
    assert row == ("Submodel",)
    for r in replicas:
        r.start()
    for r in replicas:
        r.ready()
    for r in replicas:
        with httpx.Client(base_url=r.url, timeout=20) as c:
            assert c.get(value_path).json() == {"Setpoint": 42.25}
            assert c.get(sm_path).json()["idShort"] == "Replicated"
            assert c.get(f"/shell-descriptors/{b64(descriptor['id'])}").status_code == 200
