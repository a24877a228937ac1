"""The plant file's whole schema: werk's own models (:mod:`werk.config.model`) joined with what every registered
app, connector and section declares, as one pydantic model.

Built as subclasses made at run time, so every error, a plug-in's included, comes out of one validation with its
full key path (``apps.<app>.<key>``, ``connectors.<name>.<key>``, ``plant.sites...assets.<asset>.<key>``),
which the loader turns into a line of the file. The result is a :class:`WerkConfig`; apps read their part with
``config.app(name)``, sections with ``config.section(key)``, asset keys with ``asset.plugin(key)``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Field, create_model

from werk.config.model import (
    AppsSettings,
    AreaConfig,
    AreaName,
    AssetConfig,
    AssetName,
    CellConfig,
    CellName,
    LineConfig,
    LineName,
    Name,
    PlantConfig,
    SiteConfig,
    SiteName,
    WerkConfig,
)

if TYPE_CHECKING:
    from werk.registry import Registry


class SchemaError(Exception):
    """Two plug-ins claim the same key of the plant file, or one claims a key of werk's own."""


def _asset_fields(registry: Registry) -> dict[str, Any]:
    owners = [(s.asset_key, s.asset_settings, f"app {s.name!r}") for s in registry.apps.values()]
    owners += [(s.asset_key, s.asset_settings, f"section {s.key!r}") for s in registry.sections.values()]
    fields: dict[str, Any] = {}
    taken = {k: "werk" for k in AssetConfig.model_fields}
    for key, model, owner in owners:
        if key is None or model is None:
            continue
        if key in taken:
            raise SchemaError(f"{owner} declares asset key {key!r}, which {taken[key]} has already")
        taken[key] = owner
        fields[key] = (model | None, None)
    return fields


def build_schema(registry: Registry) -> type[WerkConfig]:
    """The plant-file model for ``registry``'s apps, connectors and sections."""
    # the levels are made at run time, so to the type checker they are values: Any
    asset: Any = create_model("AssetConfig", __base__=AssetConfig, **_asset_fields(registry))
    cell: Any = create_model(
        "CellConfig", __base__=CellConfig, assets=(dict[AssetName, asset], Field(min_length=1))
    )
    line: Any = create_model(
        "LineConfig", __base__=LineConfig, cells=(dict[CellName, cell], Field(min_length=1))
    )
    area: Any = create_model(
        "AreaConfig", __base__=AreaConfig, lines=(dict[LineName, line], Field(min_length=1))
    )
    site: Any = create_model(
        "SiteConfig", __base__=SiteConfig, areas=(dict[AreaName, area], Field(min_length=1))
    )
    plant: Any = create_model(
        "PlantConfig", __base__=PlantConfig, sites=(dict[SiteName, site], Field(min_length=1))
    )
    app_fields: dict[str, Any] = {
        name: (spec.settings, Field(default_factory=spec.settings)) for name, spec in registry.apps.items()
    }
    apps: Any = create_model("AppsSettings", __base__=AppsSettings, **app_fields)
    kinds = tuple(spec.settings for spec in registry.connectors.values())
    connector: Any = kinds[0] if len(kinds) == 1 else Annotated[Union[kinds], Field(discriminator="type")]  # noqa: UP007 - a tuple of types
    sections: dict[str, Any] = {}
    for key, section in registry.sections.items():
        if key in WerkConfig.model_fields:
            raise SchemaError(f"section {key!r} is a key of werk's own plant file")
        sections[key] = (section.settings | None, None)
    model: type[WerkConfig] = create_model(
        "WerkConfig",
        __base__=WerkConfig,
        plant=(plant, ...),
        apps=(apps, Field(default_factory=apps)),
        connectors=(dict[Name, connector], Field(default_factory=dict)),
        **sections,
    )
    return model


@functools.cache
def default_schema() -> type[WerkConfig]:
    """The schema of this process's registry (built-ins and installed plug-ins)."""
    from werk.registry import default_registry

    return build_schema(default_registry())


def settings_models(registry: Registry) -> dict[str, type[BaseModel]]:
    """Every plug-in's settings model by where it sits in the file, for the generated plant-file reference."""
    out: dict[str, type[BaseModel]] = {}
    for name, spec in registry.apps.items():
        out[f"apps.{name}"] = spec.settings
        if spec.asset_key and spec.asset_settings:
            out[f"<asset>.{spec.asset_key}"] = spec.asset_settings
    for type_, c in registry.connectors.items():
        out[f"connectors.<name> (type: {type_})"] = c.settings
    for key, section in registry.sections.items():
        out[key] = section.settings
        if section.asset_key and section.asset_settings:
            out[f"<asset>.{section.asset_key}"] = section.asset_settings
    return out
