"""The overview's chart in headless Chromium: it reaches the newest sample of the range, breaks its line at a gap in
the data and at a BAD sample, draws a signal sent on change as steps held to the end of the range, puts each unit
on its own axis, and follows the range picker."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import chromium_path, plant_config, running_stack, wait_until
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from werk.core.model import Quality, Sample

pytestmark = pytest.mark.browser

# what the chart holds: its x scale, and per series the x of every null (a break) and of its last value
PLOT = """() => {
  const p = document.querySelector('#chart').plot;
  const xs = p.data[0];
  return {
    min: p.scales.x.min, max: p.scales.x.max, axes: document.querySelectorAll('#chart .u-axis').length,
    series: p.data.slice(1).map((ys) => ({
      nulls: xs.filter((x, i) => ys[i] === null),
      last: xs.filter((x, i) => ys[i] !== null && ys[i] !== undefined).pop(),
      values: ys.filter((y) => y !== null && y !== undefined).length,
    })),
  };
}"""


async def test_the_chart_reaches_the_newest_sample_and_breaks_at_a_gap_and_a_bad_sample(
    tmp_path: Path,
) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(tmp_path, acceleration=30)
    cnc = next(r for r in config.assets() if r.name == "cnc-1")
    load, probe, good = f"{cnc.path}/load", f"{cnc.path}/probe_temp", f"{cnc.path}/good_count"
    async with running_stack(config) as stack, async_playwright() as pw:
        # a probe werk saw for 100 s, lost for 100 s (nothing came), then saw again; one BAD placeholder in the
        # second part
        now = datetime.now(UTC).replace(microsecond=0)
        t0 = now - timedelta(seconds=300)
        samples = [Sample(probe, t0 + timedelta(seconds=i), 20.0 + i % 7) for i in range(100)]
        samples += [Sample(probe, t0 + timedelta(seconds=i), 20.0 + i % 7) for i in range(200, 299)]
        bad_at = t0 + timedelta(seconds=250)
        samples = [Sample(s.path, s.ts, s.value, Quality.BAD) if s.ts == bad_at else s for s in samples]
        await stack.platform.bus.publish(samples)
        h = stack.platform.historian
        assert h is not None
        await wait_until(lambda: h.count_samples(probe) == 199, timeout=10)
        await wait_until(lambda: h.count_samples(good) > 0, timeout=20)

        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{stack.url}/?lang=en#s={load},{probe},{good}&last=600")
            await page.wait_for_function(
                "document.querySelector('#chart').plot !== undefined", timeout=15_000
            )
            await page.wait_for_function("document.querySelector('#chart').dataset.series", timeout=15_000)
            drawn: list[dict[str, Any]] = await page.evaluate(
                "JSON.parse(document.querySelector('#chart').dataset.series)"
            )
            plot = await page.evaluate(PLOT)
            end = float(await page.evaluate("document.querySelector('#chart').dataset.end"))
            by = {d["path"]: (d, s) for d, s in zip(drawn, plot["series"], strict=True)}

            # the x axis is the range asked for, up to its end
            assert plot["max"] == pytest.approx(end) and end - plot["min"] == pytest.approx(600, abs=1)
            # the live load reaches the newest sample the API has for the same range
            async with httpx.AsyncClient(base_url=stack.url) as http:
                start = datetime.fromtimestamp(end - 600, UTC).isoformat()
                stop = datetime.fromtimestamp(end, UTC).isoformat()
                r = await http.get(f"/api/series?path={quote(load)}&start={quote(start)}&end={quote(stop)}")
            newest = datetime.fromisoformat(r.json()["points"][-1]["ts"]).timestamp()
            d, s = by[load]
            assert d["newest"] == pytest.approx(newest) and s["last"] == pytest.approx(newest)
            assert end - newest < 5  # and that is now, not minutes before
            # broken only where the API's points are further apart than its gap threshold (a live signal may
            # pause while a busy machine starts the stack)
            api = r.json()
            ts = [datetime.fromisoformat(p["ts"]).timestamp() for p in api["points"]]
            pauses = sum(1 for a, b in itertools.pairwise(ts) if b - a > api["gap_s"])
            assert d["breaks"] == pauses == len(s["nulls"])

            # the probe: one break in the 100 s without data, one at the BAD sample; its last value is drawn
            d, s = by[probe]
            assert (d["breaks"], d["bad"]) == (1, 1)
            gap = [x for x in s["nulls"] if t0.timestamp() + 99 < x < t0.timestamp() + 200]
            assert len(gap) == 1
            assert bad_at.timestamp() in s["nulls"]
            assert s["last"] == pytest.approx((t0 + timedelta(seconds=298)).timestamp())
            assert s["values"] == 198

            # the part counter is sent on change: steps, never broken, held to the end of the range
            d, s = by[good]
            assert d["kind"] == "on_change" and d["breaks"] == 0 and s["nulls"] == []
            assert s["last"] == pytest.approx(end)
            # three units (%, no unit, parts): an x axis and three y axes
            assert plot["axes"] == 4
            note = await page.locator("#chart-note").inner_text()
            assert "gaps longer than 5.0\u00a0s: 1" in note and "BAD samples left out: 1" in note

            await page.screenshot(path=str(tmp_path / "chart.png"), full_page=True)

            # the range picker: the last hour, in the URL too
            await page.click('.range button[data-last="3600"]')
            await page.wait_for_function(
                "(() => { const p = document.querySelector('#chart').plot;"
                " return p.scales.x.max - p.scales.x.min > 3500; })()",
                timeout=10_000,
            )
            assert "last=3600" in await page.evaluate("location.hash")
            # a chip's remove button takes its signal off the chart
            await page.locator(f'#chart-signals .chip[data-path="{probe}"] button').click()
            await page.wait_for_function(
                "JSON.parse(document.querySelector('#chart').dataset.series).length === 2", timeout=10_000
            )
            assert errors == []
        finally:
            await browser.close()
