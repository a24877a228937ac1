"""An asset card says how sure its figures are: a ratio above 100 % is shown as computed and marked, in the
reader's language; a ratio that can be right is not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werk.i18n import Translator, werk_locale_dir
from werk.ui.overview import card, summary


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


def test_the_mean_oee_leaves_out_an_oee_above_100_percent_and_says_so() -> None:
    de = Translator("de", [werk_locale_dir()])
    assets = [
        _Asset(apps={}, kpis={"oee": 1.142}),
        _Asset(apps={}, kpis={"oee": 0.6}),
        _Asset(apps={}, kpis={"oee": 0.8}),
    ]
    mean = next(f for f in summary(de, assets) if f.key == "mean OEE")
    assert mean.value == "70,0\u00a0%" and mean.warn == "1 OEE über 100 % ausgelassen"


def test_good_parts_and_scrap_are_the_current_shifts_not_the_counters_readings() -> None:
    """A part counter reads what it counted since it was last reset (days, a month); the card's good and scrap are
    the current shift's, as its availability and OEE are, and none outside every shift."""
    en = Translator("en", [werk_locale_dir()])
    counting = _Asset(apps={}, kpis={"gq": 41, "sq": 2}, counts={"good_count": 18_342, "scrap_count": 617})
    figures = {f.key: f.value for f in card(en, counting, [], datetime.now(UTC)).figures}
    assert (figures["good"], figures["scrap"]) == ("41", "2")
    outside = _Asset(apps={}, kpis={}, counts={"good_count": 18_342, "scrap_count": 617})
    figures = {f.key: f.value for f in card(en, outside, [], datetime.now(UTC)).figures}
    assert "18" not in figures["good"] and "617" not in figures["scrap"]
    plant = {f.key: f.value for f in summary(en, [counting, counting, outside])}
    assert (plant["good parts"], plant["scrap"]) == ("82", "4")


def test_the_summary_shows_the_plants_aggregate_oee_the_oee_page_shows_not_a_mean_of_machines() -> None:
    """ISO 22400's plant OEE sums the machines' times and counts; an unweighted mean of their ratios differs
    (62.2 % against 64.4 % in the demo). With the plant's figure at hand the summary shows it, named so; without it
    (a viewer of part of the plant) the mean, named as the machines' mean."""
    en = Translator("en", [werk_locale_dir()])
    assets = [_Asset(apps={}, kpis={"oee": 0.5}), _Asset(apps={}, kpis={"oee": 0.8})]
    plant = {f.key: f for f in summary(en, assets, {"kpis": {"oee": 0.713}})}
    assert "mean OEE" not in plant
    assert (plant["plant OEE"].label, plant["plant OEE"].value) == ("plant OEE", "71.3%")
    de = Translator("de", [werk_locale_dir()])
    mean = {f.key: f for f in summary(de, assets, None)}["mean OEE"]
    assert (mean.label, mean.value) == ("mittlere OEE der Maschinen", "65,0\u00a0%")


def test_a_sensor_card_gives_its_signals_units_from_the_signal_catalogue() -> None:
    @dataclass(frozen=True)
    class _Signal:
        value: float

    en = Translator("en", [werk_locale_dir()])
    sensor = _Asset(
        apps={},
        name="env-hall-1",
        production=False,
        state="sensor",
        signals={"humidity": _Signal(57.94), "temperature": _Signal(17.52), "co2": _Signal(412.0)},
    )
    figures = {f.key: f.value for f in card(en, sensor, [], datetime.now(UTC)).figures}
    assert figures == {"humidity": "57.9\u00a0%", "temperature": "17.5\u00a0°C", "co2": "412.0"}
