"""The dashboard in headless Chromium: every asset appears, and states and counts update without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import chromium_path, plant_config, running_stack
from werk.bus.base import Overflow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


async def test_dashboard_shows_every_asset_live(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(tmp_path, acceleration=30)
    async with running_stack(config) as stack, async_playwright() as pw:
        # every state werk gives each asset while the page runs (the page may show one a moment old)
        states = stack.platform.bus.subscribe(
            "+/+/+/+/+/+/machine_state", maxsize=100_000, overflow=Overflow.DROP_OLDEST
        )
        # and the state each had when the test subscribed (a machine running since the start sends no new one)
        known_before = {p: s for p, s in stack.platform.live.latest.items() if p.endswith("/machine_state")}
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(stack.url)
            names = sorted(stack.sim.factory.assets)
            for name in names:
                await page.locator(f'[data-asset="{name}"]').wait_for(timeout=15_000)
            await page.locator("#link.up").wait_for(timeout=15_000)  # the SSE stream is open

            async def shown() -> dict[str, tuple[str, str]]:
                out = {}
                for name in names:
                    card = page.locator(f'[data-asset="{name}"]')
                    # the state code the badge shows (its text is the state's name in the page's language)
                    state = await card.locator('[data-role="state"]').get_attribute("data-state") or ""
                    good = await card.locator(".grid2 .v").first.inner_text()
                    out[name] = (state.lower(), good)
                return out

            first = await shown()
            # counts on the page change with no reload: wait for the press (6.5 s cycles, x30) to count parts
            await page.wait_for_function(
                """([name, before]) => {
                    const v = document.querySelector(`[data-asset="${name}"] .grid2 .v`);
                    return v && v.textContent !== before;
                }""",
                arg=["press-1", first["press-1"][1]],
                timeout=20_000,
            )
            later = await shown()
            assert later["press-1"][1] != first["press-1"][1]
            # each card shows a state werk gave that asset (not, say, another asset's, or one it never had)
            seen: dict[str, set[str]] = {name: {"disconnected"} for name in names}
            now = {p: s for p, s in stack.platform.live.latest.items() if p.endswith("/machine_state")}
            for path, sample in [*known_before.items(), *now.items()]:  # and those werk holds, before and now
                seen.setdefault(path.split("/")[5], set()).add(str(sample.value))
            while states.qsize():
                for sample in await states.get():
                    seen.setdefault(sample.path.split("/")[5], set()).add(str(sample.value))
            wrong = {n: (state, seen[n]) for n, (state, _) in later.items() if state not in seen[n]}
            assert wrong == {}
            # every connector shows its health
            for c in stack.platform.connectors:
                chip = page.locator(f'#connectors [data-connector="{c.name}"]')
                await chip.wait_for(timeout=10_000)
                assert c.status.type in await chip.inner_text()
            await page.locator("#connectors .conn.up").first.wait_for(timeout=10_000)
            # the chart is drawn and fed
            await page.locator("#chart canvas").wait_for(timeout=10_000)
            await page.wait_for_function("document.querySelector('#chart-value').textContent.length > 0")
            shot = tmp_path / "dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            assert errors == []
        finally:
            await browser.close()
