"""A person's writes to the plant-wide apps (stock, orders) through a ``werk api`` replica, end to end on a real
NATS server and PostgreSQL: a ``werk worker`` with ``cluster.apps`` runs stock and orders (it holds the plant
lease); the replica sends each write as a command to it (werk.runtime.app_commands, partition 0's subject), whose
running instance books or plans it with the same code as a request where the app runs.

A goods receipt and a stock count through the replica answer 200, are stored once (each with its command's id),
and the levels and the journal read back through the replica show them; orders released through the replica are
planned by the worker and the replica shows the plan; a release the worker refuses comes back as the same 422; with
the worker killed the replica answers 503 in the reader's language and nothing is booked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import APPS, cluster_plant
from tests.cluster.test_api_replicas_twin import Replica
from tests.cluster.test_app_pages_on_replica import eventually
from tests.cluster.test_faults import Workers
from tests.conftest import free_port

OP = {"Authorization": "Bearer plant-actions-olga"}
SUP = {"Authorization": "Bearer plant-actions-sven"}


def plant_file(tmp_path: Path, name: str, pg_url: str, nats_url: str, port: int) -> Path:
    """One press; only the plant-wide stock and orders apps (the per-asset ones off: no partitions to lease)."""
    return cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name=name,
        cluster=APPS,
        port=port,
        users=[
            ("olga", "operator", "WERK_PLANT_ACTIONS_OLGA"),
            ("sven", "supervisor", "WERK_PLANT_ACTIONS_SVEN"),
        ],
        more="""\
apps:
  machine_state: {enabled: false}
  oee: {enabled: false}
  maintenance: {enabled: false}
  alarms: {enabled: false}
  energy: {enabled: false}
  stock: {opening_stock: {steel: 100}}
  production_orders:
    release_time_limit_s: 1
    routings:
      gear: [{operation: pressing, machines: [press-0], run_s: [30]}]
""",
    )


def bookings(pg_url: str) -> list[tuple[str, float, str, str | None]]:
    """(kind, quantity, who, command id) of every stock booking, oldest first."""
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT kind, quantity, who, command FROM inventory_booking ORDER BY id").fetchall()
    return [(k, q, w, cmd) for k, q, w, cmd in rows]


def replans(pg_url: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(pg_url) as c:
        return [
            (r, k) for r, k in c.execute("SELECT reason, command FROM orders_replan ORDER BY id").fetchall()
        ]


@pytest.mark.timeout(120)
async def test_stock_and_orders_are_written_through_a_replica_by_the_worker_that_runs_them(
    tmp_path: Path, pg_url: str, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    workers = Workers(plant_file(tmp_path, "worker", pg_url, nats_server.url, free_port()), tmp_path)
    monkeypatch.setenv("WERK_PLANT_ACTIONS_OLGA", OP["Authorization"].split()[1])
    monkeypatch.setenv("WERK_PLANT_ACTIONS_SVEN", SUP["Authorization"].split()[1])
    replica = Replica(plant_file(tmp_path, "api", pg_url, nats_server.url, port))
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15)

    def level(stock: Any) -> float:
        return float(next(x["level"] for x in stock if x["material"] == "steel"))

    try:
        workers.start("w1")
        replica.start()
        await workers.ready("w1", timeout=60)
        await asyncio.to_thread(replica.ready)
        # the worker's instance booked the opening stock when it started over the plant
        await eventually(
            lambda: http.get("/api/inventory/stock"), lambda x: any(s["material"] == "steel" for s in x), 30
        )

        r = await http.post(
            "/api/inventory/receipts", json={"material": "steel", "quantity": 25.0, "ref": "DN-1"}, headers=OP
        )
        assert r.status_code == 200, r.text
        receipt = r.json()
        assert (receipt["kind"], receipt["quantity"], receipt["who"], receipt["ref"]) == (
            "receipt",
            25.0,
            "olga",
            "DN-1",
        )
        assert level((await http.get("/api/inventory/stock")).json()) == 125.0
        # a count books the difference to the worker's level, by the supervisor who counted
        r = await http.post(
            "/api/inventory/counts",
            json={"material": "steel", "counted": 120.0, "why": "cycle count"},
            headers=SUP,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["kind"], r.json()["quantity"], r.json()["who"]) == ("count", -5.0, "sven")
        assert level((await http.get("/api/inventory/stock")).json()) == 120.0
        journal = (await http.get("/api/inventory/journal", params={"material": "steel"})).json()
        assert [(b["kind"], b["quantity"], b["who"]) for b in journal] == [
            ("count", -5.0, "sven"),
            ("receipt", 25.0, "olga"),
            ("receipt", 100.0, "werk"),
        ]
        stored = await asyncio.to_thread(bookings, pg_url)
        assert [(k, q, w) for k, q, w, _ in stored] == [
            ("receipt", 100.0, "werk"),
            ("receipt", 25.0, "olga"),
            ("count", -5.0, "sven"),
        ]
        assert (
            stored[0][3] is None and stored[1][3] and stored[2][3]
        )  # each command's id kept with its booking
        # the role check stays on the replica: nothing sent
        r = await http.post("/api/inventory/counts", json={"material": "steel", "counted": 1.0}, headers=OP)
        assert r.status_code == 403, r.text

        # orders released through the replica: the worker plans them, the replica shows its plan at once
        due = "2099-01-01T00:00:00Z"
        r = await http.post(
            "/api/orders", json=[{"order": "K-1", "product": "gear", "quantity": 10, "due": due}], headers=OP
        )
        assert r.status_code == 200, r.text
        assert r.json()["reason"] == "released:1"
        plan = (await http.get("/api/orders/plan")).json()
        assert [s["op"] for s in plan["machines"]["press-0"]] == ["K-1/1"]
        assert plan["last_replan"]["reason"] == "released:1"
        orders = (await http.get("/api/orders")).json()
        assert [(o["order"], o["state"]) for o in orders] == [("K-1", "released")]
        assert [reason for reason, key in await asyncio.to_thread(replans, pg_url) if key] == ["released:1"]
        # refused by the worker's book: the same 422 as where the app runs, the place in the body included
        r = await http.post(
            "/api/orders", json=[{"order": "K-2", "product": "nope", "quantity": 1, "due": due}], headers=OP
        )
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", 0, "product"] and error["msg"] == "product 'nope' has no routing"

        # no worker runs the apps: said so, in the reader's language, and nothing is booked
        workers.stop()
        r = await http.post(
            "/api/inventory/receipts",
            json={"material": "steel", "quantity": 1.0},
            headers={**OP, "Accept-Language": "de"},
        )
        assert r.status_code == 503, r.text
        detail = r.json()["detail"]
        assert "Worker" in detail and "No worker" not in detail and "Buchung" in detail, detail
        assert len(await asyncio.to_thread(bookings, pg_url)) == len(stored)
    finally:
        await http.aclose()
        replica.stop()
        workers.stop()
