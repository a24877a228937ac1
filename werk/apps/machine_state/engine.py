"""Machine state and live OEE from signals: pure logic, no I/O.

States follow the werk model (running, idle, setup, blocked, starved, fault, maintenance, disconnected). A source
that only speaks OPC UA for Machinery's MachineryItemState is mapped to the nearest werk state.

Live KPIs use ISO 22400-2 definitions over the window the tracker has observed (the shift calendar arrives with the
downtime app; until then the window is "since werk started watching"):
  PBT  planned busy time   = observed time while connected (disconnected time is unknown, so not counted)
  APT  actual production   = time in ``running``
  availability  = APT / PBT
  effectiveness = produced quantity x ideal cycle time / APT          (ISO 22400-2, "effectiveness")
  quality ratio = good quantity / produced quantity
  OEE           = availability x effectiveness x quality ratio
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WERK_STATES = ("running", "idle", "setup", "blocked", "starved", "fault", "maintenance", "disconnected")

MACHINERY_TO_WERK = {
    "Executing": "running",
    "NotExecuting": "idle",
    "OutOfService": "fault",
    "NotAvailable": "disconnected",
}


def normalise_state(raw: object) -> str:
    """A werk state name from whatever the source sends; unknown words become ``unknown`` (not guessed)."""
    text = str(raw).strip()
    low = text.lower()
    if low in WERK_STATES:
        return low
    if low == "producing":
        return "running"
    return MACHINERY_TO_WERK.get(text, "unknown")


@dataclass
class StateChange:
    asset: str
    ts: datetime
    previous: str
    state: str
    duration_s: float  # how long the previous state lasted


@dataclass
class Kpis:
    pbt_s: float
    apt_s: float
    produced: int
    good: int
    scrap: int
    availability: float | None
    effectiveness: float | None
    quality: float | None
    oee: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


@dataclass
class _Counter:
    """A machine counter seen as increments: a reset to a lower value (counter wrap, PLC restart) starts anew."""

    last: int | None = None
    total: int = 0

    def update(self, value: int) -> None:
        if self.last is not None:
            self.total += value - self.last if value >= self.last else value
        self.last = value


@dataclass
class MachineStateTracker:
    asset: str
    ideal_cycle_s: float | None
    window_start: datetime
    state: str = "disconnected"
    since: datetime | None = None
    time_in_state: dict[str, float] = field(default_factory=dict)
    good: _Counter = field(default_factory=_Counter)
    scrap: _Counter = field(default_factory=_Counter)
    _last_ts: datetime | None = None

    def __post_init__(self) -> None:
        self.since = self.window_start
        self._last_ts = self.window_start

    def _advance(self, ts: datetime) -> None:
        last = self._last_ts or ts
        if ts > last:
            self.time_in_state[self.state] = (
                self.time_in_state.get(self.state, 0.0) + (ts - last).total_seconds()
            )
            self._last_ts = ts

    def on_state(self, ts: datetime, raw: object, good_quality: bool = True) -> StateChange | None:
        """Feed a state reading; returns the change when the state changed. Bad quality means disconnected."""
        new = normalise_state(raw) if good_quality else "disconnected"
        self._advance(ts)
        if new == self.state:
            return None
        since = self.since or ts
        change = StateChange(self.asset, ts, self.state, new, max(0.0, (ts - since).total_seconds()))
        self.state, self.since = new, ts
        return change

    def on_count(self, signal: str, value: object) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        if signal == "good_count":
            self.good.update(int(value))
        elif signal == "scrap_count":
            self.scrap.update(int(value))

    def kpis(self, now: datetime) -> Kpis:
        self._advance(now)
        t = self.time_in_state
        pbt = sum(v for k, v in t.items() if k != "disconnected")
        apt = t.get("running", 0.0)
        good, scrap = self.good.total, self.scrap.total
        produced = good + scrap
        avail = _ratio(apt, pbt)
        eff = _ratio(produced * self.ideal_cycle_s, apt) if self.ideal_cycle_s else None
        qual = _ratio(good, produced)
        oee = avail * eff * qual if avail is not None and eff is not None and qual is not None else None
        return Kpis(pbt, apt, produced, good, scrap, avail, eff, qual, oee)
