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


async def test_the_kpis_say_how_little_werk_watched_and_the_page_asks_for_a_click_to_sound(
    tmp_path: Path,
) -> None:
    """Minutes into a run: the KPI table says how much of the 24 hours werk watched and grades no rate from it; a
    browser that holds audio until a click shows the button that starts it; a value has its signal's unit."""
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = alarm_config(tmp_path)
    # as desktop Chrome: no sound before someone clicks on the page
    args = [*CHROMIUM_ARGS, "--autoplay-policy=document-user-activation-required"]
    async with running_stack(config) as stack, async_playwright() as pw:
        cnc = config.asset("cnc-1")
        now = utcnow()
        await stack.platform.bus.publish(
            [
                Sample(cnc.signal_path("coolant_level"), now, 11.0),
                Sample(cnc.signal_path("temperature"), now, 1234.5),
            ]
        )
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=args)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(stack.url + "/alarms?lang=en")
            hot = page.locator('#active tr[data-id="cnc-1:too-hot"]')
            await hot.wait_for(timeout=15_000)
            assert "°C" in await hot.locator("td.num").inner_text()

            # the sound is on but the browser holds it: the page says so, and a click starts it
            enable = page.locator("#sound-enable")
            await enable.wait_for(state="visible", timeout=10_000)
            note = page.locator("#kpi-seen.partial")
            await note.wait_for(timeout=10_000)
            text = await note.inner_text()
            assert "werk watched the alarms for" in text and "of these 24" in text
            assert "over the watched time only" in text
            assert float(await note.get_attribute("data-share") or "1") < 0.01
            for key in ("per_hour", "per_10min", "flood_share"):
                grade = page.locator(f'#kpi tr[data-key="{key}"] td').nth(3)
                assert "grade-too-short" in (await grade.get_attribute("class") or "")
                assert (await grade.inner_text()).strip() == "too little observed time to grade (under 1 h)"
            await page.screenshot(path=str(tmp_path / "alarms-kpi-observed-en.png"), full_page=True)
            await enable.click()
            await enable.wait_for(state="hidden", timeout=10_000)
            await page.screenshot(path=str(tmp_path / "alarms-sound-enabled-en.png"))

            await page.goto(stack.url + "/alarms?lang=de")
            await page.locator("#kpi-seen.partial").wait_for(timeout=10_000)
            assert "werk hat die Alarme" in await page.locator("#kpi-seen").inner_text()
            await page.locator('#kpi tr[data-key="per_hour"]').wait_for(timeout=10_000)
            assert "zu kurz beobachtet" in await page.locator('#kpi tr[data-key="per_hour"]').inner_text()
            await page.locator("#sound-enable").wait_for(state="visible", timeout=10_000)
            await page.screenshot(path=str(tmp_path / "alarms-kpi-observed-de.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
