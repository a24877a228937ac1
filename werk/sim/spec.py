"""The virtual factory as a section of the plant file: ``sim:`` on top, and ``sim:`` on each simulated asset."""

from __future__ import annotations

from typing import Any

from werk.config.model import WerkConfig
from werk.registry import SectionSpec
from werk.sim.config import SimAssetConfig, SimConfig

Loc = tuple[str | int, ...]


def sim_of(config: WerkConfig) -> SimConfig | None:
    """The plant file's ``sim:`` section, if it has one."""
    section = config.section("sim")
    return section if isinstance(section, SimConfig) else None


def sim_asset(asset: Any) -> SimAssetConfig | None:
    """How the simulator plays an asset (its ``sim:`` key), if it does."""
    value = asset.plugin("sim")
    return value if isinstance(value, SimAssetConfig) else None


def check(config: WerkConfig, sim: SimConfig | None) -> list[tuple[Loc, str]]:
    """A simulated asset needs the ``sim`` section; products it makes must exist; the SHDR asset must be
    simulated."""
    problems: list[tuple[Loc, str]] = []
    names = {ref.name for ref in config.assets()}
    for ref in config.assets():
        a = sim_asset(ref.config)
        if a is None:
            continue
        for code in a.products:
            if code not in config.products:
                problems.append(
                    ((*ref.loc, "sim", "products", code), f"product {code!r} is not in 'products:'")
                )
        if sim is None:
            problems.append(
                ((*ref.loc, "sim"), "asset has sim settings but the file has no top-level 'sim' section")
            )
    if sim is not None and (sim.shdr_port is None) != (sim.shdr_asset is None):
        problems.append((("sim",), "give both shdr_port and shdr_asset, or neither"))
    if sim is not None and sim.shdr_asset is not None:
        name = sim.shdr_asset
        if name not in names or sim_asset(config.asset(name).config) is None:
            problems.append((("sim", "shdr_asset"), f"{name!r} is not a simulated asset of this plant"))
    return problems


SECTION = SectionSpec(
    key="sim", settings=SimConfig, asset_key="sim", asset_settings=SimAssetConfig, check=check
)
