"""The energy page in headless Chromium: the window against a peak limit the demo exceeds, the load curve with its
peak line, site -> area -> machine bars, the idle ranking, energy per part, and the monthly report, in English and
German; and the overview's cards show energy per part."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import Stack, chromium_path, plant_config, running_stack, with_app
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from werk.core.model import Sample

pytestmark = pytest.mark.browser
HOURS = 3
TOKEN = "sam-secret"


async def _history(stack: Stack) -> None:
    """Three hours the plant ran before this start, on the meters it had then: each meter was exchanged when the
    simulator started (recorded by a supervisor), and each part counter restarted from zero."""
    config = stack.config
    f = stack.sim.factory
    accel = config.section("sim").acceleration  # type: ignore[union-attr]
    settings = config.app("energy")
    samples: list[Sample] = []
    last: dict[str, tuple[float, float]] = {}
    for name, meter in settings.meters.items():
        ref = config.asset(name)
        cycle = ref.config.plugin("sim").cycle_s
        energy, parts = 5000.0, 0
        for k in range(HOURS * 60):
            ts = f.start - timedelta(minutes=HOURS * 60 - k)
            kw = meter.rated_kw * accel * 0.45 * (1 + 0.3 * math.sin(k / 17 + len(name)))
            energy += kw / 60
            # press-1 stood still for two hours in the middle, making a part now and then: its energy per part
            # in those periods is many times its usual
            stood = name == "press-1" and 30 <= k < 150 and k % 20
            if name != "compressor-1" and not stood:
                parts += round(60 * accel / cycle * 0.8)
                samples.append(Sample(ref.signal_path("good_count"), ts, parts))
            samples.append(Sample(ref.signal_path("energy"), ts, round(energy, 4)))
        # the old meter's last reading, and where the simulator's meter starts
        last[name] = (round(energy, 4), ref.config.plugin("sim").meter.start_kwh)
    stack.platform.historian.write_samples(samples)  # type: ignore[union-attr]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=auth) as http:
        for name, (final, new_start) in last.items():
            r = await http.post(
                f"/api/energy/meters/{name}/events",
                json={
                    "ts": f.start.isoformat(),
                    "kind": "exchange",
                    "old_final": final,
                    "new_start": new_start,
                },
            )
            assert r.status_code == 200, r.text


async def test_the_energy_page_draws_every_view_and_warns_of_the_peak(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = with_app(
        plant_config(tmp_path, acceleration=30, users={"sam": ("supervisor", TOKEN)}),
        "energy",
        interval_s=0.5,
        peak_limit_kw=5.0,
    )
    async with running_stack(config) as stack, async_playwright() as pw:
        await _history(stack)
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            for header, lang in (("en-GB,en;q=0.9", "en"), ("de-DE,de;q=0.9", "de")):
                context = await browser.new_context(
                    viewport={"width": 1400, "height": 1000}, extra_http_headers={"Accept-Language": header}
                )
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                # the overview's cards carry energy per part once today's report has parts
                await page.goto(f"{stack.url}/")
                label = "Energy per part" if lang == "en" else "Energie je Teil"
                await page.get_by_text(label).first.wait_for(timeout=30_000)
                await page.screenshot(path=str(tmp_path / f"overview-{lang}.png"), full_page=True)
                await page.goto(f"{stack.url}/energy")
                await page.locator("#window .stat").first.wait_for(timeout=15_000)
                await page.locator("#peak-warning").wait_for(state="visible", timeout=15_000)
                await page.locator("#load canvas").wait_for(timeout=15_000)
                await page.locator("#flow .flow-seg").first.wait_for(timeout=15_000)
                await page.locator("#enpi canvas").wait_for(timeout=15_000)
                # the history drew the 15-minute load curve, and the exchanges booked no phantom energy
                assert "15" in await page.locator("#load-step").inner_text()
                assert await page.locator("#anomalies tbody tr.empty").count() == 1
                # site, its areas, its eight metered machines
                assert await page.locator("#flow .flow-bar").count() == 3
                assert await page.locator("#flow .flow-bar").nth(2).locator(".flow-seg").count() == 8
                idle = await page.locator("#idle tbody tr").all_inner_texts()
                assert len(idle) == 8
                rows = await page.locator("#report tbody tr").all_inner_texts()
                assert any(r.startswith("press-1") for r in rows)
                legend = await page.locator("#load .u-legend").inner_text()
                assert ("peak limit" if lang == "en" else "Spitzenlastgrenze") in legend
                # the peak line says what it is, and which quarter hours went over it (the history does)
                note = await page.locator("#load-note").inner_text()
                assert (
                    "contracted peak limit, 5\u00a0kW" if lang == "en" else "Spitzenlast, 5\u00a0kW"
                ) in note
                assert ("Quarter hours over it" if lang == "en" else "Viertelstunden darüber") in note
                # costs carry the tariff's currency
                assert any("EUR" in r for r in rows) and all("EUR" in r for r in idle)
                # a machine's target is dashed, in the legend too, and told apart from the machine's line
                markers = page.locator("#enpi .u-legend .u-series .u-marker")
                styles = await markers.evaluate_all("ms => ms.map((m) => m.style.borderStyle)")
                labels = await page.locator("#enpi .u-legend .u-series .u-label").all_inner_texts()
                targets = [s for s, x in zip(styles, labels, strict=True) if x.startswith(("target", "Ziel"))]
                assert targets and set(targets) == {"dashed"}
                assert "dashed" not in [
                    s for s, x in zip(styles, labels, strict=True) if x.startswith("press-1")
                ]
                # press-1's standstill is above the axis, named below the chart, and flattens no other line
                off = page.locator("#enpi-note")
                await off.wait_for(state="visible", timeout=15_000)
                assert "press-1" in await off.inner_text()
                await page.screenshot(path=str(tmp_path / f"energy-{lang}.png"), full_page=True)
                assert errors == []
                await context.close()
        finally:
            await browser.close()
