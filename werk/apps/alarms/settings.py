"""The alarm app's settings: ``apps.alarms`` of the plant file.

Alarms are the rationalisation record ISA-18.2 (IEC 62682) asks for, one per alarm: what is watched (a signal of an
asset and a condition on it), how urgent it is (``priority``), how it is filtered (``deadband``, ``on_delay_s``,
``off_delay_s``), what it means (``message``, ``consequence``) and what the operator does (``response``).

They are declared once per asset kind under ``templates`` (every asset whose ``kind`` matches gets them) and per
asset under ``assets`` (an alarm of the same name there replaces the template's; ``null`` removes it), so fifty
machines of one kind need one list::

    apps:
      alarms:
        templates:
          machining centre:
            temperature-high: {signal: temperature, type: high, limit: 70, deadband: 2, on_delay_s: 5,
                               priority: medium, message: Spindle temperature high, response: Reduce feed}
        assets:
          cnc-2:
            temperature-high: {signal: temperature, type: high, limit: 75, priority: medium}
            vibration-rate: null

An alarm's id is ``<asset>:<name>``; its area the asset's area of the ISA-95 tree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from werk.apps.alarms.expressions import parse
from werk.config.model import AppSettings, AssetRef, SignalName, StrictModel, WerkConfig
from werk.core.states import WerkState

AlarmType = Literal[
    "high",
    "high_high",
    "low",
    "low_low",
    "deviation",
    "rate",
    "discrete",
    "stale",
    "bad_quality",
    "condition",
    "expression",
]
Priority = Literal["low", "medium", "high"]
#: most urgent first; the live list sorts by this, then by time
PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")
PRIORITY_RANK: dict[str, int] = {p: i for i, p in enumerate(PRIORITIES)}

DEFAULT_SUPPRESS: tuple[WerkState, ...] = ("setup", "maintenance")
_LIMIT_TYPES = frozenset({"high", "high_high", "low", "low_low", "deviation", "rate"})


class AlarmDefinition(StrictModel):
    """One alarm on one signal of an asset (or of every asset of a kind, in a template)."""

    signal: SignalName | None = None
    """The signal it watches, by its name on the asset (``temperature``, ``machine_state``); not with
    ``expression``."""
    type: AlarmType
    """``high``/``high_high``: value above ``limit``; ``low``/``low_low``: below it; ``deviation``: more than
    ``limit`` away from ``setpoint`` or ``setpoint_signal``; ``rate``: changing faster than ``limit`` units per
    second (either way); ``discrete``: the value equals ``value`` (a state word, true) or has ``bit`` set;
    ``stale``: no sample for ``timeout_s``; ``bad_quality``: the source marks the value BAD; ``condition``: the
    source's own alarm (an OPC UA condition, an MTConnect condition): the signal says whether it is active and
    ``<signal>.acked`` whether the source has it acknowledged; an acknowledge in werk goes back to the source."""
    limit: float | None = None
    """The alarm limit in the signal's unit (units per second for ``rate``); required by the limit types."""
    expression: str | None = None
    """``expression``: a condition over several of the asset's signals, ``temperature > 70 and load < 10``
    (comparisons, ``and``/``or``/``not``, ``+ - * /``, ``abs``/``min``/``max``; see ``apps/alarms/expressions.py``)."""
    setpoint: float | None = None
    """``deviation``: the fixed value it deviates from."""
    setpoint_signal: SignalName | None = None
    """``deviation``: the asset's signal holding the setpoint, instead of a fixed one."""
    value: float | bool | str | list[float | bool | str] | None = None
    """``discrete``: the value that is the alarm (``fault``, true), or a list of them (any one is the alarm): an
    MTConnect CONDITION's level maps as ``value: FAULT`` (one alarm, high priority) and ``value: WARNING`` (another,
    lower), or ``value: [WARNING, FAULT]``."""
    bit: int | None = Field(default=None, ge=0, le=63)
    """``discrete``: the bit of an integer status word that is the alarm (0 the lowest)."""
    timeout_s: float | None = Field(default=None, gt=0)
    """``stale``: seconds without a sample after which the signal is stale."""
    priority: Priority = "medium"
    """``low``, ``medium`` or ``high`` (EEMUA 191 aims at about 80 / 15 / 5 % of alarms)."""
    deadband: float = Field(default=0.0, ge=0)
    """How far back past the limit the value must go to clear (signal units): stops chattering around it."""
    on_delay_s: float = Field(default=0.0, ge=0)
    """Seconds the condition must hold before the alarm is raised."""
    off_delay_s: float = Field(default=0.0, ge=0)
    """Seconds the condition must stay away before the alarm clears."""
    latched: bool = False
    """A latching alarm stays (``latched``) after the condition clears until an operator resets it."""
    message: str = ""
    """What the operator reads (default: the alarm's name)."""
    consequence: str = ""
    """What happens if nobody acts (the rationalisation record)."""
    response: str = ""
    """What the operator should do."""
    translations: dict[Literal["en", "de", "zh"], str] = Field(default_factory=dict)
    """The message in other languages, by language code."""
    suppress_in: list[WerkState] | None = None
    """Machine states in which it is suppressed by design; default ``apps.alarms.suppress_in``."""

    @model_validator(mode="after")
    def _complete(self) -> AlarmDefinition:
        t = self.type
        if t == "expression":
            if self.expression is None or self.signal is not None:
                raise ValueError(
                    "an expression alarm needs expression (and no signal: the expression names them)"
                )
            parse(self.expression)  # ExpressionError is a ValueError: refused with its key path and line
        elif self.signal is None:
            raise ValueError(f"a {t} alarm needs signal")
        if t in _LIMIT_TYPES and self.limit is None:
            raise ValueError(f"a {t} alarm needs a limit")
        if self.limit is not None and not math.isfinite(self.limit):
            raise ValueError("limit must be a finite number")
        if t in ("deviation", "rate") and self.limit is not None and self.limit <= 0:
            raise ValueError(f"a {t} alarm's limit is a distance and must be above 0")
        if t == "deviation" and (self.setpoint is None) == (self.setpoint_signal is None):
            raise ValueError("a deviation alarm needs exactly one of setpoint and setpoint_signal")
        if t == "discrete" and (self.value is None) == (self.bit is None):
            raise ValueError("a discrete alarm needs exactly one of value and bit")
        if t == "stale" and self.timeout_s is None:
            raise ValueError("a stale alarm needs timeout_s")
        return self


class ChatterRule(StrictModel):
    """An alarm is chattering when it is raised ``count`` times or more within ``window_s`` seconds."""

    count: int = Field(default=3, ge=2)
    window_s: float = Field(default=60.0, gt=0)


class KpiSettings(StrictModel):
    """How the alarm KPI report counts (EEMUA 191 / ISA-18.2 figures)."""

    flood_per_10min: int = Field(default=10, ge=1)
    """More alarms than this in a 10-minute period is a flood (ISA-18.2: 10)."""
    chatter: ChatterRule = Field(default_factory=ChatterRule)
    """The chattering rule."""
    stale_after_s: float = Field(default=24 * 3600.0, gt=0)
    """An alarm active longer than this is stale (ISA-18.2: 24 h)."""
    positions: dict[str, list[str]] = Field(default_factory=dict)
    """Operator position -> the areas it watches; empty: one position for the whole plant."""


class SmtpSettings(StrictModel):
    """The mail server alarm e-mails go through."""

    host: str = "127.0.0.1"
    """Its host name or address."""
    port: int = Field(default=25, ge=1, le=65535)
    """Its port (25, 587 with STARTTLS, 465 with TLS)."""
    sender: str = "werk@localhost"
    """The From address."""
    tls: Literal["none", "starttls", "tls"] = "none"
    """``starttls`` upgrades a plain connection (port 587), ``tls`` connects with TLS (port 465)."""
    username: str = ""
    """Who to log in as; empty: no login."""
    password_env: str = ""
    """The environment variable holding the password (never the password in the plant file)."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Seconds to wait for the server."""


class Escalation(StrictModel):
    """Who is told next when an alarm is still not acknowledged ``after_s`` seconds after it was raised."""

    after_s: float = Field(gt=0)
    """Seconds after the alarm was raised."""
    email: list[str] = Field(default_factory=list)
    """Addresses to mail."""
    webhook: list[str] = Field(default_factory=list)
    """URLs to POST the alarm to (JSON)."""


class NotificationRule(StrictModel):
    """Who is told of which alarms, when: by priority, area and shift (the plant's ``shifts``)."""

    name: str = Field(min_length=1)
    """The rule's name, in the delivery log."""
    priorities: list[Priority] = Field(default_factory=list)
    """Priorities it applies to; empty: all."""
    areas: list[str] = Field(default_factory=list)
    """Areas it applies to; empty: all."""
    shifts: list[str] = Field(default_factory=list)
    """Plant shifts during which it applies (by name); empty: always."""
    email: list[str] = Field(default_factory=list)
    """Addresses to mail."""
    webhook: list[str] = Field(default_factory=list)
    """URLs to POST the alarm to (JSON)."""
    delay_s: float = Field(default=0.0, ge=0)
    """Tell only when the alarm is still unacknowledged this many seconds after it was raised."""
    escalate: list[Escalation] = Field(default_factory=list)
    """Who is told next, and after how long, while nobody acknowledges it."""


class NotificationSettings(StrictModel):
    """E-mail and webhook notifications of alarms, with retries and a delivery log."""

    smtp: SmtpSettings | None = None
    """The mail server; required when a rule mails."""
    rules: list[NotificationRule] = Field(default_factory=list)
    """The rules, each applied on its own."""
    retries: int = Field(default=3, ge=0, le=20)
    """Further attempts after a failed delivery."""
    retry_delay_s: float = Field(default=2.0, ge=0)
    """Seconds before the first retry; doubled for each next one."""


class AlarmsSettings(AppSettings):
    """Alarm definitions by asset kind and by asset, the states that suppress them, shelving and KPI rules."""

    templates: dict[str, dict[str, AlarmDefinition]] = Field(default_factory=dict)
    """Asset kind (an asset's ``kind``) -> alarm name -> definition: every asset of that kind gets them."""
    assets: dict[str, dict[str, AlarmDefinition | None]] = Field(default_factory=dict)
    """Asset name -> alarm name -> definition (replacing the template's of that name) or null (removing it)."""
    suppress_in: list[WerkState] = Field(default_factory=lambda: list(DEFAULT_SUPPRESS))
    """Machine states in which an asset's alarms are suppressed by design (ISA-18.2 designed suppression)."""
    max_shelve_s: float = Field(default=8 * 3600.0, gt=0)
    """The longest an alarm may be shelved for (a timed shelve beyond it is refused)."""
    journal_days: int = Field(default=365, ge=1)
    """Days the alarm journal is kept."""
    kpi: KpiSettings = Field(default_factory=KpiSettings)
    """KPI report settings."""
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    """Who is told of alarms, by e-mail and webhook."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """A definition bound to one asset: what the engine evaluates and the pages show."""

    id: str  # <asset>:<name>
    name: str
    asset: str
    asset_path: str
    area: str
    path: str  # the watched signal's UNS path
    setpoint_path: str | None
    suppress_in: frozenset[str]
    d: AlarmDefinition
    inputs: tuple[tuple[str, str], ...] = ()  # an expression's signals: (name, UNS path)

    @property
    def priority(self) -> str:
        return self.d.priority

    def message(self, lang: str = "en") -> str:
        return self.d.translations.get(lang, "") or self.d.message or self.name  # type: ignore[call-overload]


def area_of(ref: AssetRef) -> str:
    """The asset's area name (ISA-95), the unit alarm filters and operator positions use."""
    return ref.path.split("/")[2]


def expand(config: WerkConfig, settings: AlarmsSettings) -> list[Alarm]:
    """Every alarm of the plant: each asset's template alarms (by its kind) overlaid with its own."""
    out: list[Alarm] = []
    for ref in config.assets():
        defs: dict[str, AlarmDefinition | None] = dict(settings.templates.get(ref.config.kind, {}))
        defs.update(settings.assets.get(ref.name, {}))
        for name, d in defs.items():
            if d is None:
                continue
            suppress = d.suppress_in if d.suppress_in is not None else settings.suppress_in
            inputs: tuple[tuple[str, str], ...] = ()
            if d.expression is not None:
                inputs = tuple((n, ref.signal_path(n)) for n in sorted(parse(d.expression).signals))
            out.append(
                Alarm(
                    id=f"{ref.name}:{name}",
                    name=name,
                    asset=ref.name,
                    asset_path=ref.path,
                    area=area_of(ref),
                    path=ref.signal_path(d.signal) if d.signal else inputs[0][1],
                    setpoint_path=ref.signal_path(d.setpoint_signal) if d.setpoint_signal else None,
                    suppress_in=frozenset(suppress),
                    d=d,
                    inputs=inputs,
                )
            )
    return out


def check(config: WerkConfig, settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Templates for a kind no asset has, alarms for an asset the plant lacks, unknown operator areas."""
    assert isinstance(settings, AlarmsSettings)
    refs = list(config.assets())
    kinds = {r.config.kind for r in refs}
    names = {r.name for r in refs}
    areas = {area_of(r) for r in refs}
    where = ("apps", "alarms")
    problems: list[tuple[tuple[str | int, ...], str]] = [
        (
            (*where, "templates", k),
            f"no asset is of kind {k!r} (kinds in the plant: {', '.join(sorted(kinds))})",
        )
        for k in settings.templates
        if k not in kinds
    ]
    problems += [
        ((*where, "assets", a), f"no asset named {a!r} in the plant")
        for a in settings.assets
        if a not in names
    ]
    problems += [
        ((*where, "kpi", "positions", p, i), f"no area named {a!r} in the plant")
        for p, listed in settings.kpi.positions.items()
        for i, a in enumerate(listed)
        if a not in areas
    ]
    shifts = {s.name for s in config.plant.shifts}
    for i, rule in enumerate(settings.notifications.rules):
        at = (*where, "notifications", "rules", i)
        problems += [
            ((*at, "shifts"), f"no shift named {s!r} in plant.shifts") for s in rule.shifts if s not in shifts
        ]
        problems += [
            ((*at, "areas"), f"no area named {a!r} in the plant") for a in rule.areas if a not in areas
        ]
        mails = rule.email or any(e.email for e in rule.escalate)
        if mails and settings.notifications.smtp is None:
            problems.append((at, "the rule sends e-mail but apps.alarms.notifications.smtp is not set"))
    return problems
