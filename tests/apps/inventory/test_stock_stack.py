"""The stock app on the real stack: a count, a receipt, the simulated machines' parts booked through the BOM, and a
reorder point crossed once raising exactly one replenishment signal (API and bus event)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.app_databases import PlantStore
from tests.conftest import plant_config, running_stack, wait_until

OP = {"Authorization": "Bearer olga-token"}
SUP = {"Authorization": "Bearer sven-token"}


async def test_a_reorder_point_crossed_by_the_machines_raises_one_signal(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    """On the werk file and on PostgreSQL (the stock journal and its signals are the app's own tables)."""
    config = plant_store(
        plant_config(
            tmp_path,
            acceleration=50,
            users={"olga": ("operator", "olga-token"), "sven": ("supervisor", "sven-token")},
        )
    )
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as c:
        events = stack.platform.bus.subscribe_events({"inventory.replenish"})
        # a count just above BLK-AL-100's reorder point (150): the milling machines' next parts cross it
        r = await c.post("/api/inventory/counts", json={"material": "BLK-AL-100", "counted": 152}, headers=OP)
        assert r.status_code == 403  # a count needs a supervisor
        r = await c.post(
            "/api/inventory/counts",
            json={"material": "BLK-AL-100", "counted": 152, "why": "cycle count"},
            headers=SUP,
        )
        assert r.status_code == 200 and r.json()["kind"] == "count" and r.json()["who"] == "sven"

        async def level() -> float:
            stock = (await c.get("/api/inventory/stock")).json()
            return float(next(s for s in stock if s["material"] == "BLK-AL-100")["level"])

        for _ in range(600):
            if await level() < 140:
                break
            await asyncio.sleep(0.1)
        assert await level() < 140  # more parts made after the crossing
        signals = (await c.get("/api/inventory/signals")).json()
        assert [(s["material"], s["point"], s["quantity"]) for s in signals] == [("BLK-AL-100", 150.0, 500.0)]
        batch = await asyncio.wait_for(events.get(), 5)
        assert [e.data["material"] for e in batch] == ["BLK-AL-100"]
        # a receipt brings it back above the point, and the journal keeps who did what and why
        r = await c.post(
            "/api/inventory/receipts",
            json={"material": "BLK-AL-100", "quantity": 500, "ref": "DN-4711"},
            headers=OP,
        )
        assert r.status_code == 200
        await stack.sim.pause()  # no more parts: the journal and the level can be compared at rest
        app = stack.platform.apps["stock"]

        def settled() -> bool:
            journal = app.store.journal("BLK-AL-100")
            return abs(sum(b.quantity for b in journal) - app.inv.level("BLK-AL-100", "main")) < 1e-6

        await wait_until(settled, timeout=10)  # the journal is the stock
        journal = (await c.get("/api/inventory/journal?material=BLK-AL-100&limit=10000")).json()
        assert {"receipt", "count", "backflush"} <= {b["kind"] for b in journal}
        receipt = next(b for b in journal if b["kind"] == "receipt" and b["ref"] == "DN-4711")
        assert receipt["who"] == "olga" and receipt["quantity"] == 500
        assert len((await c.get("/api/inventory/signals")).json()) == 1  # back above the point: no new signal
        events.close()
