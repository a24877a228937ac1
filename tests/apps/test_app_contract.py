"""Every registered app honours the contract of :mod:`werk.apps.spec`, werk's own and a plug-in's alike.

One parametrised suite over the registry: a new app (in werk's tree or a package with an entry point) is held
to it without anyone writing tests for it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.plugins import ANDON, installed
from werk.api.auth import Authenticator
from werk.api.web import WebContext
from werk.apps.spec import App, AppContext, AppSpec
from werk.bus.memory import MemoryBus
from werk.config import demo_config_path, parse_config
from werk.errors import ConfigError
from werk.i18n import KEYWORDS, locale_dir, po_path, read_catalog
from werk.registry import Registry
from werk.store import SQLiteFile, SQLiteHistorian
from werk.store.app_database import AppDatabase, SQLiteAppDatabase
from werk.ui.pages import Pages, package_dir

with installed(ANDON) as _registry:
    NAMES = list(_registry.apps)


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with installed(ANDON) as reg:
        yield reg


@pytest.fixture(params=NAMES)
def spec(request: pytest.FixtureRequest, registry: Registry) -> AppSpec:
    return registry.app(request.param)


MINIMAL = """plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: press}}}}}}}}}}
"""


def _plant(extra: str = "") -> str:
    return demo_config_path().read_text() + extra


def test_the_test_plug_in_is_found_through_its_entry_point(registry: Registry) -> None:
    assert "andon" in registry.apps and registry.app("andon").package == "werk_andon"


def test_settings_have_defaults_and_refuse_unknown_keys_with_their_line(
    spec: AppSpec, registry: Registry
) -> None:
    defaults = spec.settings()
    assert defaults.enabled is True
    text = MINIMAL + f"apps:\n  {spec.name}:\n    no_such_key: 1\n"
    line = text.splitlines().index("    no_such_key: 1") + 1
    with pytest.raises(ConfigError) as err:
        parse_config(text, "plant.yaml", registry)
    assert f"plant.yaml:{line}: apps.{spec.name}.no_such_key: unknown key" in str(err.value)


def test_the_plant_file_says_which_apps_exist_when_one_is_misspelt(registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"p.yaml:5: apps\.oea: unknown app 'oea' \(known: .*andon"):
        parse_config(MINIMAL + "apps:\n  oea: {}\n", "p.yaml", registry)


def test_migrations_apply_on_an_empty_and_on_an_up_to_date_database(
    spec: AppSpec, app_db: AppDatabase
) -> None:
    """On the werk file and on PostgreSQL: the app's DDL is written once and runs on both."""
    latest = spec.migrations[-1].version if spec.migrations else 0
    assert app_db.migrate(spec.name, spec.migrations) == latest
    assert app_db.migrate(spec.name, spec.migrations) == latest  # again: nothing to do, nothing broken
    assert app_db.schema_version(spec.name) == latest


def _context(spec: AppSpec, registry: Registry, tmp_path: Path) -> tuple[AppContext, SQLiteFile]:
    config = parse_config(_plant(), "demo.yaml", registry)
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    historian = SQLiteHistorian(file)
    historian.open()
    file.migrate(spec.name, spec.migrations)
    ctx = AppContext(
        name=spec.name,
        config=config,
        settings=config.app(spec.name),
        bus=MemoryBus(),
        historian=historian,
        db=SQLiteAppDatabase(file),
        live={},
        data_dir=tmp_path,
    )
    return ctx, file


async def test_the_app_starts_and_stops_cleanly_within_a_bound(
    spec: AppSpec, registry: Registry, tmp_path: Path
) -> None:
    ctx, file = _context(spec, registry, tmp_path)
    settings = ctx.settings.model_copy(update={"auto_train": False}) if spec.name == "maintenance" else None
    if settings is not None:
        ctx = AppContext(**{**ctx.__dict__, "settings": settings})
    app = spec.build(ctx)
    assert isinstance(app, App) and app.name == spec.name
    task = asyncio.create_task(app.run())
    await asyncio.sleep(0.3)
    assert not task.done(), f"{spec.name}.run() ended by itself: {task.exception() if task.done() else ''}"
    async with asyncio.timeout(5):
        await app.stop()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert isinstance(app.snapshot(), dict | list)
    for ref in ctx.config.assets():
        assert isinstance(dict(app.asset_view(ref.name)), dict)
    file.close()


def test_its_routes_are_in_openapi_with_typed_bodies(
    spec: AppSpec, registry: Registry, tmp_path: Path
) -> None:
    if spec.router is None:
        pytest.skip(f"{spec.name} has no HTTP API")
    ctx, file = _context(spec, registry, tmp_path)
    app = spec.build(ctx)
    dirs = [d for d in [package_dir(spec.package, "templates")] if d is not None]
    web = WebContext(ctx.config, Authenticator(ctx.config.server), Pages([], dirs))
    api = FastAPI()
    router = spec.router(app, web)
    api.include_router(router)
    paths = api.openapi()["paths"]
    for route in router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            op = paths[route.path][method.lower()]
            assert op.get("description") or op.get("summary"), f"{method} {route.path} is undocumented"
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
            assert _typed(schema), f"{method} {route.path} answers an untyped body: {schema}"
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if method in ("POST", "PUT", "PATCH") and body is not None:
                assert _typed(body), f"{method} {route.path} takes an untyped body: {body}"
    file.close()


def _typed(schema: dict[str, Any]) -> bool:
    """A named model, or a list or mapping of one: not a bare object."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}))
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        return _typed(schema["additionalProperties"])
    return any(_typed(s) for s in schema.get("anyOf", []) if s.get("type") != "null")


def test_its_pages_have_templates_and_its_strings_are_not_empty(spec: AppSpec) -> None:
    assert spec.title.strip()
    templates = package_dir(spec.package, "templates")
    for page in spec.pages:
        assert page.path.startswith("/") and page.title.strip()
        assert templates is not None and (templates / page.template).is_file(), page.template
    for tile in spec.tiles:
        assert tile.label.strip() and tile.key.strip()


def _template_texts(folder: Path | None) -> set[str]:
    """The texts an app's templates translate."""
    from babel.messages.extract import extract_from_dir

    if folder is None:
        return set()
    found = extract_from_dir(
        str(folder), method_map=[("**.html", "jinja2.ext:babel_extract")], keywords=KEYWORDS
    )
    return {msg for _, _, msg, _, _ in found if isinstance(msg, str)}


def test_its_texts_are_translated_to_german_and_chinese(spec: AppSpec) -> None:
    folder = locale_dir(spec.package)
    assert folder is not None, f"{spec.name} has no locale/ folder in {spec.package}"
    texts = {spec.title, *(p.title for p in spec.pages), *(t.label for t in spec.tiles)}
    texts |= {t.unit for t in spec.tiles if t.unit}
    texts |= _template_texts(package_dir(spec.package, "templates"))
    for lang in ("de", "zh"):
        catalog = read_catalog(po_path(folder, lang), lang)
        untranslated = sorted(x for x in texts if not (catalog.get(x) and catalog.get(x).string))
        assert untranslated == [], f"{spec.name}'s {lang} catalog does not translate {untranslated}"
