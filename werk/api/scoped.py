"""The platform's own lists across the plant as a caller with viewer grants on parts of the plant sees them
(:class:`~werk.core.sight.Sight`): the plant tree and the connectors. Callers that see everything never come here
(their sight is None)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from werk.config.model import WerkConfig
from werk.core.sight import Sight

# the ISA-95 levels under a site, as the plant file nests them: (the key of a node's children, the next level's)
_CHILDREN = ("areas", "lines", "cells", "assets")


def plant_tree_seen(sight: Sight, enterprise: str, sites: Mapping[str, Any]) -> dict[str, Any]:
    """``sites`` (the plant file's tree, as ``PlantConfig.model_dump()["sites"]``) pruned to what ``sight`` sees:
    a covered node in full, a node on the way to a covered one with only its name and those children, others
    left out."""
    return _prune(sight, enterprise, sites, 0)


def _prune(sight: Sight, parent: str, nodes: Mapping[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, node in nodes.items():
        path = f"{parent}/{name}"
        if sight.covers(path):
            out[name] = node
        elif depth < len(_CHILDREN) and sight.leads_to(path):
            key = _CHILDREN[depth]
            out[name] = {key: _prune(sight, path, node.get(key) or {}, depth + 1)}
    return out


def assets_by_connector(config: WerkConfig) -> dict[str, tuple[str, ...]]:
    """Connector name -> the names of the assets bound to it."""
    out: dict[str, list[str]] = {}
    for ref in config.assets():
        for b in ref.config.bindings():
            names = out.setdefault(b.connector, [])
            if ref.name not in names:
                names.append(ref.name)
    return {k: tuple(v) for k, v in out.items()}


def sight_covers_all(sight: Sight, assets: Iterable[str]) -> bool:
    """Whether ``sight`` sees every one of ``assets`` (and there is one): what a figure over all of them needs."""
    names = list(assets)
    return bool(names) and all(sight.asset(n) for n in names)
