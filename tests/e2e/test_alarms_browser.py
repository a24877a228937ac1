"""The alarm page in headless Chromium: an operator signs in, sees a raised alarm at the top of the live list with
the banner above, acknowledges it and shelves it with a reason; the journal shows both, with screenshots under the
test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps.test_alarms_app import COOLANT, OPERATOR, alarm_config
from tests.conftest import chromium_path, running_stack
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from werk.core.model import Sample, utcnow

pytestmark = pytest.mark.browser


async def test_an_operator_acknowledges_and_shelves_an_alarm_in_the_browser(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = alarm_config(tmp_path)
    async with running_stack(config) as stack, async_playwright() as pw:
        path = config.asset("cnc-1").signal_path("coolant_level")
        await stack.platform.bus.publish([Sample(path, utcnow(), 11.0)])
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(stack.url + "/alarms")
            await page.fill("#token", OPERATOR)
            await page.click("#signin")
            await page.locator("#signout").wait_for(state="visible", timeout=10_000)
            row = page.locator(f'#active tr[data-id="{COOLANT}"]')
            await row.wait_for(timeout=15_000)
            assert await row.get_attribute("data-state") == "unack"
            # high priority first
            first = page.locator("#active tbody tr").first
            assert "high" in (await first.locator(".prio").get_attribute("class") or "")
            assert "unacknowledged high-priority alarm" in await page.locator("#banners").inner_text()
            await page.screenshot(path=str(tmp_path / "alarms-raised.png"), full_page=True)

            await row.locator("button.ack").click()
            await page.locator(f'#active tr[data-id="{COOLANT}"][data-state="acked"]').wait_for(
                timeout=10_000
            )
            await row.locator("button.shelve").click()
            await page.locator("#shelve-dialog[open]").wait_for(timeout=5_000)
            await page.fill("#shelve-why", "refill ordered")
            await page.select_option("#shelve-for", "900")
            await page.screenshot(path=str(tmp_path / "alarms-shelve-dialog.png"))
            await page.click("#shelve-ok")
            hidden = page.locator(f'#hidden tr[data-id="{COOLANT}"][data-state="shelved"]')
            await hidden.wait_for(timeout=10_000)
            assert "refill ordered" in await hidden.inner_text()
            assert await page.locator(f'#active tr[data-id="{COOLANT}"]').count() == 0
            await page.locator('#journal tr[data-action="shelve"]').first.wait_for(timeout=10_000)
            await page.locator('#journal tr[data-action="acknowledge"]').first.wait_for(timeout=10_000)
            # nothing high and unacknowledged is left: the banner goes (the demo's own alarms are suppressed in setup
            # or have not been raised at this point)
            await page.wait_for_function(
                "document.querySelector('#banners').children.length === 0", timeout=10_000
            )
            await page.screenshot(path=str(tmp_path / "alarms-shelved.png"), full_page=True)

            # an alarm log from this computer, graded: twelve alarms in ten minutes are a flood
            log = tmp_path / "log.csv"
            rows = [f"2026-01-01 08:0{i // 2}:{(i % 2) * 30:02d},TAG{i % 3},H" for i in range(12)]
            log.write_text("timestamp,tag,type\n" + "\n".join(rows) + "\n")
            await page.set_input_files("#log-file", str(log))
            await page.click("#log-grade")
            await page.locator("#log-kpi:not([hidden])").wait_for(timeout=10_000)
            peak = page.locator('#log-kpi tr[data-key="peak_10min"]')
            assert (await peak.locator("td.num").inner_text()).strip() == "12"
            assert "grade-not-met" in (await peak.locator("td").nth(3).get_attribute("class") or "")
            assert "12" in await page.locator("#log-msg").inner_text()
            await page.screenshot(path=str(tmp_path / "alarms-log.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
