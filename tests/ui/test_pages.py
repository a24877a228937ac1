"""The pages over HTTP: in the language the browser asks for or the switch chose, with a plug-in's nav entry and
card tile translated by its own catalog; /api/me says whose a token is; the API docs load nothing from outside."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.apps.test_plugin_app import PLANT
from tests.conftest import serving
from tests.plugins import ANDON, installed
from werk.api import create_app
from werk.api.auth import token_digest
from werk.config import parse_config
from werk.runtime.platform import Platform


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    text = PLANT.replace("HISTORIAN", str(tmp_path / "werk.db")).replace("DIGEST", token_digest("t-olga"))
    with installed(ANDON) as registry:
        platform = Platform(parse_config(text, "plant.yaml", registry), registry)
        await platform.start()
        try:
            async with serving(create_app(platform)) as url, httpx.AsyncClient(base_url=url) as client:
                yield client
        finally:
            await platform.stop()


async def test_api_me_names_the_user_of_a_token_and_refuses_others(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/me", headers={"Authorization": "Bearer t-olga"})
    assert r.status_code == 200 and r.json() == {"name": "olga", "role": "operator"}
    assert (await http.get("/api/me")).status_code == 401
    wrong = await http.get("/api/me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def _nav(page: str) -> list[str]:
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page, re.S)
    assert nav is not None
    return [html.unescape(x) for x in re.findall(r">([^<]+)</a>", nav.group(1))]


async def test_pages_speak_the_browsers_language(http: httpx.AsyncClient) -> None:
    en = (await http.get("/")).text
    assert '<html lang="en">' in en and _nav(en) == [
        "Overview",
        "Downtime & OEE",
        "Maintenance",
        "Alarms",
        "Energy",
        "Orders & plan",
        "Inventory",
        "Andon",
    ]
    de = await http.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in de.text and de.headers["content-language"] == "de"
    assert _nav(de.text) == [
        "Übersicht",
        "Stillstände & OEE",
        "Instandhaltung",
        "Alarme",
        "Energie",
        "Aufträge & Plan",
        "Lager",
        "Andon",
    ]
    zh = (await http.get("/oee", headers={"Accept-Language": "zh-CN,zh;q=0.9"})).text
    assert '<html lang="zh">' in zh and _nav(zh) == [
        "总览",
        "停机与 OEE",
        "维护",
        "报警",
        "能源",
        "订单与计划",
        "仓储",
        "安灯",
    ]
    assert "<h2>班次报表" in zh
    andon = (await http.get("/andon", headers={"Accept-Language": "de"})).text
    assert "an der Reißleine ziehen" in andon


async def test_the_switch_sets_a_cookie_that_wins_over_the_browser(http: httpx.AsyncClient) -> None:
    r = await http.get("/maintenance?lang=zh", headers={"Accept-Language": "de"})
    assert '<html lang="zh">' in r.text and r.cookies.get("werk-lang") == "zh"
    again = await http.get("/", headers={"Accept-Language": "de"})  # the client keeps the cookie
    assert '<html lang="zh">' in again.text


async def test_a_page_script_gets_its_texts_from_the_page(http: httpx.AsyncClient) -> None:
    page = (await http.get("/maintenance", headers={"Accept-Language": "de"})).text
    blob = re.search(r'<script type="application/json" id="werk-strings">(.*?)</script>', page, re.S)
    assert blob is not None
    strings = json.loads(blob.group(1))
    assert strings["lang"] == "de"
    assert strings["messages"]["{n} new"] == "{n} neu"  # the maintenance app's script
    assert strings["messages"]["unknown token"] == "unbekanntes Token"  # werk.js
    assert strings["states"]["fault"] == "Störung" and strings["roles"]["operator"] == "Bediener"


async def test_the_cards_fragment_carries_every_apps_tile_in_the_readers_language(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/api/andon/calls", json={"asset": "m1"}, headers={"Authorization": "Bearer t-olga"})
    headers = {"Accept-Language": "de"}
    async with http.stream("GET", "/ui/overview/stream", headers=headers, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event: list[str] = []
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = [line]
            elif event and line.startswith("data:"):
                event.append(line[5:].strip())
            elif event and line == "":
                break
    assert event[0] == "event: overview"
    fragment = "\n".join(event[1:])
    assert 'data-asset="m1"' in fragment
    assert (
        '<span class="k">Andon-Rufe</span><span class="v" data-key="andon.andon_calls">1</span>' in fragment
    )
    assert '<span class="k">Gutteile</span>' in fragment


async def test_the_api_docs_load_only_werks_own_files(http: httpx.AsyncClient) -> None:
    for path, asset in (
        ("/docs", "/static/vendor/swagger-ui-bundle.js"),
        ("/redoc", "/static/vendor/redoc.standalone.js"),
    ):
        page = (await http.get(path)).text
        assert asset in page
        assert not re.search(r"(src|href)=['\"]https?://", page), page
        assert (await http.get(asset)).status_code == 200
