"""Every page in headless Chromium, in German and Chinese, in the light and the dark theme: translated nav and
headings, no English text left where a translation exists, no raw msgid, figures written as the locale writes
them; a screenshot of each under the test's folder. And the API docs render with the network cut off."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chromium_path, plant_config, running_stack
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from tests.plugins import ANDON, installed
from werk.i18n import Translator, catalog_msgids, locale_dir, werk_locale_dir

pytestmark = pytest.mark.browser

PAGES = {
    "/": "Overview",
    "/oee": "Downtime & OEE",
    "/maintenance": "Maintenance",
    "/alarms": "Alarms",
    "/energy": "Energy",
    "/orders": "Orders & plan",
    "/inventory": "Inventory",
    "/andon": "Andon",
}
NAV = ["Overview", "Downtime & OEE", "Maintenance", "Alarms", "Energy", "Orders & plan", "Inventory", "Andon"]
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
RAW = re.compile(r"\{[a-z_]+\}")

# every text node and every attribute a person reads, trimmed
TEXTS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (["SCRIPT", "STYLE"].includes(n.parentElement.tagName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  while (walk.nextNode()) { const t = walk.currentNode.textContent.trim(); if (t) out.push(t); }
  for (const e of document.querySelectorAll("[title], [placeholder], [aria-label]")) {
    for (const a of ["title", "placeholder", "aria-label"]) { const v = e.getAttribute(a); if (v) out.push(v.trim()); }
  }
  for (const o of document.querySelectorAll("option")) out.push(o.textContent.trim());
  return out;
}"""


def _english_leftovers(texts: list[str], t: Translator, msgids: set[str]) -> list[str]:
    """Texts that are a known msgid shown in English although the language has its own words for it, and texts
    with a msgid's unfilled {field}."""
    english = {m for m in msgids if t(m) != m}
    return sorted({x for x in texts if x in english or RAW.search(x)})


async def test_every_page_in_german_and_chinese_light_and_dark(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    with installed(ANDON) as registry:
        config = plant_config(tmp_path, acceleration=30, registry=registry)
        folders = [d for spec in registry.apps.values() if (d := locale_dir(spec.package)) is not None]
        msgids = set(catalog_msgids(werk_locale_dir()))
        for folder in folders:
            msgids |= catalog_msgids(folder)
        async with running_stack(config, registry=registry) as stack, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            try:
                for header, lang in (("de-DE,de;q=0.9", "de"), ("zh-CN,zh;q=0.9", "zh")):
                    t = Translator(lang, folders)
                    for scheme in ("light", "dark"):
                        context = await browser.new_context(
                            viewport={"width": 1400, "height": 1000},
                            color_scheme=scheme,  # type: ignore[arg-type]
                            extra_http_headers={"Accept-Language": header},
                        )
                        page = await context.new_page()
                        errors: list[str] = []
                        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                        for path, title in PAGES.items():
                            await page.goto(stack.url + path)
                            await _loaded(page, path)
                            assert await page.get_attribute("html", "lang") == lang
                            nav = await page.locator("header nav a").all_inner_texts()
                            assert [n.strip() for n in nav] == [t(n) for n in NAV]
                            assert (await page.locator("h1.page-title").inner_text()).strip() == t(title)
                            texts = await page.evaluate(TEXTS)
                            assert _english_leftovers(texts, t, msgids) == [], (lang, path)
                            await _figures_written_for(page, path, lang)
                            name = path.strip("/") or "overview"
                            await page.screenshot(
                                path=str(tmp_path / f"{name}-{lang}-{scheme}.png"), full_page=True
                            )
                        assert errors == []
                        await context.close()
            finally:
                await browser.close()


async def _loaded(page: Any, path: str) -> None:
    """Wait until the page's script has drawn what the checks read."""
    if path == "/":
        await page.locator("#link.up").wait_for(timeout=15_000)
        await page.locator("#connectors .conn").first.wait_for(timeout=10_000)
        await page.locator("#chart canvas").wait_for(timeout=10_000)
    elif path == "/oee":
        await page.locator("#tiles .tile.plant").wait_for(timeout=15_000)
        await page.locator("#report tbody tr").first.wait_for(timeout=15_000)
    elif path == "/maintenance":
        await page.locator("#health .tile").first.wait_for(timeout=15_000)
        await page.locator("#chart canvas, #chart .chart-empty").first.wait_for(timeout=15_000)
        await page.locator("#orders tbody tr").first.wait_for(timeout=15_000)
    elif path == "/alarms":
        await page.locator("#active tbody tr").first.wait_for(timeout=15_000)
        await page.locator("#kpi tbody tr").first.wait_for(timeout=15_000)
    elif path == "/energy":
        await page.locator("#window .stat").first.wait_for(timeout=15_000)
        await page.locator("#report tbody tr").first.wait_for(timeout=15_000)
    elif path == "/orders":
        await page.locator("#gantt svg rect.op").first.wait_for(timeout=20_000)
        await page.locator("#orders tbody tr").first.wait_for(timeout=15_000)
        await page.locator("#replan p").first.wait_for(timeout=15_000)
    elif path == "/inventory":
        await page.locator("#stock tbody tr").first.wait_for(timeout=15_000)


# a percentage with one decimal as each locale writes it: "87,3 %" (German, no-break space), "87.3%" (Chinese)
PERCENT = {"de": re.compile(r"^\d{1,3},\d\u00a0%$"), "zh": re.compile(r"^\d{1,3}\.\d%$")}


async def _figures_written_for(page: Any, path: str, lang: str) -> None:
    if path == "/":
        value = await page.locator('[data-asset="cnc-1"] [data-key="oee.kpis.availability"]').inner_text()
        assert PERCENT[lang].match(value.strip()), value
        power = await page.locator('[data-stat="power"] .v').inner_text()
        assert re.match(r"^\d[\d.]*,\d\u00a0kW$" if lang == "de" else r"^\d[\d,]*\.\d\u00a0kW$", power), power
    elif path == "/oee":
        value = await page.locator("#tiles .tile.plant .kpi .n").first.inner_text()
        assert PERCENT[lang].match(value.strip()), value


async def test_the_api_docs_render_with_the_network_cut_off(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = plant_config(tmp_path)
    async with running_stack(config) as stack, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            # tall: Swagger UI renders the operations a reader can see, and the test reads all of them
            page = await browser.new_page(viewport={"width": 1400, "height": 6000})
            outside: list[str] = []

            async def only_loopback(route: Any) -> None:
                if route.request.url.startswith(stack.url):
                    await route.continue_()
                else:
                    outside.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_loopback)
            await page.goto(f"{stack.url}/docs")
            # Swagger UI renders its operations in several passes: wait for them, do not count the first pass
            await page.wait_for_function(
                "document.querySelectorAll('.swagger-ui .opblock').length > 20", timeout=30_000
            )
            assert await page.locator(".opblock-summary-path", has_text="/api/me").count() == 1
            await page.screenshot(path=str(tmp_path / "docs.png"))
            assert outside == []
            await page.goto(f"{stack.url}/redoc")
            await page.locator("[data-section-id]").first.wait_for(timeout=30_000)
            await page.screenshot(path=str(tmp_path / "redoc.png"))
            # ReDoc's bundle asks for its maker's logo, and hides it when that fails: nothing else leaves
            assert set(outside) <= {REDOC_LOGO}
        finally:
            await browser.close()
