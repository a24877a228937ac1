"""The orders and stock pages in headless Chromium: the Gantt chart per machine, the order list with its states, what
a breakdown moved, a promise, the parts no order took, and the stock levels (with their units) the orders' parts
moved, the machines without a product signal's too (screenshots in tmp_path)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import chromium_path, plant_config, running_stack, wait_until, with_app
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS

pytestmark = pytest.mark.browser
APP = "production_orders"


async def test_the_gantt_chart_order_list_and_stock_follow_the_shop_floor(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(
        tmp_path,
        acceleration=50,
        users={"sven": ("supervisor", "sven-token"), "vera": ("viewer", "vera-token")},
    )
    config = with_app(config, APP, example_orders=6, time_limit_s=2.0)
    async with running_stack(config) as stack, async_playwright() as pw:
        app = stack.platform.apps[APP]
        await wait_until(lambda: app.plan is not None and len(app.book.orders) == 6, timeout=30)
        await wait_until(lambda: any(o.state == "started" for o in app.book.orders.values()), timeout=40)
        victim = next(iter(sorted({s.machine for s in app.plan.slots.values()})))  # type: ignore[union-attr]
        stack.sim.factory.assets[victim].model.force_fault("scripted")
        await wait_until(lambda: app.last_replan is not None and "down:" in app.last_replan["reason"], 40)
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{stack.url}/orders?lang=de")
            await page.fill("#token", "sven-token")
            await page.click("#signin")
            await page.locator("#gantt svg rect.op").first.wait_for(timeout=20_000)
            bars = await page.locator("#gantt svg rect.op").count()
            assert bars == len(app.plan.slots)  # type: ignore[union-attr]
            await page.locator("#gantt svg rect.down").first.wait_for(
                timeout=10_000
            )  # the breakdown's window
            rows = page.locator("#orders tbody tr")
            assert await rows.count() == 6
            assert (
                "begonnen" in await page.locator("#orders tbody").inner_text()
            )  # a started order, in German
            assert f"{victim} ausgefallen" in await page.locator("#replan").inner_text()
            await page.fill("#p-qty", "50")
            await page.click("#promise button")
            await page.wait_for_function(
                "document.querySelector('#p-answer').textContent.length > 0", timeout=10_000
            )
            answer = await page.locator("#p-answer").inner_text()
            assert "wartet auf" in answer or "eigene" in answer, answer  # a date and its reason, in German
            # a supervisor drags a bar 120 px later on its row: the operation is pinned and planned there
            bar = page.locator("#gantt svg rect.op").last
            op = await bar.get_attribute("data-op")
            box = await bar.bounding_box()
            assert box is not None and op is not None
            await page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)
            await page.mouse.down()
            await page.mouse.move(box["x"] + 65, box["y"] + box["height"] / 2, steps=5)
            await page.mouse.move(box["x"] + 125, box["y"] + box["height"] / 2, steps=5)
            await page.mouse.up()
            await page.wait_for_function(
                "document.querySelector('#pin-msg').textContent.length > 0", timeout=15_000
            )
            assert "festgelegt" in await page.locator("#pin-msg").inner_text()
            assert op in app.store.pins()
            # the parts no order took, per machine and why, in German (or that there are none)
            await page.locator("#unbooked tbody tr").first.wait_for(timeout=10_000)
            unbooked = await page.locator("#unbooked").inner_text()
            assert "Maschine" in unbooked and "warum" in unbooked
            for u in app.unbooked_parts():
                assert u["asset"] in unbooked
            await page.screenshot(path=str(tmp_path / "orders.png"), full_page=True)
            await page.goto(f"{stack.url}/inventory?lang=zh")
            await page.locator("#stock tbody tr").first.wait_for(timeout=10_000)
            text = await page.locator("#stock").inner_text()
            assert "BLK-AL-100" in text and "库存量" in text
            assert "件" in text  # the unit: pieces, in Chinese
            await page.locator("#journal tbody tr").first.wait_for(timeout=10_000)
            await page.screenshot(path=str(tmp_path / "inventory.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
        housings = [o for o in app.book.orders.values() if o.product in ("HSG-100", "HSG-200")]

        def expected() -> tuple[float, float]:
            """BLK-AL-100 and housings in stock as the orders' bookings have them (a blank a milled housing)."""
            return 400 - sum(o.good.get(1, 0) for o in housings), sum(o.good.get(2, 0) for o in housings)

        async with httpx.AsyncClient(base_url=stack.url, headers={"Authorization": "Bearer vera-token"}) as c:
            journal = (await c.get("/api/inventory/journal?limit=1000")).json()
            for _ in range(50):  # the stock books the orders' events a moment after the orders
                stock = {s["material"]: s for s in (await c.get("/api/inventory/stock")).json()}
                housed = sum(stock[p]["level"] for p in ("HSG-100", "HSG-200") if p in stock)
                if (stock["BLK-AL-100"]["level"], housed) == expected():
                    break
                await asyncio.sleep(0.2)
        # the orders' parts were booked: a product in at its last step, its BOM out at its first, with who and why
        assert any(b["kind"] == "backflush" and b["who"] == "counter" for b in journal)
        assert all(b["why"] in app.book.orders for b in journal if b["kind"] == "production")
        assert (stock["BLK-AL-100"]["level"], housed) == expected()
        assert stock["BAR-ST-20"]["unit"] == "m" and stock["BLK-AL-100"]["unit"] == "pcs"
    keep = os.environ.get("WERK_SCREENSHOTS")
    if keep:
        for name in ("orders.png", "inventory.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)
