"""Stops (downtime events) from an asset's state sequence, with reasons, micro-stops and "unqualified" stops.

A stop begins when an asset leaves ``running`` for a stop state and ends when it runs again; the states in between
(fault -> maintenance -> setup after a breakdown) belong to the one stop a plant manager talks about. A stop shorter
than ``micro_stop_s`` is a micro-stop (reason ``micro-stop``). A stop whose first state explains itself (setup,
starved, blocked, planned stop, maintenance) gets that as an automatic reason; the rest (faults, idle) wait for a
person, and once older than ``unqualified_after_s`` without a reason they are "unqualified" and listed to classify.
``disconnected`` is not a stop: werk cannot see what happened, and says so (unknown time in the KPIs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from werk.core.model import to_micros
from werk.core.states import STOP_STATES

AUTO_REASONS = {
    "setup": "changeover",
    "starved": "starved",
    "blocked": "blocked",
    "planned_stop": "planned-stop",
    "maintenance": "maintenance",
}
MICRO_STOP = "micro-stop"


@dataclass
class Classification:
    ts: datetime
    who: str
    reason: str
    previous: str | None
    comment: str = ""


@dataclass
class Stop:
    asset: str
    start: datetime
    first_state: str
    end: datetime | None = None
    states: list[str] = field(default_factory=list)
    reason: str | None = None
    reason_source: str = ""  # "auto" | "operator"
    planned: bool = False
    micro: bool = False
    history: list[Classification] = field(default_factory=list)

    @property
    def id(self) -> str:
        """Stable across restarts: the asset and the start instant identify a stop."""
        return f"{self.asset}@{to_micros(self.start)}"

    def duration_s(self, now: datetime) -> float:
        return ((self.end or now) - self.start).total_seconds()

    def status(self, now: datetime, unqualified_after_s: float) -> str:
        """``classified`` with a reason; without one ``open`` while it goes on and is younger than
        ``unqualified_after_s``, ``unqualified`` once it ended or grew older (it waits for a person)."""
        if self.reason is not None:
            return "classified"
        if self.end is not None or self.duration_s(now) >= unqualified_after_s:
            return "unqualified"
        return "open"


@dataclass
class StopTracker:
    asset: str
    micro_stop_s: float = 120.0
    planned_reasons: frozenset[str] = frozenset({"planned-stop"})
    current: Stop | None = None
    _state: str | None = None

    _seen_until: datetime | None = None

    def resume(self, stop: Stop) -> None:
        """Go on after the asset's last stop as the store has it: one still open goes on in the state it was last
        in; states up to its start or end are taken as seen already (a batch delivered again), not as new."""
        if stop.end is None:
            self.current = stop
            self._state = stop.states[-1] if stop.states else stop.first_state
        self._seen_until = stop.end or stop.start

    def on_state(self, ts: datetime, state: str) -> list[Stop]:
        """Feed the asset's state; return the stops that began, changed or ended."""
        if self._seen_until is not None:
            if ts <= self._seen_until:
                return []
            self._seen_until = None
        if state == self._state:
            return []
        self._state = state
        changed: list[Stop] = []
        cur = self.current
        if cur is not None and state not in STOP_STATES:
            cur.end = max(ts, cur.start)  # a source clock that stepped back cannot end a stop before it began
            if cur.duration_s(ts) < self.micro_stop_s:
                cur.micro = True
                if cur.reason is None:
                    cur.reason, cur.reason_source = MICRO_STOP, "auto"
            self.current = None
            changed.append(cur)
        elif cur is not None:
            cur.states.append(state)
            changed.append(cur)
        elif state in STOP_STATES:
            stop = Stop(self.asset, ts, state, states=[state])
            auto = AUTO_REASONS.get(state)
            if auto is not None:
                stop.reason, stop.reason_source = auto, "auto"
                stop.planned = auto in self.planned_reasons
            self.current = stop
            changed.append(stop)
        return changed


def classify(stop: Stop, reason: str, who: str, when: datetime, *, planned: bool, comment: str = "") -> None:
    """Give a stop a reason; the previous one is kept in its history with who changed it and when."""
    stop.history.append(Classification(when, who, reason, stop.reason, comment))
    stop.reason, stop.reason_source, stop.planned = reason, "operator", planned


def pareto(stops: list[Stop], now: datetime, unqualified_after_s: float) -> list[dict[str, object]]:
    """Downtime by reason, longest first; stops without a reason are grouped as "unqualified" (or "open")."""
    agg: dict[str, list[float]] = {}
    for s in stops:
        key = s.reason or s.status(now, unqualified_after_s)
        a = agg.setdefault(key, [0, 0.0])
        a[0] += 1
        a[1] += s.duration_s(now)
    rows = [{"reason": k, "count": int(v[0]), "duration_s": round(v[1], 3)} for k, v in agg.items()]
    rows.sort(key=lambda r: (-float(r["duration_s"]), str(r["reason"])))  # type: ignore[arg-type]
    return rows
