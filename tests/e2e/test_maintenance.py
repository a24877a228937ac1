"""Predictive maintenance end to end: a machine wearing toward failure is flagged, with a work order, before it
breaks; work orders move through their states by role; a bad model file is refused while serving goes on."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.app_databases import PlantStore
from tests.conftest import plant_config, running_stack, wait_until
from werk.apps.maintenance.model_file import model_path
from werk.apps.maintenance.training import train_asset

FAST_WEAR = "wear_per_cycle: 0.004, rated_power_kw: 22"


def fast_wear(text: str) -> str:
    assert FAST_WEAR in text
    return text.replace(FAST_WEAR, "wear_per_cycle: 0.02, rated_power_kw: 22")  # cnc-1 lives ~50 cycles


@pytest.mark.timeout(300)
async def test_warning_and_work_order_come_before_the_breakdown(tmp_path: Path) -> None:
    config = plant_config(
        tmp_path,
        acceleration=100,
        tick_s=5.0,
        seed=3,
        patch=fast_wear,
        maintenance={"baseline_cycles": 8, "rul_warning_cycles": 10},
    )
    trained = train_asset(config, "cnc-1", n_lives=15, rounds=150)
    assert trained.path.exists() and trained.rmse_cycles < 15
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        assert stack.platform.apps["maintenance"].health["cnc-1"].rul_model is not None
        model = stack.sim.factory.assets["cnc-1"].model
        model.wear = min(model.wear, 0.3)  # a known start: about 35 cycles (15 s) to the breakdown
        seen = len(model.history)
        await wait_until(
            lambda: any(t.cause == "wear breakdown" for t in model.history[seen:]), timeout=120, every=0.2
        )
        breakdown = next(t for t in model.history[seen:] if t.cause == "wear breakdown")
        accel = config.section("sim").acceleration  # type: ignore[union-attr]
        broke_at = stack.sim.factory.start + timedelta(seconds=breakdown.t / accel)
        orders = (await http.get("/api/workorders", params={"asset": "cnc-1"})).json()
        assert orders, "no work order was raised for cnc-1"
        first = min(orders, key=lambda o: o["created"])
        assert datetime.fromisoformat(first["created"]) < broke_at, (first, broke_at)
        assert first["source"] in ("rul", "anomaly") and first["created_by"] == "werk"
        health = (await http.get("/api/maintenance")).json()["assets"]["cnc-1"]
        assert health["baseline"]["ready"] and health["has_rul_model"]
        rul = (
            await http.get("/api/series", params={"path": config.asset("cnc-1").signal_path("rul.cycles")})
        ).json()
        values = [p["value"] for p in rul["points"]]
        assert len(values) > 5 and min(values[-5:]) < max(values[:5])  # RUL fell toward the breakdown


async def test_work_order_lifecycle_by_role(tmp_path: Path, plant_store: PlantStore) -> None:
    """On the werk file and on PostgreSQL (work orders are the app's own table)."""
    users = {"olga": ("operator", "t-olga"), "vic": ("viewer", "t-vic")}
    config = plant_store(plant_config(tmp_path, acceleration=50, users=users))
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        olga = {"Authorization": "Bearer t-olga"}
        r = await http.post("/api/workorders", json={"asset": "press-1", "title": "oil leak"})
        assert r.status_code == 401
        r = await http.post(
            "/api/workorders",
            json={"asset": "press-1", "title": "oil leak"},
            headers={"Authorization": "Bearer t-vic"},
        )
        assert r.status_code == 403
        r = await http.post("/api/workorders", json={"asset": "ghost", "title": "x y z"}, headers=olga)
        assert r.status_code == 404
        # a lone surrogate (JSON's escapes carry one; UTF-8 cannot): refused with a readable 422, which quotes it
        # escaped (it used to fail in turn, as a 500), and by name in a 404's detail
        as_json = {**olga, "Content-Type": "application/json"}
        r = await http.post(
            "/api/workorders", content=rb'{"asset": "press-1", "title": "\ud800"}', headers=as_json
        )
        assert r.status_code == 422 and r.json()["detail"], r.text
        r = await http.post(
            "/api/workorders", content=rb'{"asset": "\ud800", "title": "x y z"}', headers=as_json
        )
        assert r.status_code in (404, 422) and r.json()["detail"], r.text
        assert not (await http.get("/api/workorders", params={"asset": "press-1"})).json()
        r = await http.post("/api/workorders", json={"asset": "press-1", "title": "oil leak"}, headers=olga)
        assert r.status_code == 201
        wo = r.json()
        url = f"/api/workorders/{wo['id']}"
        r = await http.patch(url, json={"status": "in_progress"}, headers=olga)
        assert r.status_code == 200 and r.json()["started"]
        r = await http.patch(url, json={"parts": [{"part": "seal kit", "qty": "two"}]}, headers=olga)
        assert r.status_code == 422
        r = await http.patch(
            url, json={"status": "done", "parts": [{"part": "seal kit", "qty": 2}]}, headers=olga
        )
        done = r.json()
        assert (
            r.status_code == 200
            and done["status"] == "done"
            and done["parts"] == [{"part": "seal kit", "qty": 2}]
        )
        assert [(h["from"], h["to"], h["who"]) for h in done["history"]] == [
            ("open", "in_progress", "olga"),
            ("in_progress", "done", "olga"),
        ]
        r = await http.patch(url, json={"status": "open"}, headers=olga)
        assert r.status_code == 409 and "cannot become 'open'" in r.json()["detail"]
        listed = (await http.get("/api/workorders", params={"status": "done"})).json()
        assert [w["id"] for w in listed] == [wo["id"]]
        kpis = (await http.get("/api/maintenance/kpis")).json()["assets"]["press-1"]
        # a range of centuries would hold a worker for minutes: refused at once
        r = await http.get("/api/maintenance/kpis", params={"start": "0427-12-13T21:59:20Z"})
        assert r.status_code == 422 and "at most 400 days" in r.text
        repair_s = (
            datetime.fromisoformat(done["done"]) - datetime.fromisoformat(done["started"])
        ).total_seconds()
        assert kpis["work_orders_done"] == 1 and kpis["mttr_s_from_work_orders"] == pytest.approx(repair_s)


async def test_finished_work_order_links_the_breakdown_it_explains(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=100, tick_s=5.0, users={"olga": ("operator", "t-olga")})
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        olga = {"Authorization": "Bearer t-olga"}
        wo = (
            await http.post(
                "/api/workorders", json={"asset": "cnc-2", "title": "noisy spindle"}, headers=olga
            )
        ).json()
        await http.patch(f"/api/workorders/{wo['id']}", json={"status": "in_progress"}, headers=olga)
        stack.sim.factory.assets["cnc-2"].model.force_fault("spindle bearing")
        db = stack.platform.apps["oee"].store
        await wait_until(
            lambda: any("maintenance" in s.states for s in db.query_stops(asset="cnc-2")), timeout=30
        )
        done = (await http.patch(f"/api/workorders/{wo['id']}", json={"status": "done"}, headers=olga)).json()
        stops = {s.id: s for s in db.query_stops(asset="cnc-2")}
        assert done["downtime_ids"] and all("fault" in stops[i].states for i in done["downtime_ids"])


async def test_corrupt_or_foreign_model_files_are_refused_and_serving_goes_on(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=50)
    models = config.app("maintenance").models_dir
    good = train_asset(config, "lathe-1", n_lives=6, rounds=30)
    blob = good.path.read_bytes()
    model_path(models, "cnc-1").write_bytes(blob[: len(blob) // 2])  # truncated copy
    model_path(models, "cnc-2").write_bytes(b"WERKMODEL 1\nnot json\n")
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        assets = (await http.get("/api/maintenance")).json()["assets"]
        assert assets["lathe-1"]["has_rul_model"] and assets["lathe-1"]["model_error"] is None
        for name in ("cnc-1", "cnc-2"):
            assert not assets[name]["has_rul_model"]
            assert "cnc" in assets[name]["model_error"] and "model file" in assets[name]["model_error"]
        await wait_until(
            lambda: stack.platform.apps["maintenance"].health["cnc-1"].cycles_seen >= 2, timeout=60
        )


async def test_a_health_reason_comes_in_the_readers_language(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=50)
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        await wait_until(
            lambda: stack.platform.apps["maintenance"].health["cnc-1"].cycles_seen >= 1, timeout=60
        )
        english = (await http.get("/api/maintenance")).json()["assets"]["cnc-1"]["reason"]
        german = (await http.get("/api/maintenance", headers={"Accept-Language": "de"})).json()
        chinese = (await http.get("/api/maintenance?lang=zh")).json()
        reason_de = german["assets"]["cnc-1"]["reason"]
        assert english["text"] == english["summary"] and english["summary"].startswith(
            "anomaly check still learning its baseline"
        )
        assert (
            reason_de["text"].startswith("Anomalieprüfung lernt noch ihre Referenz")
            and reason_de["summary"] == english["summary"]
        )
        assert chinese["assets"]["cnc-1"]["reason"]["text"].startswith("异常检测仍在学习基线")
