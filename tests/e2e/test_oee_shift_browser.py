"""The Downtime & OEE page in headless Chromium, on what werk really saw of a shift: outside every shift the page
says so and shows the last shift as the last (never as the current one), with its coverage; after a restart on the
same data file the current shift's tiles count the time before the restart and agree with the shift report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import chromium_path, plant_config, running_stack, wait_until
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from werk.config.model import WerkConfig
from werk.core.model import Sample
from werk.store.sqlite import SQLiteHistorian

pytestmark = pytest.mark.browser

SHIFTS = re.compile(r"  shifts:.*?\n(    - \{name: .*?\}\n)+", re.S)
TZ = ZoneInfo("Europe/Berlin")  # the demo plant's
LATE_S = 3.0  # how late a machine's samples may reach werk's historian on a busy test machine


def _one_shift(start: datetime, end: datetime) -> Any:
    """The demo plant file with one daily shift from ``start`` to ``end`` (local minutes)."""
    a, z = start.astimezone(TZ).strftime("%H:%M"), end.astimezone(TZ).strftime("%H:%M")
    return lambda text: SHIFTS.sub(
        f'  shifts:\n    - {{name: early, start: "{a}", end: "{z}"}}\n', text, count=1
    )


# what the page shows of a scope: its OEE and coverage as numbers, and the texts a reader sees
TILE = """(scope) => {
  const tile = document.querySelector(`#tiles .tile[data-scope="${scope}"]`);
  const cov = tile.querySelector('.coverage');
  return {
    oee: tile.querySelector('.oee').dataset.value, coverage: cov.dataset.value, coverageText: cov.innerText,
    observed: Number(cov.dataset.observed),
    end: document.querySelector('#tiles').dataset.end, key: document.querySelector('#shift').dataset.key,
    low: tile.classList.contains('low'),
  };
}"""


async def _report(url: str, start: str, end: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get(f"/api/oee/report?period=shift&start={quote(start)}&end={quote(end)}")
    assert r.status_code == 200, r.text
    return {row["scope"]: row for row in r.json()["rows"]}


def _num(x: str) -> float | None:
    return float(x) if x else None


async def _page(pw: Any, exe: str, url: str) -> tuple[Any, Any, list[str]]:
    browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    page = await browser.new_page(viewport={"width": 1400, "height": 1200}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{url}/oee?lang=en")
    await page.locator('#tiles .tile[data-scope="plant"]').wait_for(timeout=20_000)
    return browser, page, errors


async def test_outside_every_shift_the_page_shows_the_last_shift_with_its_coverage_also_after_a_restart(
    tmp_path: Path,
) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    # the shift ended at the last whole minute; werk saw cnc-1 for 40 of its 120 minutes (from a run before)
    now = datetime.now(UTC)
    end = now.astimezone(TZ).replace(second=0, microsecond=0).astimezone(UTC)
    start = end - timedelta(hours=2)
    config = plant_config(tmp_path, acceleration=20, patch=_one_shift(start, end))
    cnc = next(r for r in config.assets() if r.name == "cnc-1")
    cnc2 = next(r for r in config.assets() if r.name == "cnc-2")
    seen = start + timedelta(minutes=10)
    h = SQLiteHistorian(config.historian.path)
    h.open()
    h.write_samples(
        [
            Sample(f"{cnc.path}/machine_state", seen, "disconnected"),
            Sample(f"{cnc.path}/machine_state", seen + timedelta(seconds=1), "running"),
            Sample(f"{cnc.path}/good_count", seen + timedelta(seconds=1), 0),
            # more parts than the ideal cycle allows in 30 minutes (the test plant's clock runs 20 times fast, and
            # its ideal cycle times with it: 2 s): a figure that cannot be right
            Sample(f"{cnc.path}/good_count", seen + timedelta(minutes=30), 2000),
            Sample(f"{cnc.path}/machine_state", seen + timedelta(minutes=30), "idle"),
            Sample(f"{cnc.path}/machine_state", seen + timedelta(minutes=40), "disconnected"),
        ]
    )
    h.close()

    async with async_playwright() as pw:
        for run in (1, 2):  # the second run is a restart on the same data file
            async with running_stack(config) as stack:
                if run == 1:  # a state value the plant file does not map, sent by the machine now
                    await stack.platform.bus.publish([Sample(f"{cnc2.path}/state", datetime.now(UTC), "RUN")])
                browser, page, errors = await _page(pw, exe, stack.url)
                try:
                    await page.locator("body[data-shift='last']").wait_for(timeout=10_000)
                    assert (await page.inner_text("#shift-title")).strip() == "Last shift"
                    note = await page.inner_text("#shift-note")
                    assert "Outside every shift" in note and "Next shift: early" in note
                    assert "Current shift" not in await page.inner_text("main")
                    # as English writes a time of day (04:46 PM), in the plant's zone, not UTC; the last shift
                    # with its date
                    a, z = start.astimezone(TZ), end.astimezone(TZ)
                    local = f"{a:%m/%d}, {a:%I:%M %p} \u2013 {z:%I:%M %p}"
                    assert local in await page.inner_text("#shift")
                    report = await _report(stack.url, start.isoformat(), end.isoformat())
                    for scope in ("cnc-1", "plant"):
                        shown = await page.evaluate(TILE, scope)
                        row = report[scope]
                        assert shown["key"] == row["period"]
                        assert _num(shown["coverage"]) == pytest.approx(row["coverage"])
                        assert (
                            _num(shown["oee"]) == pytest.approx(row["oee"])
                            if row["oee"] is not None
                            else True
                        )
                    cnc_tile = await page.evaluate(TILE, "cnc-1")
                    assert _num(cnc_tile["coverage"]) == pytest.approx((40 * 60 - 1) / 7200, abs=1e-3)
                    assert cnc_tile["low"] and "coverage 33%" in cnc_tile["coverageText"]
                    # availability over the 40 minutes werk saw, not over the two hours of the shift
                    assert report["cnc-1"]["availability"] == pytest.approx((30 * 60 - 1) / (40 * 60 - 1))
                    # the implausible OEE is marked with its likely cause, and meets no target
                    tile = page.locator('#tiles .tile[data-scope="cnc-1"]')
                    assert await tile.locator(".oee.implausible").count() == 1
                    cause = tile.locator('.warn[data-cause="ideal_cycle_time"]')
                    assert "more parts than the ideal cycle time" in await cause.inner_text()
                    assert await tile.locator(".goal.met").count() == 0
                    if run == 1:
                        unmapped = page.locator('#tiles .tile[data-scope="cnc-2"] .warn[data-unmapped="RUN"]')
                        await unmapped.wait_for(timeout=10_000)
                        assert 'unmapped state value "RUN"' in await unmapped.inner_text()
                    await page.screenshot(path=str(tmp_path / f"oee-last-shift-{run}.png"), full_page=True)
                    assert errors == []
                finally:
                    await browser.close()


async def test_after_a_restart_the_current_shift_tiles_count_the_time_before_it_and_agree_with_the_report(
    tmp_path: Path,
) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    now = datetime.now(UTC)
    start = now.astimezone(TZ).replace(second=0, microsecond=0).astimezone(UTC)
    config: WerkConfig = plant_config(
        tmp_path, acceleration=20, patch=_one_shift(start, start + timedelta(hours=8))
    )
    async with running_stack(config) as stack:
        oee = stack.platform.apps["oee"]
        await wait_until(
            lambda: (oee.live.get("plant") or {}).get("time", {}).get("observed_s", 0) > 4, timeout=20
        )
        first = oee.live["plant"]["time"]["observed_s"]
    async with running_stack(config) as stack, async_playwright() as pw:
        browser, page, errors = await _page(pw, exe, stack.url)
        try:
            await page.locator("body[data-shift='current']").wait_for(timeout=10_000)
            assert (await page.inner_text("#shift-title")).strip() == "Current shift"
            shown = await page.evaluate(TILE, "plant")
            live = stack.platform.apps["oee"].live
            report = await _report(stack.url, live["shift"]["start"], shown["end"])
            row = report["plant"]
            assert shown["key"] == row["period"] == live["shift"]["key"]
            # the tiles and the report of the same shift up to the same instant: the same time seen, but for
            # samples of the last moments before the tiles were computed that came in after (source time: a
            # machine's values reach werk a moment after they happened), at most a few seconds per machine
            # (the two sums add the same intervals in a different order: equal to a float's rounding, not bit for bit)
            machines = len(live["assets"])
            assert -1e-6 <= row["time"]["observed_s"] - shown["observed"] <= LATE_S * machines
            assert _num(shown["coverage"]) == pytest.approx(
                row["coverage"], abs=LATE_S * machines / row["time"]["pbt_s"]
            )
            # werk saw the shift before the restart too: the tiles did not start over
            assert row["time"]["observed_s"] >= first
            # and the time it was down is not counted as seen
            assert row["coverage"] < 1
            await page.screenshot(path=str(tmp_path / "oee-after-restart.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
