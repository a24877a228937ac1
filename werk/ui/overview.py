"""The overview's live part: the plant summary and one card per asset, as the server renders them.

A card shows werk's own figures (parts, the signals every machine has) and every registered app's tiles
(:class:`werk.apps.spec.Tile`: a key into the app's view of the asset, a label, a unit, a format), so an app adds
a figure to every card without touching werk's files. The page gets the same fragment every second over SSE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from werk.core.signals import describe
from werk.i18n import N_, NO_VALUE, Translator
from werk.ui.labels import state_label

#: signals every machine of the demo has, shown on its card when present: (signal, label, unit, digits)
SIGNALS: tuple[tuple[str, str, str, int], ...] = (
    ("power", N_("power"), "kW", 1),
    ("temperature", N_("temperature"), "°C", 1),
    ("vibration", N_("vibration"), "mm/s", 2),
    ("load", N_("load"), "%", 0),
)
#: sensors' signals werk has words for (others show as the plant file names them)
SENSOR_SIGNALS = (N_("humidity"), N_("temperature"), N_("energy"), N_("pressure"))
DOWN = frozenset({"fault", "maintenance"})


def signal_labels(t: Translator) -> dict[str, str]:
    """The signal names werk has words for, in ``t``'s language (the chart's signal list uses them)."""
    names = [label for _, label, _, _ in SIGNALS] + list(SENSOR_SIGNALS)
    return {name: t(name) for name in names}


class TileLike(Protocol):
    @property
    def app(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def format(self) -> str: ...


class AssetLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def production(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def kpis(self) -> Mapping[str, Any]: ...
    @property
    def counts(self) -> Mapping[str, Any]: ...
    @property
    def signals(self) -> Mapping[str, Any]: ...
    @property
    def apps(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: str
    warn: str = ""  # why the figure cannot be right as shown, when it cannot


@dataclass(frozen=True)
class Card:
    name: str
    kind: str
    state: str
    production: bool
    badges: list[Figure] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    oee: float | None = None
    since: str = ""


def lookup(view: Mapping[str, Any], key: str) -> Any:
    """``kpis.oee`` of ``{"kpis": {"oee": 0.8}}``; None where any part is missing."""
    value: Any = view
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def tile_value(t: Translator, tile: TileLike, value: Any) -> str:
    if tile.format == "state":
        return state_label(t, str(value))
    if tile.format == "text":
        return str(value)
    unit = t(tile.unit) if tile.unit else ""
    if tile.format == "percent":
        text = t.fmt.percent(value)
    elif tile.format == "integer":
        text = t.fmt.integer(value)
    else:
        text = t.fmt.number(value, 1)
    return f"{text}\u00a0{unit}" if unit and text != NO_VALUE else text


def _value(signal: Any) -> Any:
    return None if signal is None else signal.value


def card(t: Translator, asset: AssetLike, tiles: Sequence[TileLike], now: datetime) -> Card:
    badges: list[Figure] = []
    figures: list[Figure] = []
    if asset.production:
        figures += [
            # the current shift's parts (the OEE report's), not the counters' readings since they were last reset
            Figure("good", t("good"), t.fmt.integer(asset.kpis.get("gq"))),
            Figure("scrap", t("scrap"), t.fmt.integer(asset.kpis.get("sq"))),
        ]
    for tile in tiles:
        value = lookup(asset.apps.get(tile.app, {}), tile.key)
        if value is None:
            continue
        # a ratio above 100 % (more parts than the ideal cycle allows) is shown as computed, and marked
        implausible = tile.format == "percent" and isinstance(value, int | float) and value > 1 + 1e-9
        warn = t("above 100 %: this ratio cannot be right as computed") if implausible else ""
        figure = Figure(f"{tile.app}.{tile.key}", t(tile.label), tile_value(t, tile, value), warn)
        (badges if tile.format == "state" else figures).append(figure)
    if asset.production:
        for key, label, unit, digits in SIGNALS:
            figures.append(Figure(key, t(label), t.fmt.unit(_value(asset.signals.get(key)), unit, digits)))
        since = t(
            "{state} for {duration}",
            state=state_label(t, asset.state),
            duration=t.fmt.since(asset.since, now),
        )
    else:
        for key, signal in asset.signals.items():
            # a sensor's signals are named in the plant file; those werk knows are translated and carry their
            # catalogue unit (humidity %, temperature °C)
            figures.append(Figure(key, t(key), t.fmt.unit(_value(signal), describe(key).unit or "", 1)))
        since = t("recorded, not part of OEE")
    oee = asset.kpis.get("oee")
    return Card(
        name=asset.name,
        kind=asset.kind,
        state=asset.state,
        production=asset.production,
        badges=badges,
        figures=figures,
        oee=oee if isinstance(oee, int | float) else None,
        since=since,
    )


def summary(
    t: Translator, assets: Sequence[AssetLike], plant: Mapping[str, Any] | None = None
) -> list[Figure]:
    """The plant in six figures: machines running, machines down, good parts and scrap of the current shift, OEE,
    power. The OEE is the plant's aggregate from ``plant`` (the apps' :meth:`~werk.apps.spec.App.plant_view`:
    the same figure the OEE page shows) when it has one, else the unweighted mean of the machines' OEE, labelled
    so (a viewer of part of the plant, or no plant aggregate yet)."""
    units = [a for a in assets if a.production]
    running = sum(1 for a in units if a.state == "running")
    down = sum(1 for a in assets if a.state in DOWN)
    good = sum(a.kpis.get("gq") or 0 for a in assets)
    scrap = sum(a.kpis.get("sq") or 0 for a in assets)
    power = sum(v for a in assets if isinstance(v := _value(a.signals.get("power")), int | float))
    oees = [x for a in assets if isinstance(x := a.kpis.get("oee"), int | float)]
    # an OEE above 100 % cannot be right: it is left out of the mean, and the mean says so
    wrong = [x for x in oees if x > 1 + 1e-9]
    oees = [x for x in oees if x <= 1 + 1e-9]
    mean_warn = t("{n} OEE above 100 % left out", n=len(wrong)) if wrong else ""
    aggregate = lookup(plant or {}, "kpis.oee")
    if isinstance(aggregate, int | float):
        warn = t("above 100 %: this ratio cannot be right as computed") if aggregate > 1 + 1e-9 else ""
        oee = Figure("plant OEE", t("plant OEE"), t.fmt.percent(aggregate), warn)
    else:
        mean = sum(oees) / len(oees) if oees else None
        oee = Figure("mean OEE", t("mean OEE of machines"), t.fmt.percent(mean), mean_warn)
    return [
        Figure("running", t("running"), f"{t.fmt.integer(running)} / {t.fmt.integer(len(units))}"),
        Figure("down", t("down"), t.fmt.integer(down)),
        Figure("good parts", t("good parts"), t.fmt.integer(good)),
        Figure("scrap", t("scrap"), t.fmt.integer(scrap)),
        oee,
        Figure("power", t("power"), t.fmt.unit(power, "kW", 1)),
    ]


def live_context(
    t: Translator,
    assets: Sequence[AssetLike],
    tiles: Sequence[TileLike],
    now: datetime,
    plant: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``overview_live.html`` renders; ``plant``: the apps' view of the whole plant, for a reader who sees
    all of it (None otherwise)."""
    return {"summary": summary(t, assets, plant), "cards": [card(t, a, tiles, now) for a in assets]}
