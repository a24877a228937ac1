"""``AppSpec.from_package`` derives an app's spec from its package's layout; a plain ``AppSpec`` derives nothing.

The built-ins are declared by convention: what they resolve to is pinned here (the nav and the hooks), so a renamed
module or template shows up as a test failure, not as an app that silently lost its API or its page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from werk.apps.spec import AppSpec
from werk.registry import PluginError, build_registry

APP = """from werk.apps.spec import App


class KanbanApp(App):
    pass
"""
SETTINGS = """from werk.config.model import AppSettings


class KanbanSettings(AppSettings):
    lanes: int = 3
"""
STORE = """from werk.store.migrations import Migration

MIGRATIONS = (Migration(1, "cards", "CREATE TABLE kanban_card (id TEXT)"),)
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """An app package ``werk_kanban`` laid out by convention, importable while the test runs."""
    root = tmp_path / "werk_kanban"
    (root / "templates" / "kanban").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "app.py").write_text(APP)
    (root / "settings.py").write_text(SETTINGS)
    (root / "store.py").write_text(STORE)
    (root / "templates" / "kanban" / "kanban.html").write_text("{% extends 'base.html' %}")
    sys.path.insert(0, str(tmp_path))
    try:
        yield root
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "werk_kanban" or m.startswith("werk_kanban.")]:
            del sys.modules[name]


def test_a_package_laid_out_by_convention_gets_its_app_settings_tables_and_page(package: Path) -> None:
    spec = AppSpec.from_package("werk_kanban", name="kanban", title="Kanban", order=70)
    assert (spec.name, spec.package, spec.order) == ("kanban", "werk_kanban", 70)
    assert spec.build.__name__ == "KanbanApp" and spec.settings.__name__ == "KanbanSettings"
    assert [m.version for m in spec.migrations] == [1]
    assert [(p.path, p.title, p.template, p.order) for p in spec.pages] == [
        ("/kanban", "Kanban", "kanban/kanban.html", 70)
    ]
    # what the package does not have, the app does not have
    assert (spec.router, spec.check, spec.cli, spec.submodels) == (None, None, None, None)


def test_the_name_defaults_to_the_packages_and_the_page_to_the_name(package: Path) -> None:
    spec = AppSpec.from_package("werk_kanban", title="Kanban")
    assert spec.name == "werk_kanban" and spec.pages == ()  # no templates/werk_kanban/werk_kanban.html
    (package / "templates" / "kanban" / "board.html").write_text("{% extends 'base.html' %}")
    spec = AppSpec.from_package("werk_kanban", name="kanban", page="board", title="Kanban")
    assert [(p.path, p.template) for p in spec.pages] == [("/board", "kanban/board.html")]


def test_a_page_without_its_template_is_refused_with_the_path_it_looked_for(package: Path) -> None:
    with pytest.raises(
        PluginError, match=r"werk_kanban has no templates/kanban/cards\.html for its page 'cards'"
    ):
        AppSpec.from_package("werk_kanban", name="kanban", page="cards", title="Kanban")


def test_a_plain_app_spec_derives_nothing_from_its_package(package: Path) -> None:
    from werk_kanban.app import KanbanApp  # type: ignore[import-not-found]

    spec = AppSpec(name="kanban", title="Kanban", build=KanbanApp, package="werk_kanban")
    assert (spec.migrations, spec.pages, spec.settings.__name__) == ((), (), "AppSettings")


def test_an_api_module_without_build_router_is_refused_with_the_name_to_give(package: Path) -> None:
    (package / "api.py").write_text("def router(app, web):\n    return None\n")
    with pytest.raises(PluginError, match=r"werk_kanban\.api has no build_router: name the app's router so"):
        AppSpec.from_package("werk_kanban", name="kanban", title="Kanban")


def test_two_app_classes_are_refused_with_their_names(package: Path) -> None:
    (package / "app.py").write_text(APP + "\n\nclass OtherApp(KanbanApp):\n    pass\n")
    with pytest.raises(
        PluginError, match=r"werk_kanban\.app defines 2 App subclasses \(KanbanApp, OtherApp\)"
    ):
        AppSpec.from_package("werk_kanban", title="Kanban")


def test_a_package_without_an_app_class_is_refused(package: Path) -> None:
    (package / "app.py").write_text("from werk.apps.spec import App\n")
    with pytest.raises(PluginError, match=r"werk_kanban\.app defines no App subclass"):
        AppSpec.from_package("werk_kanban", title="Kanban")


def test_werks_own_apps_resolve_to_the_nav_and_hooks_they_always_had() -> None:
    apps = build_registry(plugins=False).apps
    assert [(n, s.order) for n, s in apps.items()] == [
        ("machine_state", 10),
        ("oee", 20),
        ("maintenance", 30),
        ("alarms", 32),
        ("energy", 35),
        ("production_orders", 40),
        ("stock", 45),
    ]
    assert [(p.path, p.template) for s in apps.values() for p in s.pages] == [
        ("/oee", "oee/oee.html"),
        ("/maintenance", "maintenance/maintenance.html"),
        ("/alarms", "alarms/alarms.html"),
        ("/energy", "energy/energy.html"),
        ("/orders", "production_orders/orders.html"),
        ("/inventory", "stock/inventory.html"),
    ]
    hooks = ("router", "migrations", "check", "cli", "submodels")
    assert {n: [h for h in hooks if getattr(s, h)] for n, s in apps.items()} == {
        "machine_state": [],
        "oee": ["router", "migrations", "check"],
        "maintenance": ["router", "migrations", "cli", "submodels"],
        "alarms": ["router", "migrations", "check"],
        "energy": ["router", "migrations", "check"],
        "production_orders": ["router", "migrations", "check"],
        "stock": ["router", "migrations", "check"],
    }
    assert apps["machine_state"].asset_key == "states"
