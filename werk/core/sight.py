"""What a caller whose viewer grants cover only parts of the plant may see of it: the one test every list and
figure across the plant applies (assets, tree nodes, KPI and report rows, aggregates).

A caller that sees everything (reads are open, or a viewer grant on the whole plant) has no :class:`Sight` at
all (None): lists skip filtering entirely, so the unscoped path does no extra work.

The rules, one per kind:

- a row that belongs to an asset (by name) or to a UNS path (a signal, an event's source) is kept when one of the
  grants covers that path (:meth:`Sight.asset`, :meth:`Sight.covers`);
- an aggregate over a node of the ISA-95 tree (a line, an area, a site, the plant) is kept only when the grants
  cover the whole node (:meth:`Sight.covers`): an aggregate over assets the caller may not see would leak them,
  so it is left out rather than recomputed over a part and shown under the node's name;
- a node of the plant tree is shown in full when covered, as a bare name when it only leads to something covered
  (:meth:`Sight.leads_to`), and not at all otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PLANT = ""
"""The UNS path of the whole plant (what a grant on the whole plant names)."""


class Sight:
    """The viewer grants' scopes of one caller (UNS paths; none of them the whole plant) and the plant's asset
    paths by name."""

    __slots__ = ("_assets", "scopes")

    def __init__(self, scopes: Iterable[str], assets: Mapping[str, str]) -> None:
        self.scopes = tuple(sorted(set(scopes)))
        self._assets = assets

    def covers(self, path: str | None) -> bool:
        """Whether the grants cover everything at and under the UNS ``path`` ("" or None: the plant)."""
        if not path:
            return False
        return any(path == s or path.startswith(s + "/") for s in self.scopes)

    def asset(self, name: str | None) -> bool:
        """Whether the caller may see what belongs to the asset ``name`` (None or unknown: no)."""
        path = self._assets.get(name) if name is not None else None
        return path is not None and self.covers(path)

    def leads_to(self, path: str) -> bool:
        """Whether something under the UNS ``path`` is covered (the node is on the way to what the caller sees)."""
        if not path:
            return bool(self.scopes)
        return self.covers(path) or any(s.startswith(path + "/") for s in self.scopes)

    def aggregate(self, level: str, scope: str) -> bool:
        """Whether a report row may be shown: ``level`` "asset" with ``scope`` an asset's name, else a node
        (line, area, site: ``scope`` its UNS path; "plant": the whole plant) whose aggregate needs all of it."""
        if level == "asset":
            return self.asset(scope)
        return self.covers(PLANT if level == "plant" else scope)

    def keyed(self, by_asset: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of a mapping by asset name the caller may see."""
        return {k: v for k, v in by_asset.items() if self.asset(k)}

    def nodes(self, by_path: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of a mapping by node path (line, area) whose whole node the caller sees."""
        return {k: v for k, v in by_path.items() if self.covers(k)}


WHOLE_PLANT = (
    "these figures are over the whole plant and would show parts your viewer grants do not cover: they need a "
    "viewer grant on the whole plant"
)
"""The reason a read of figures that only exist over the whole plant gives a caller with a partial sight (403)."""
