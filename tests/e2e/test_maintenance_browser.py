"""The maintenance page in headless Chromium: sign-in names the user of a token or says it is unknown, and the
work-order table does not move under the pointer when an order arrives: it says how many are new and inserts them
once the pointer leaves."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import chromium_path, plant_config, running_stack
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

UNDER_POINTER = "([x, y]) => document.elementFromPoint(x, y)?.closest('tr')?.dataset.order ?? null"


async def test_sign_in_and_a_work_order_table_that_stays_put_under_the_pointer(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(tmp_path, users={"olga": ("operator", "olga-token")})
    auth = {"Authorization": "Bearer olga-token"}
    async with (
        running_stack(config) as stack,
        async_playwright() as pw,
        httpx.AsyncClient(base_url=stack.url, headers=auth) as http,
    ):

        async def order(asset: str) -> str:
            r = await http.post("/api/workorders", json={"asset": asset, "title": f"check {asset}"})
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        for asset in ("cnc-1", "cnc-2", "lathe-1"):
            await order(asset)
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{stack.url}/maintenance")
            # a token nobody holds is refused, and kept nowhere
            await page.fill("#token", "not-a-token")
            await page.click("#signin")
            await page.locator("#who.error", has_text="unknown token").wait_for(timeout=10_000)
            assert await page.evaluate("localStorage.getItem('werk-token')") is None
            await page.fill("#token", "olga-token")
            await page.click("#signin")
            await page.locator("#who", has_text="olga · operator").wait_for(timeout=10_000)
            assert (
                await page.locator("#signout").is_visible() and not await page.locator("#token").is_visible()
            )

            rows = page.locator("#orders tbody tr[data-order]")
            await page.wait_for_function(
                "document.querySelectorAll('#orders tbody tr[data-order]').length >= 3"
            )
            box = await rows.nth(1).bounding_box()
            assert box is not None
            point = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
            await page.mouse.move(*point)
            held = await page.evaluate(UNDER_POINTER, point)
            assert held is not None
            fresh = await order("press-1")
            note = page.locator("#orders-new")
            await note.wait_for(state="visible", timeout=15_000)
            assert re.fullmatch(r"\d+ new", (await note.inner_text()).strip())
            # the row under the pointer is still the one it was, and the new order waits
            assert await page.evaluate(UNDER_POINTER, point) == held
            assert await page.locator(f'#orders tr[data-order="{fresh}"]').count() == 0
            await page.mouse.move(5, 5)
            await page.locator(f'#orders tr[data-order="{fresh}"]').wait_for(timeout=10_000)
            assert not await note.is_visible()
            await page.screenshot(path=str(tmp_path / "maintenance.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
