"""The energy app's settings: ``apps.energy`` (meters per asset, tariffs with time-of-use bands, emission factors
per carrier and period, the 15-minute peak limit, targets in kWh per part)."""

from __future__ import annotations

from datetime import date, time
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from werk.config.model import WEEKDAY_NAMES, AppSettings, StrictModel, Weekday, WerkConfig

WEEKDAYS: tuple[Weekday, ...] = WEEKDAY_NAMES


def _clock(v: object) -> time:
    if isinstance(v, time):
        return v
    if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 06:00 as 360 (minutes)
        return time(v // 60, v % 60) if 0 <= v < 24 * 60 else time(0)
    text = str(v).strip()
    if text == "24:00":
        return time(0)
    try:
        h, m, *sec = text.split(":")  # "06:00", or "06:00:00" as a dumped plant file writes it
        if sec not in ([], ["00"]):
            raise ValueError(text)
        return time(int(h), int(m))
    except ValueError:
        raise ValueError(f"a local time like '06:00' expected, got {v!r}") from None


class MeterConfig(StrictModel):
    """One energy meter of an asset: which of its signals, what it counts, and what it cannot do."""

    signal: str = "energy"
    """The asset's signal the meter reports: a cumulative counter (``kind: counter``) or power (``kind: power``)."""
    kind: Literal["counter", "power", "derived"] = "counter"
    """``counter``: a cumulative register (kWh, m3); ``power``: instantaneous power in kW, integrated over time;
    ``derived``: power from the asset's ``voltage``, ``current`` and ``power_factor`` signals (P = √3·V·I·cos φ for
    three phases), integrated over time."""
    voltage: str = "voltage"
    """``derived``: the signal of the line voltage, V."""
    current: str = "current"
    """``derived``: the signal of the current, A."""
    power_factor: str = "power_factor"
    """``derived``: the signal of cos φ."""
    phases: Literal[1, 3] = 3
    """``derived``: one phase (P = V·I·cos φ) or three (P = √3·V·I·cos φ)."""
    unit: str = "kWh"
    """The counter's unit (``kWh``, ``m3``): costs and emission factors are per this unit."""
    carrier: str = "electricity"
    """The energy carrier (``electricity``, ``gas``, ``compressed_air``, ``water``): picks the emission factor and
    whether the meter counts into the electrical peak."""
    modulus: float | None = Field(default=None, gt=0)
    """Where the counter rolls over to 0 (``100000`` for a five-digit register); none: it never does."""
    rated_kw: float | None = Field(default=None, gt=0)
    """The most the metered load can draw (its unit per hour): a step larger than this allows is held back as a
    glitch, and tells a rollover from a reset. None: no such check."""
    resolution: float = Field(default=0.001, ge=0)
    """Decreases up to this are the meter's rounding and ignored."""
    max_gap_s: float = Field(default=300.0, gt=0)
    """Power meters: readings further apart than this are not bridged (the time is unmeasured)."""


class Band(StrictModel):
    """A time-of-use band: its price per unit on ``days`` from ``start`` to ``end`` (local time; an end at or
    before the start runs past midnight)."""

    name: str = Field(min_length=1)
    """The band's name (``peak``, ``shoulder``, ``night``...)."""
    price: float = Field(ge=0)
    """Price per kWh (or per the meter's unit) in the tariff's currency."""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    """The days it applies: ``mon`` ... ``sun``."""
    start: time = time(0)
    """Local time it begins (``"08:00"``)."""
    end: time = time(0)
    """Local time it ends (``"20:00"``); ``"00:00"`` or ``"24:00"``: midnight."""

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, v: object) -> time:
        return _clock(v)

    def covers(self, weekday: int, minute: int) -> bool:
        """Whether the band applies on that weekday (0 = Monday) at that minute of the local day."""
        a = self.start.hour * 60 + self.start.minute
        b = self.end.hour * 60 + self.end.minute
        if a < b:
            return WEEKDAYS[weekday] in self.days and a <= minute < b
        # past midnight (or all day when a == b): the part after midnight belongs to the day it started on
        if minute >= a:
            return WEEKDAYS[weekday] in self.days
        return minute < b and WEEKDAYS[(weekday - 1) % 7] in self.days


class Tariff(StrictModel):
    """A tariff valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive), local dates. The first band
    that covers an instant gives its price, else ``base_price``."""

    name: str = Field(min_length=1)
    """The tariff's name, as reports show it."""
    carrier: str = "electricity"
    """The energy carrier it prices."""
    currency: str = "EUR"
    """ISO 4217 code of its prices."""
    valid_from: date = date(2000, 1, 1)
    """First local day it applies."""
    valid_to: date | None = None
    """First local day it no longer applies; none: open."""
    base_price: float = Field(default=0.0, ge=0)
    """Price per unit outside every band."""
    bands: list[Band] = Field(default_factory=list)
    """Time-of-use bands, first match wins."""
    demand_price_per_kw: float = Field(default=0.0, ge=0)
    """Price per kW of the month's highest 15-minute mean power (the demand charge), per month."""

    @model_validator(mode="after")
    def _order(self) -> Tariff:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class EmissionFactor(StrictModel):
    """kg CO2e per unit of a carrier from ``valid_from`` (local date) until the next factor of that carrier."""

    valid_from: date = date(2000, 1, 1)
    """First local day it applies."""
    kg_per_unit: float = Field(ge=0)
    """kg CO2e per kWh (or per the carrier's unit)."""


class EnergySettings(AppSettings):
    """Energy: meters per asset (default: every asset binding an ``energy`` signal has a kWh counter), tariffs,
    emission factors, the 15-minute peak limit, kWh-per-part targets."""

    meters: dict[str, MeterConfig] = Field(default_factory=dict)
    """Asset name -> its meter; assets not named here that bind ``energy`` get a default kWh counter."""
    overload: float = Field(default=1.5, ge=1)
    """How far above its rated power a load may briefly draw before a step counts as a glitch."""
    slack_s: float = Field(default=5.0, ge=0)
    """Timing jitter allowed between a meter's reading and its stamp (a polled meter is stamped at poll time)."""
    tariffs: list[Tariff] = Field(default_factory=list)
    """Tariffs with their validity; the first valid one for the meter's carrier prices a 15-minute interval."""
    emission_factors: dict[str, list[EmissionFactor]] = Field(default_factory=dict)
    """Carrier -> factors by period; electricity without one uses ``plant.grid_co2_kg_per_kwh``."""
    peak_limit_kw: float | None = Field(default=None, gt=0)
    """The site's contracted 15-minute peak: a warning when the current window is heading over it."""
    targets_kwh_per_part: dict[str, float] = Field(default_factory=dict)
    """Asset name -> target kWh per good part (EnPI), shown against the actual figure."""
    part_signal: str = "good_count"
    """The counter of good parts energy is divided by."""
    interval_s: float = Field(default=5.0, gt=0)
    """How often the live view (current window, today's figures) is recomputed."""

    @property
    def currency(self) -> str | None:
        """The ISO 4217 code costs are in: the tariffs' one; None without tariffs or when they mix currencies."""
        codes = {t.currency for t in self.tariffs}
        return codes.pop() if len(codes) == 1 else None

    @field_validator("emission_factors")
    @classmethod
    def _sorted(cls, v: dict[str, list[EmissionFactor]]) -> dict[str, list[EmissionFactor]]:
        return {k: sorted(fs, key=lambda f: f.valid_from) for k, fs in v.items()}


def check(config: WerkConfig, settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Meters and targets that name an asset the plant lacks, or a signal the asset does not bind."""
    assert isinstance(settings, EnergySettings)
    refs = {r.name: r for r in config.assets()}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, meter in settings.meters.items():
        where: tuple[str | int, ...] = ("apps", "energy", "meters", name)
        if name not in refs:
            problems.append((where, f"no asset named {name!r} in the plant"))
        else:
            bound = refs[name].config.bound_signals()
            needed = (
                {"voltage": meter.voltage, "current": meter.current, "power_factor": meter.power_factor}
                if meter.kind == "derived"
                else {"signal": meter.signal}
            )
            problems += [
                ((*where, key), f"asset {name!r} binds no signal {sig!r}")
                for key, sig in needed.items()
                if sig not in bound
            ]
    problems += [
        (("apps", "energy", "targets_kwh_per_part", a), f"no asset named {a!r} in the plant")
        for a in settings.targets_kwh_per_part
        if a not in refs
    ]
    return problems
