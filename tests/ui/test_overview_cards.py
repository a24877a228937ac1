"""An asset card says how sure its figures are: a ratio above 100 % is shown as computed and marked, in the
reader's language; a ratio that can be right is not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werk.i18n import Translator, werk_locale_dir
from werk.ui.overview import card


@dataclass(frozen=True)
class _Tile:
    app: str
    key: str
    label: str
    unit: str = ""
    format: str = "percent"


@dataclass
class _Asset:
    apps: dict[str, dict[str, Any]]
    name: str = "cnc-2"
    kind: str = "machining centre"
    production: bool = True
    state: str = "running"
    since: datetime | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)


def test_a_ratio_above_100_percent_on_a_card_is_marked_and_one_below_is_not() -> None:
    tiles = [_Tile("oee", "kpis.oee", "OEE"), _Tile("oee", "kpis.availability", "Availability")]
    asset = _Asset(apps={"oee": {"kpis": {"oee": 1.142, "availability": 0.767}}})
    de = Translator("de", [werk_locale_dir()])
    figures = {f.key: f for f in card(de, asset, tiles, datetime.now(UTC)).figures}
    oee, availability = figures["oee.kpis.oee"], figures["oee.kpis.availability"]
    assert oee.value == "114,2\u00a0%" and oee.warn.startswith("über 100 %")
    assert availability.value == "76,7\u00a0%" and availability.warn == ""
