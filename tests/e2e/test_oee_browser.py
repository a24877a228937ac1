"""The Downtime & OEE page in headless Chromium: an operator signs in, classifies an unqualified stop, and the
Pareto on the page changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import chromium_path, plant_config, running_stack, wait_until
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS

pytestmark = pytest.mark.browser


async def test_operator_classifies_a_stop_and_the_pareto_changes(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(
        tmp_path,
        acceleration=100,
        tick_s=5.0,
        users={"olga": ("operator", "olga-token")},
        oee={"unqualified_after_s": 0.5, "micro_stop_s": 0.0},
    )
    async with running_stack(config) as stack, async_playwright() as pw:
        f = stack.sim.factory
        await wait_until(lambda: f.ticks >= 20, timeout=30)
        f.assets["cnc-1"].model.hold("fault", 600, "scripted")  # ten simulated minutes: seen when busy too
        db = stack.platform.apps["oee"].store
        await wait_until(lambda: any("fault" in s.states for s in db.query_stops(asset="cnc-1")))
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1200})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{stack.url}/oee")
            await page.fill("#token", "olga-token")
            await page.click("#signin")
            row = page.locator('#stops tr[data-status="unqualified"]', has_text="cnc-1").first
            await row.wait_for(timeout=20_000)
            pending = page.locator('#pareto .par[data-reason="unqualified"]')
            await pending.wait_for(timeout=10_000)
            assert (await pending.inner_text()).startswith("not yet classified")
            # the stops to classify, newest first
            starts = await page.locator("#stops tbody tr[data-stop]").evaluate_all(
                "rs => rs.map((r) => Date.parse(r.dataset.start))"
            )
            assert starts == sorted(starts, reverse=True)
            assert await page.locator('#pareto .par[data-reason="tooling"]').count() == 0
            await row.locator("select").select_option("tooling")
            await row.locator("button").click()
            await page.locator("#msg", has_text="classified cnc-1 stop as Tool breakage").wait_for(
                timeout=10_000
            )
            bar = page.locator('#pareto .par[data-reason="tooling"]')
            await bar.wait_for(timeout=10_000)
            assert "1\u00d7" in await bar.inner_text()  # one stop
            await page.locator("#tiles .tile.plant").wait_for(timeout=10_000)
            await page.locator("#timeline .strip .seg").first.wait_for(timeout=10_000)
            await page.screenshot(path=str(tmp_path / "oee.png"), full_page=True)
            # an 800 px window in German: the page fits, its wide tables scroll in their own box
            await page.set_viewport_size({"width": 800, "height": 1200})
            await page.goto(f"{stack.url}/oee?lang=de")
            await page.locator("#report tbody tr").first.wait_for(timeout=10_000)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 800
            await page.locator("#pareto .par").first.wait_for(timeout=10_000)
            # the Pareto's note explains its two groups of stops without a reason; a bar of either, when there
            # is one now, is named as the note names it
            assert (await page.locator("#pareto + p").inner_text()).startswith("Noch nicht zugeordnet:")
            for reason, label in (("unqualified", "noch nicht zugeordnet"), ("open", "offen (steht noch)")):
                bar = page.locator(f'#pareto .par[data-reason="{reason}"]')
                if await bar.count():
                    assert label in await bar.inner_text()
            await page.screenshot(path=str(tmp_path / "oee-narrow-de.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
        stops = db.query_stops(asset="cnc-1")
        classified = [s for s in stops if s.reason == "tooling"]
        assert len(classified) == 1 and classified[0].history[0].who == "olga"
