"""Downtime and OEE end to end: werk's KPIs against the simulator's own record, and people classifying stops."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from tests.app_databases import PlantStore
from tests.conftest import plant_config, running_stack, wait_until
from werk.apps.oee.kpi import StateInterval, time_model

TOKENS = {"olga": ("operator", "op-secret-1"), "sam": ("supervisor", "sv-secret-2"), "vic": ("viewer", "v-3")}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


async def test_kpis_match_the_simulators_ground_truth(tmp_path: Path) -> None:
    """Fixed seed, scripted faults; werk's time model and counts per asset equal the simulator's own history."""
    config = plant_config(tmp_path, acceleration=100, tick_s=5.0, seed=11)
    async with running_stack(config, log_limit=200_000) as stack:
        f = stack.sim.factory
        # compare over the time werk watched: from the first tick after every asset's state had arrived
        await wait_until(
            lambda: all(
                m.state != "disconnected" for m in stack.platform.apps["machine_state"].mappers.values()
            )
        )
        # and every counter has a value werk holds from before the window: without one, a counter's first value
        # inside the window is its base, and a part made in the window's first tick would go uncounted
        live = stack.platform.live.latest
        await wait_until(
            lambda: all(
                ref.signal_path(s) in live
                for ref in config.assets()
                for s in ("good_count", "scrap_count")
                if s in ref.config.bound_signals()
            )
        )
        t0 = f.ticks + 1
        await wait_until(lambda: f.ticks >= 40, timeout=30)
        f.assets["press-1"].model.force_fault("scripted: die jam")
        f.assets["cnc-2"].model.force_fault("scripted: spindle alarm")
        await wait_until(lambda: f.ticks >= 160, timeout=60)
        await stack.sim.pause()
        step = timedelta(seconds=config.section("sim").tick_s / config.section("sim").acceleration)  # type: ignore[union-attr]
        window = (f.start + t0 * step, f.now)
        await wait_until(
            lambda: all(
                stack.platform.live.latest[ref.signal_path("machine_state")].value
                == f.assets[ref.name].model.state
                for ref in config.assets()
                if ref.config.states is None and ref.config.production
            ),
            timeout=10,
        )
        # and the counters' last values: a part counted in the last tick may arrive a publishing interval later
        end_of_log = window[1] + timedelta(days=1)
        served = {ref.name: _counts_at(stack, ref.name, end_of_log) for ref in config.assets()}
        await wait_until(
            lambda: all(
                stack.platform.live.latest[ref.signal_path(s)].value == served[ref.name][i]
                for ref in config.assets()
                if ref.config.states is None and ref.config.production
                for i, s in enumerate(("good_count", "scrap_count"))
                if s in ref.config.bound_signals()
            ),
            timeout=10,
        )
        assert stack.platform.writer is not None
        await stack.platform.writer.wait_written(stack.platform.bus.published, timeout=10)
        db = stack.platform.historian
        assert db is not None
        stops_db = stack.platform.apps["oee"].store
        for name in ("press-1", "cnc-2"):  # stops are stored by the OEE app after it sees the state
            await wait_until(lambda n=name: any("fault" in s.states for s in stops_db.query_stops(asset=n)))  # type: ignore[misc]
        builder = stack.platform.apps["oee"].builder
        accel = config.section("sim").acceleration  # type: ignore[union-attr]
        shifts = builder.calendar.periods(*window)
        faults_seen = 0
        for ref in config.assets():
            if ref.config.plugin("states") is not None or not ref.config.production:
                continue  # MTConnect's state words are coarser than the simulator's; sensors have no states
            model = f.assets[ref.name].model
            truth_iv = []
            hist = model.history
            for i, tr in enumerate(hist):
                a = f.start + timedelta(seconds=tr.t / accel)
                z = f.start + timedelta(seconds=hist[i + 1].t / accel) if i + 1 < len(hist) else window[1]
                if z > a:
                    truth_iv.append(StateInterval(a, z, tr.state))
            truth = time_model(truth_iv, shifts, window)
            got = builder.asset(ref, *window, now=window[1])
            for el in ("apt_s", "aust_s", "adet_s", "adot_s"):
                assert getattr(got.time, el) == pytest.approx(getattr(truth, el), abs=1e-3), (ref.name, el)
            # the window is half-open [a, z): a part counted at z itself belongs to the next one
            at_a, at_z = _counts_at(stack, ref.name, window[0]), _counts_at(stack, ref.name, window[1])
            assert got.gq == at_z[0] - at_a[0], ref.name
            assert got.sq == at_z[1] - at_a[1], ref.name
            assert at_z[0] <= model.good_count <= at_z[0] + 1
            if ref.name in ("press-1", "cnc-2"):  # the scripted faults are failure events with down time
                assert got.failures >= 1 and got.time.adot_s > 0, ref.name
                faults_seen += 1
        assert faults_seen == 2


def _counts_at(stack: object, name: str, ts: object) -> tuple[int, int]:
    """good and scrap counts the simulator had served by ``ts`` (from its log of served values)."""
    good = scrap = 0
    for s in stack.sim.factory.log:  # type: ignore[attr-defined]
        if s.asset == name and s.ts < ts:
            if s.signal == "good_count":
                good = int(s.value)
            elif s.signal == "scrap_count":
                scrap = int(s.value)
    return good, scrap


async def test_people_classify_stops_with_roles_and_history(tmp_path: Path, plant_store: PlantStore) -> None:
    """On the werk file and on PostgreSQL (the stops and their reason history are the app's own tables)."""
    config = plant_store(
        plant_config(
            tmp_path,
            acceleration=100,
            tick_s=5.0,
            users=TOKENS,
            oee={"unqualified_after_s": 0.5, "micro_stop_s": 0.0},
        )
    )
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        f = stack.sim.factory
        await wait_until(lambda: f.ticks >= 20, timeout=30)
        # ten simulated minutes (six seconds here): a forced fault's one to four minutes pass in under 2.5 s at
        # this acceleration, which a busy machine's OPC UA subscription may not sample at all
        f.assets["lathe-1"].model.hold("fault", 600, "scripted")
        await wait_until(
            lambda: any(
                s.asset == "lathe-1" and s.first_state == "fault"
                for s in stack.platform.apps["oee"].stops.values()
            )
        )
        stop = next(
            s
            for s in stack.platform.apps["oee"].stops.values()
            if s.asset == "lathe-1" and s.first_state == "fault"
        )
        url = f"/api/downtime/{stop.id}/reason"
        hist_db = stack.platform.apps["oee"].store
        await wait_until(lambda: any(s.id == stop.id for s in hist_db.query_stops(asset="lathe-1")))
        unq: list[str] = []
        while stop.id not in unq:  # the API lists it once it is older than unqualified_after_s (0.5 s)
            rows = (
                await http.get("/api/downtime", params={"status": "unqualified", "asset": "lathe-1"})
            ).json()
            unq = [r["id"] for r in rows]
        before = {r["reason"]: r for r in (await http.get("/api/downtime/pareto")).json()}

        assert (await http.post(url, json={"reason": "mechanical"})).status_code == 401
        r = await http.post(url, json={"reason": "mechanical"}, headers=auth("vic"))
        assert r.status_code == 403 and "needs 'operator'" in r.json()["detail"]
        r = await http.post(url, json={"reason": "teleportation"}, headers=auth("olga"))
        assert r.status_code == 422 and "unknown reason code" in r.json()["detail"][0]["msg"]
        assert r.json()["detail"][0]["loc"] == ["body", "reason"]  # FastAPI's shape, as the schema says
        r = await http.post(
            "/api/downtime/nope@1/reason", json={"reason": "mechanical"}, headers=auth("olga")
        )
        assert r.status_code == 404
        r = await http.post(url, json={"reason": "mechanical", "comment": "bearing"}, headers=auth("olga"))
        assert r.status_code == 200 and r.json()["reason"] == "mechanical"
        r = await http.post(url, json={"reason": "electrical"}, headers=auth("olga"))
        assert r.status_code == 403 and "supervisor" in r.json()["detail"]
        r = await http.post(url, json={"reason": "spindle"}, headers=auth("sam"))
        assert r.status_code == 200
        hist = r.json()["history"]
        assert [(h["who"], h["previous"], h["reason"]) for h in hist] == [
            ("olga", None, "mechanical"),
            ("sam", "mechanical", "spindle"),
        ]
        after = {r["reason"]: r for r in (await http.get("/api/downtime/pareto")).json()}
        assert after["spindle"]["count"] == 1
        assert after.get("unqualified", {"count": 0})["count"] <= before.get("unqualified", {"count": 1})[
            "count"
        ] - 1 + (len(stack.platform.apps["oee"].unqualified(f.now)) > 0)
        # the classification survives in the store: a new query reads it back with its history
        stored = stack.platform.apps["oee"].store.query_stops(asset="lathe-1")  # type: ignore[union-attr]
        assert [c.who for c in next(s for s in stored if s.id == stop.id).history] == ["olga", "sam"]


async def test_reports_and_exports(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=100, tick_s=5.0)
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        await wait_until(lambda: stack.sim.factory.ticks >= 40, timeout=30)
        # KPIs are defined once werk has seen the plant in a known state (before that: coverage 0, no KPIs)
        oee = stack.platform.apps["oee"]
        await wait_until(
            lambda: (oee.snapshot().get("plant") or {}).get("availability") is not None, timeout=10
        )
        live = (await http.get("/api/oee/live")).json()
        assert set(live["assets"]) == {r.name for r in config.assets() if r.config.production}
        assert 0 < live["plant"]["availability"] <= 1 and 0 < live["plant"]["coverage"] <= 1
        assert live["in_shift"] and live["window"]["start"] == live["shift"]["start"]
        rep = (await http.get("/api/oee/report", params={"period": "day"})).json()
        levels = {r["level"] for r in rep["rows"]}
        assert levels == {"asset", "line", "plant"}
        csv_text = (await http.get("/api/oee/report", params={"period": "shift", "format": "csv"})).text
        header, *lines = csv_text.strip().splitlines()
        assert header.startswith("Period,Level,Scope,Start (Europe/Berlin),End (Europe/Berlin),Coverage")
        assert len(lines) == len(
            (await http.get("/api/oee/report", params={"period": "shift"})).json()["rows"]
        )
        x = await http.get("/api/oee/report", params={"period": "range", "format": "xlsx"})
        wb = load_workbook(io.BytesIO(x.content))
        work_units = [
            r for r in config.assets() if r.config.production
        ]  # one row each, then lines, then plant
        ws = wb["OEE report"]
        assert (
            ws.cell(1, 8).value == "OEE index (OEE)"
            and ws.max_row == 1 + len(work_units) + len({r.path.rsplit("/", 2)[0] for r in work_units}) + 1
        )
        bad = await http.get("/api/oee/report", params={"period": "fortnight"})
        assert bad.status_code == 422
        bad = await http.get("/api/oee/report", params={"asset": "ghost"})
        assert bad.status_code == 404
        tl = (await http.get("/api/timeline", params={"minutes": 5})).json()
        # beyond a report's range, or no range: refused, not a 500
        for minutes in ("1e12", "inf", "nan", "0"):
            bad = await http.get("/api/timeline", params={"minutes": minutes})
            assert bad.status_code == 422, (minutes, bad.text)
        assert all(seg["state"] for segs in tl["assets"].values() for seg in segs)
