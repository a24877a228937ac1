"""``werk serve`` with ``historian.backend: postgresql``: the demo plant end to end (simulator -> connectors -> bus ->
the PostgreSQL historian -> apps -> REST API), the apps' tables on the same server (a fresh platform reads what the
first one's apps wrote), the twin and the AAS services' tables there too; the werk file keeps users and the audit
trail."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import psycopg

from tests.conftest import plant_config, running_stack, wait_until
from werk.runtime.platform import Platform
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.postgres import PostgresHistorian


async def test_the_demo_plant_runs_on_a_postgresql_historian(tmp_path: Path, pg_url: str) -> None:
    base = plant_config(tmp_path, acceleration=40, users={"olga": ("operator", "op-secret-1")})
    historian = base.historian.model_copy(update={"backend": "postgresql", "url": pg_url})
    config = base.model_copy(update={"historian": historian})
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        assert isinstance(stack.platform.historian, PostgresHistorian)
        assert isinstance(stack.platform.app_db, PostgresAppDatabase)
        press = stack.sim.factory.assets["press-1"].model
        await wait_until(lambda: press.cycle_count >= 3, timeout=30)
        press.force_fault("test: scripted fault")
        stack.sim.factory.assets["cnc-1"].model.force_fault("test: scripted spindle alarm")
        made = await http.post(
            "/api/workorders",
            json={"asset": "cnc-1", "title": "check the spindle", "notes": "on PostgreSQL"},
            headers={"Authorization": "Bearer op-secret-1"},
        )
        assert made.status_code == 201, made.text
        work_order = made.json()["id"]
        events = []

        async def fault_event() -> bool:
            events[:] = (await http.get("/api/events", params={"kind": "state", "asset": "press-1"})).json()
            return bool(events) and events[0]["data"]["to"] == "fault"

        await wait_until(lambda: stack.platform.historian.count_samples() > 500, timeout=30)  # type: ignore[union-attr]
        deadline = time.monotonic() + 15
        while not await fault_event() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert events and events[0]["data"]["to"] == "fault", events[:2]

        path = config.asset("cnc-1").signal_path("power")
        raw = (await http.get("/api/series", params={"path": path, "minutes": 5})).json()["points"]
        agg = (await http.get("/api/series", params={"path": path, "minutes": 5, "bucket_s": 3600})).json()
        assert raw and sum(b["count"] for b in agg["buckets"]) >= len(raw)
        assert min(b["min"] for b in agg["buckets"]) <= min(p["value"] for p in raw)
        signals = (await http.get("/api/signals")).json()
        assert any(s["path"] == path for s in signals)
        # the apps read their reports from the historian: states and counters through PostgreSQL
        oee = stack.platform.apps["oee"]
        await wait_until(
            lambda: (oee.snapshot().get("plant") or {}).get("availability") is not None, timeout=30
        )
        rep = await http.get("/api/oee/report", params={"period": "day"})
        assert rep.status_code == 200, rep.text
        rows = rep.json()["rows"]
        assert {r["level"] for r in rows} == {"asset", "line", "plant"}
        timeline = (await http.get("/api/timeline", params={"minutes": 5})).json()
        assert any(timeline["assets"].values()) and all(
            seg["state"] for segs in timeline["assets"].values() for seg in segs
        )
        oee_app, alarms_app = stack.platform.apps["oee"], stack.platform.apps["alarms"]
        await wait_until(
            lambda: (
                any(s.asset == "press-1" for s in oee_app.store.query_stops())  # type: ignore[attr-defined]
                and any(j["alarm"] == "cnc-1:fault" for j in alarms_app.store.journal())
            ),  # type: ignore[attr-defined]
            timeout=30,
        )
        stops = oee_app.store.query_stops()  # type: ignore[attr-defined]
        journal = alarms_app.store.journal()  # type: ignore[attr-defined]
    # what the API showed is on the server, in the historian's, the apps' and the twin's tables
    with sqlite3.connect(config.historian.path) as lite:
        tables = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "sample" not in tables and "aas_object" not in tables and "aas_descriptor" not in tables
    assert not tables & {"downtime", "work_order", "alarm_journal", "orders_order", "inventory_booking"}
    # a fresh platform on the same plant file (no simulator, as a process started after the first one ended)
    # reads the stops, the work order and the alarm journal the first one's apps wrote
    again = Platform(config)
    again.connectors = []  # as werk api starts it: the machines are not read here
    await asyncio.wait_for(again.start(), 30)
    try:
        restarted = again.apps["oee"].store.query_stops()  # type: ignore[attr-defined]
        assert [(s.id, s.first_state) for s in stops] == [(s.id, s.first_state) for s in restarted][
            : len(stops)
        ]
        wo = again.apps["maintenance"].store.get_work_order(work_order)  # type: ignore[attr-defined]
        assert wo is not None and (wo.asset, wo.title, wo.notes) == (
            "cnc-1",
            "check the spindle",
            "on PostgreSQL",
        )
        again_journal = again.apps["alarms"].store.journal()  # type: ignore[attr-defined]
        assert {(j["alarm"], j["ts"], j["action"]) for j in journal} <= {
            (j["alarm"], j["ts"], j["action"]) for j in again_journal
        }
    finally:
        await asyncio.wait_for(again.stop(), 30)
    with psycopg.connect(pg_url) as c:
        row = c.execute(
            "SELECT count(*) FROM sample x JOIN signal g ON g.id = x.signal_id WHERE g.path = %s", (path,)
        ).fetchone()
        assert row is not None and row[0] >= len(raw)
        row = c.execute("SELECT count(*) FROM event WHERE kind = 'state'").fetchone()
        assert row is not None and row[0] >= 1
        row = c.execute("SELECT count(*) FROM aas_object WHERE kind = 'AssetAdministrationShell'").fetchone()
        assert row is not None and row[0] == len(list(config.assets()))
        owners = {r[0] for r in c.execute("SELECT DISTINCT owner FROM werk_migration")}
        assert {
            "aas",
            "historian",
            "oee",
            "maintenance",
            "alarms",
            "energy",
            "production_orders",
            "stock",
        } <= owners
        row = c.execute("SELECT count(*) FROM downtime WHERE asset = 'press-1'").fetchone()
        assert row is not None and row[0] >= 1
        row = c.execute("SELECT status FROM work_order WHERE id = %s", (work_order,)).fetchone()
        assert row == ("open",)
