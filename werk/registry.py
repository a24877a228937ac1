"""The one list of apps, connectors and plant-file sections werk runs: built-ins first, then installed plug-ins.

Built-ins are named here by module path (like Datasette's ``DEFAULT_PLUGINS``) and load through the same door as
a third party's: a package adds its own with entry points in the groups ``werk.apps`` (an
:class:`~werk.apps.spec.AppSpec`), ``werk.connectors`` (a :class:`~werk.connect.spec.ConnectorSpec`) and
``werk.sections`` (a :class:`SectionSpec`)::

    [project.entry-points."werk.apps"]
    pareto_board = "werk_pareto_board.spec:SPEC"

This module imports nothing of werk at import time: specs are imported when the registry is first asked, so the
plant-file loader below the apps can validate their settings without depending on them.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from werk.apps.spec import AppSpec
    from werk.connect.spec import ConnectorSpec

log = logging.getLogger(__name__)

BUILTIN_APPS = (
    "werk.apps.machine_state.spec:SPEC",
    "werk.apps.oee.spec:SPEC",
    "werk.apps.maintenance.spec:SPEC",
    "werk.apps.energy.spec:SPEC",
    "werk.apps.orders.spec:SPEC",
    "werk.apps.inventory.spec:SPEC",
    "werk.apps.alarms.spec:SPEC",
)
BUILTIN_CONNECTORS = (
    "werk.connect.opcua:SPEC",
    "werk.connect.mqtt:SPEC",
    "werk.connect.sparkplug:SPEC",
    "werk.connect.modbus:SPEC",
    "werk.connect.mtconnect:AGENT_SPEC",
    "werk.connect.mtconnect:SHDR_SPEC",
)
BUILTIN_SECTIONS = ("werk.sim.spec:SECTION",)

APP_GROUP = "werk.apps"
CONNECTOR_GROUP = "werk.connectors"
SECTION_GROUP = "werk.sections"


class PluginError(Exception):
    """A plug-in that cannot be loaded or does not hold to the contract; the message names it."""


@dataclass(frozen=True)
class SectionSpec:
    """A top-level section of the plant file that is neither an app nor a connector (the virtual factory's
    ``sim:``), and optionally a key of its own on each asset."""

    key: str
    settings: type[BaseModel]
    asset_key: str | None = None
    asset_settings: type[BaseModel] | None = None
    check: Any = None  # (config, settings) -> list[(loc, message)]: mistakes that span the plant file


@dataclass(frozen=True)
class Registry:
    apps: dict[str, AppSpec] = field(default_factory=dict)
    connectors: dict[str, ConnectorSpec[Any]] = field(default_factory=dict)
    sections: dict[str, SectionSpec] = field(default_factory=dict)

    def app(self, name: str) -> AppSpec:
        return self.apps[name]

    def connector(self, type_: str) -> ConnectorSpec[Any]:
        return self.connectors[type_]


def _load(ref: str, origin: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except Exception as exc:
        raise PluginError(f"{origin} {ref!r} cannot be loaded: {exc!r}") from exc
    return obj


def _entry_points(group: str) -> Iterable[tuple[str, str]]:
    for ep in entry_points(group=group):
        yield ep.value, f"entry point {ep.name!r} of group {group!r}"


def build_registry(*, plugins: bool = True) -> Registry:
    """Built-ins, then (with ``plugins``) every installed entry point. A plug-in whose name clashes with one
    already loaded, or that is not the kind of spec its group holds, is refused with its name."""
    from werk.apps.spec import AppSpec
    from werk.connect.spec import ConnectorSpec

    reg = Registry()
    kinds: list[tuple[tuple[str, ...], str, type[Any], dict[str, Any], str]] = [
        (BUILTIN_APPS, APP_GROUP, AppSpec, reg.apps, "name"),
        (BUILTIN_CONNECTORS, CONNECTOR_GROUP, ConnectorSpec, reg.connectors, "type"),
        (BUILTIN_SECTIONS, SECTION_GROUP, SectionSpec, reg.sections, "key"),
    ]
    for builtins, group, kind, into, key in kinds:
        refs = [(ref, "built-in") for ref in builtins]
        if plugins:
            refs += list(_entry_points(group))
        for ref, origin in refs:
            spec = _load(ref, origin)
            if not isinstance(spec, kind):
                raise PluginError(f"{origin} {ref!r} is a {type(spec).__name__}, not a {kind.__name__}")
            name = getattr(spec, key)
            if name in into:
                raise PluginError(f"{origin} {ref!r}: {key} {name!r} is taken already")
            into[name] = spec
    ordered = sorted(reg.apps.items(), key=lambda kv: (kv[1].order, kv[0]))
    reg.apps.clear()
    reg.apps.update(ordered)
    return reg


@functools.cache
def default_registry() -> Registry:
    """The registry of this process: built-ins and installed plug-ins, loaded once."""
    return build_registry()
