"""Where each catalog's texts come from: werk's own tree and each registered app's package.

werk's own catalog (``werk/ui/locale``) holds every marked text of ``werk/`` except those of the apps that have
catalogs of their own; an app's catalog holds the texts of its package (Python, templates, page scripts).
``werk i18n update`` runs :func:`werk.i18n.update_catalogs` over these; the catalog test checks against them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from werk.i18n import Source, werk_locale_dir
from werk.registry import Registry


def package_root(package: str) -> Path:
    return Path(str(resources.files(package)))


def werk_source(registry: Registry) -> Source:
    root = package_root("werk")
    apps = [package_root(spec.package) for spec in registry.apps.values() if spec.package]
    return Source(
        root=root, locale=werk_locale_dir(), exclude=tuple(p for p in apps if p.is_relative_to(root))
    )


def app_source(package: str) -> Source:
    root = package_root(package)
    return Source(root=root, locale=root / "locale")


def sources(registry: Registry, packages: list[str] | None = None) -> list[Source]:
    """werk's source and every registered app's, or only those of ``packages``."""
    if packages:
        return [werk_source(registry) if p == "werk" else app_source(p) for p in packages]
    apps = [app_source(spec.package) for spec in registry.apps.values() if spec.package]
    return [werk_source(registry), *apps]
