"""An app from a package outside werk's tree, found through its entry point, is everywhere a built-in app is:
in the plant file's validation, the API, the nav and the pages, the werk file, the command line; no werk file
names it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg

from tests.conftest import REPO, serving
from tests.plugins import ANDON, installed
from werk.api import create_app
from werk.api.auth import token_digest
from werk.config import parse_config
from werk.runtime.platform import Platform

PLANT = """plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: press}}}}}}}}}}
historian: {path: HISTORIAN}
server:
  users: [{name: olga, role: operator, token_sha256: DIGEST}]
apps:
  andon: {colour: red, max_calls: 5}
"""


def test_werk_has_no_idea_of_the_plug_in_in_its_own_files() -> None:
    hits = subprocess.run(
        ["grep", "-rlw", "-e", "andon", "-e", "werk_andon", str(REPO / "werk")],
        capture_output=True,
        text=True,
    )
    assert hits.stdout == ""


async def test_a_plug_in_app_is_validated_served_listed_and_stored(tmp_path: Path) -> None:
    text = PLANT.replace("HISTORIAN", str(tmp_path / "werk.db")).replace("DIGEST", token_digest("t-olga"))
    with installed(ANDON) as registry:
        config = parse_config(text, "plant.yaml", registry)
        assert config.app("andon").colour == "red"
        platform = Platform(config, registry)
        await platform.start()
        try:
            assert "andon" in platform.apps
            async with serving(create_app(platform)) as url, httpx.AsyncClient(base_url=url) as http:
                r = await http.post(
                    "/api/andon/calls", json={"asset": "m1"}, headers={"Authorization": "Bearer t-olga"}
                )
                assert r.status_code == 200 and r.json() == {"asset": "m1", "calls": 1}
                assert (await http.post("/api/andon/calls", json={"asset": "m1"})).status_code == 401
                ui = (await http.get("/api/ui")).json()
                assert {"path": "/andon", "title": "Andon"} in ui["nav"]
                assert any(t["app"] == "andon" and t["key"] == "andon_calls" for t in ui["tiles"])
                (asset,) = (await http.get("/api/assets")).json()
                assert asset["apps"]["andon"] == {"andon_calls": 1}
                page = await http.get("/andon")
                assert page.status_code == 200 and 'href="/andon" class="active"' in page.text
                assert "pull the cord" in page.text
                home = await http.get("/")
                assert 'href="/andon"' in home.text
                spec = (await http.get("/openapi.json")).json()
                assert "/api/andon/calls" in spec["paths"]
        finally:
            await platform.stop()
    with sqlite3.connect(tmp_path / "werk.db") as db:
        assert db.execute("SELECT asset, who FROM andon_call").fetchall() == [("m1", "olga")]
        assert db.execute("SELECT version FROM werk_migration WHERE owner = 'andon'").fetchall() == [(1,)]


async def test_a_plug_in_apps_table_goes_to_postgresql_with_the_historian(
    tmp_path: Path, pg_url: str
) -> None:
    """Its own statements (``?`` placeholders, SQLite's type names) run unchanged through the apps' database."""
    text = PLANT.replace("HISTORIAN", str(tmp_path / "werk.db")).replace("DIGEST", token_digest("t-olga"))
    text = text.replace("historian: {path:", f"historian: {{backend: postgresql, url: '{pg_url}', path:")
    with installed(ANDON) as registry:
        platform = Platform(parse_config(text, "plant.yaml", registry), registry)
        await platform.start()
        try:
            assert platform.apps["andon"].call("m1", "olga", "100% stuck?") == 1  # type: ignore[attr-defined]
        finally:
            await platform.stop()
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT asset, who, note FROM andon_call").fetchall() == [
            ("m1", "olga", "100% stuck?")
        ]
        assert pg.execute("SELECT version FROM werk_migration WHERE owner = 'andon'").fetchall() == [(1,)]
    with sqlite3.connect(tmp_path / "werk.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "andon_call" not in tables


def test_werk_check_validates_a_plug_in_apps_settings_with_their_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ANDON), str(REPO)])}
    good = tmp_path / "good.yaml"
    good.write_text(PLANT.replace("HISTORIAN", "x.db").replace("DIGEST", '"' + "0" * 64 + '"'))
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("max_calls: 5", "max_calls: 0"))
    ok = subprocess.run(
        [sys.executable, "-m", "werk.cli", "check", str(good)], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    no = subprocess.run(
        [sys.executable, "-m", "werk.cli", "check", str(bad)], env=env, capture_output=True, text=True
    )
    assert no.returncode == 2 and f"{bad}:8: apps.andon.max_calls" in no.stderr.replace("\n", "")
