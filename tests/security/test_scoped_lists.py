"""Lists across the plant show a caller only what its viewer grants cover, once reads need a sign-in: assets,
signals, events, the AAS shells and submodels and their descriptors, the overview's cards. Over loopback, against
the server as ``werk serve`` runs it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import chromium_path, running_stack, wait_until
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from tests.security.stack import LINE1, PASSWORD, add_users, secure_config, secure_stack
from werk.core.model import Event, Sample, utcnow


def _under(path: str, scope: str) -> bool:
    return path == scope or path.startswith(scope + "/")


async def test_a_viewer_of_line_1_lists_only_line_1(tmp_path: Path) -> None:
    config = secure_config(tmp_path)
    line1 = {r.name for r in config.assets() if _under(r.path, LINE1)}
    others = {r.name for r in config.assets()} - line1
    assert line1 and others, "the demo plant has assets on line 1 and elsewhere"
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        h = stack.platform.historian
        assert h is not None
        now = utcnow()
        sources = [r.path for r in config.assets()]
        h.write_events([Event("test.scoped", src, now, {"n": i}) for i, src in enumerate(sources)])

        async def names(user: str) -> set[str]:
            r = await http.get("/api/assets", headers=stack.auth(user))
            assert r.status_code == 200, r.text
            return {a["name"] for a in r.json()}

        assert await names("view1") == line1
        assert await names("vera") == line1 | others  # a viewer of the whole plant sees all of it

        r = await http.get("/api/signals/catalog", headers=stack.auth("view1"))
        signals = [s["path"] for s in r.json()]
        assert signals and all(_under(p, LINE1) for p in signals), signals
        everything = (await http.get("/api/signals/catalog", headers=stack.auth("vera"))).json()
        assert len(everything) > len(signals)

        r = await http.get("/api/events", params={"kind": "test.scoped"}, headers=stack.auth("view1"))
        seen = {e["source"] for e in r.json()}
        assert seen == {p for p in sources if _under(p, LINE1)}, seen
        r = await http.get("/api/events", params={"kind": "test.scoped"}, headers=stack.auth("vera"))
        assert {e["source"] for e in r.json()} == set(sources)

        line1_ids = {r.aas_id for r in config.assets() if r.name in line1}
        for path in ("/api/v3.0/shells", "/api/v3.0/shells/$reference", "/api/v3.0/shell-descriptors"):
            mine = (await http.get(path, headers=stack.auth("view1"))).json()["result"]
            ids = {x["id"] if "id" in x else x["keys"][0]["value"] for x in mine}
            assert ids == line1_ids, (path, ids)
            everyone = (await http.get(path, headers=stack.auth("vera"))).json()["result"]
            assert len(everyone) > len(mine), path
        subs = (await http.get("/api/v3.0/submodels", headers=stack.auth("view1"))).json()["result"]
        assert subs and all(any(s["id"].startswith(i + "/") for i in line1_ids) for s in subs)
        all_subs = (await http.get("/api/v3.0/submodels", headers=stack.auth("vera"))).json()["result"]
        assert len(all_subs) > len(subs)

        # an app's list across the plant: work orders on both lines, the viewer of line 1 lists line 1's
        for name in (sorted(line1)[0], sorted(others)[0]):
            r = await http.post(
                "/api/workorders",
                json={"asset": name, "title": "check the guard"},
                headers=stack.auth("root"),
            )
            assert r.status_code == 201, r.text
        mine = (await http.get("/api/workorders", headers=stack.auth("view1"))).json()
        assert [w["asset"] for w in mine] == [sorted(line1)[0]]
        assert len((await http.get("/api/workorders", headers=stack.auth("vera"))).json()) == 2

        # a shell outside the scope is refused as a single read too (the front door's target)
        other = next(r for r in config.assets() if r.name in others)
        encoded = base64.urlsafe_b64encode(other.aas_id.encode()).decode().rstrip("=")
        r = await http.get(f"/api/v3.0/shells/{encoded}", headers=stack.auth("view1"))
        assert r.status_code == 403

        # the overview page's cards
        page = (await http.get("/", headers=stack.auth("view1"))).text
        assert all(f'data-asset="{n}"' in page for n in line1), page[:2000]
        assert not any(f'data-asset="{n}"' in page for n in others)
        # the live stream's asset list
        async with http.stream("GET", "/api/stream", headers=stack.auth("view1")) as s:
            async for line in s.aiter_lines():
                if line.startswith("data: "):
                    streamed = {a["name"] for a in json.loads(line[6:])}
                    break
        assert streamed == line1


async def test_a_viewer_of_line_1_gets_line_1_of_the_plant_wide_figures(tmp_path: Path) -> None:
    """The plant tree, the connectors, alarm counts, OEE, energy, orders and the plan: a viewer of line 1 gets
    what is wholly line 1's and no aggregate over the rest (the plant's, the site's); an admin gets it all."""
    config = secure_config(tmp_path)
    refs = list(config.assets())
    line1 = {r.name for r in refs if _under(r.path, LINE1)}
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=60) as http:

        async def get(path: str, user: str, **params: object) -> Any:
            r = await http.get(path, params=params, headers=stack.auth(user))
            assert r.status_code == 200, (path, user, r.text)
            return r.json()

        # the plant tree: line 1 in full, its area and site as bare names, nothing of the other areas
        tree = await get("/api/plant", "view1")
        full = await get("/api/plant", "root")
        _, site, area, line = LINE1.split("/")
        assert list(tree["sites"]) == [site]
        assert list(tree["sites"][site]) == ["areas"]  # a bare name on the way
        assert list(tree["sites"][site]["areas"]) == [area]
        assert list(tree["sites"][site]["areas"][area]) == ["lines"]
        assert tree["sites"][site]["areas"][area]["lines"] == {
            line: full["sites"][site]["areas"][area]["lines"][line]
        }
        assert len(full["sites"][site]["areas"]) > 1

        # connectors: those whose bound assets are all on line 1
        bound: dict[str, set[str]] = {}
        for r in refs:
            for b in r.config.bindings():
                bound.setdefault(b.connector, set()).add(r.name)
        mine = {c["name"] for c in await get("/api/connectors", "view1")}
        every = {c["name"] for c in await get("/api/connectors", "root")}
        assert mine == {n for n in every if bound.get(n) and bound[n] <= line1}, (mine, every)
        assert every - mine, "the demo has connectors beyond line 1"
        # the health probe: the same connectors; no figures, connectors or versions for an anonymous probe
        health = await get("/api/health", "view1")
        assert {c["name"] for c in health["connectors"]} == mine and health["apps"] == {}
        assert {c["name"] for c in (await get("/api/health", "root"))["connectors"]} == every
        probe = (await http.get("/api/health")).json()
        assert probe["status"] == "ok" and probe["connectors"] == [] and probe["version"] is None

        # latest values: only line 1's signals
        now = utcnow()
        await stack.platform.bus.publish(
            [Sample(f"{r.path}/probe", now, float(i)) for i, r in enumerate(refs)]
        )
        await wait_until(
            lambda: all(f"{r.path}/probe" in stack.platform.live.latest for r in refs), timeout=10
        )
        latest = [s["path"] for s in await get("/api/signals", "view1")]
        assert latest and all(_under(p, LINE1) for p in latest), latest
        assert {f"{r.path}/probe" for r in refs} <= {s["path"] for s in await get("/api/signals", "root")}

        # alarm counts over line 1's alarms only; the plant's alarm KPIs are refused with the reason
        a1 = await get("/api/alarms", "view1", all="true")
        a0 = await get("/api/alarms", "root", all="true")
        assert {x["asset"] for x in a1["alarms"]} <= line1
        assert sum(a1["counts"].values()) == len(a1["alarms"])
        assert sum(a0["counts"].values()) == len(a0["alarms"]) > len(a1["alarms"])
        r = await http.get("/api/alarms/kpi", headers=stack.auth("view1"))
        assert r.status_code == 403 and "whole plant" in r.json()["detail"], r.text
        await get("/api/alarms/kpi", "root")

        # OEE: the live KPIs, the report, the timeline
        live1 = await get("/api/oee/live", "view1")
        live0 = await get("/api/oee/live", "root")
        assert set(live1["assets"]) <= line1 and set(live1["lines"]) <= {LINE1} and live1["plant"] is None
        if live0["in_shift"]:
            assert set(live0["assets"]) - line1 and live0["plant"] is not None
        rep1 = await get("/api/oee/report", "view1", period="range")
        rep0 = await get("/api/oee/report", "root", period="range")
        oee_assets = {x["scope"] for x in rep0["rows"] if x["level"] == "asset"}
        assert oee_assets - line1 and oee_assets & line1
        assert {x["level"] for x in rep0["rows"]} == {"asset", "line", "plant"}
        want = {("asset", n) for n in oee_assets & line1} | {("line", LINE1)}
        assert {(x["level"], x["scope"]) for x in rep1["rows"]} == want
        timeline0 = set((await get("/api/timeline", "root"))["assets"])
        assert timeline0 - line1
        assert set((await get("/api/timeline", "view1"))["assets"]) == timeline0 & line1
        await get("/api/downtime/pareto", "view1")

        # energy: the report's rows, the live figures, the load curve, the idle table
        e1 = await get("/api/energy/report", "view1")
        e0 = await get("/api/energy/report", "root")
        levels1 = {(x["level"], x["scope"]) for x in e1["rows"]}
        assert levels1 and all(
            (lv == "asset" and s in line1) or (lv != "asset" and _under(s, LINE1)) for lv, s in levels1
        ), levels1
        assert e1["peaks"] == []
        assert {x["level"] for x in e0["rows"]} >= {"asset", "line", "area", "site"}
        assert {x["scope"] for x in e0["rows"] if x["level"] == "asset"} - line1
        live = await get("/api/energy/live", "view1")
        assert set(live["today"].get("assets", {})) <= line1 and live["window"]["start"] is None
        load1 = await get("/api/energy/load", "view1")
        load0 = await get("/api/energy/load", "root")
        assert set(load1["assets"]) <= line1
        assert set(load0["assets"]) - line1
        assert all(v is None for v in load1["total_kw"])
        assert {x["asset"] for x in await get("/api/energy/idle", "view1")} <= line1

        # orders and the plan per machine
        plan1 = await get("/api/orders/plan", "view1")
        plan0 = await get("/api/orders/plan", "root")
        assert set(plan1["machines"]) <= line1 and plan1["last_replan"] is None
        assert set(plan0["machines"]) - line1
        routed = {
            r["product"]: {m for s in r["steps"] for m in s["machines"]}
            for r in await get("/api/orders/routings", "root")
        }
        o1 = await get("/api/orders", "view1")
        o0 = await get("/api/orders", "root")
        assert all(routed[o["product"]] <= line1 for o in o1)
        assert {o["order"] for o in o0 if routed[o["product"]] <= line1} == {o["order"] for o in o1}


@pytest.mark.browser
async def test_the_oee_and_energy_pages_of_a_viewer_of_line_1_show_no_other_asset(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = secure_config(tmp_path)
    await asyncio.to_thread(add_users, config)
    refs = list(config.assets())
    line1 = {r.name for r in refs if _under(r.path, LINE1)}
    others = {r.name for r in refs} - line1
    shown = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(others))) + r")(?![\w-])")
    async with running_stack(config) as stack, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1600})
            await page.goto(stack.url + "/signin")
            await page.fill("input[name=user]", "view1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#password-signin button[type=submit]")
            await page.wait_for_url(stack.url + "/")
            for path in ("/oee", "/energy"):
                await page.goto(stack.url + path)
                await page.wait_for_load_state("networkidle")
                # the page has drawn line 1's assets from the API before it is read
                await page.wait_for_function(
                    "names => names.some(n => document.body.innerText.includes(n))",
                    arg=sorted(line1),
                    timeout=30_000,
                )
                await page.wait_for_timeout(1500)
                await page.screenshot(path=str(tmp_path / f"{path.strip('/')}-view1.png"), full_page=True)
                text = await page.evaluate("document.body.innerText")
                assert not shown.search(text), (path, shown.findall(text))
                html = await page.content()
                assert not shown.search(html), (path, shown.findall(html))
        finally:
            await browser.close()
