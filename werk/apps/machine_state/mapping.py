"""From a source's own state words (or raw signals) to werk's states. Pure: samples in, state out.

Tables cite their standards so a reader can check them:
  OPC 40001-1 (Machinery) MachineryItemState, with MachineryOperationMode to tell setup and maintenance apart;
  ISA-TR88.00.02 (PackML) states: Held is an internal stop (a fault), Suspended an external one (starved);
  MTConnect Part 3 Execution: STOPPED is "stopped by a fault or action", WAIT is waiting for something outside.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werk.apps.machine_state.settings import StateMappingConfig, StateRule
from werk.core.model import Value
from werk.core.states import WERK_STATES

MACHINERY = {
    "Executing": "running",
    "NotExecuting": "idle",
    "OutOfService": "fault",
    "NotAvailable": "disconnected",
}
MACHINERY_MODE = {"Setup": "setup", "Maintenance": "maintenance"}
PACKML = {
    "execute": "running",
    "idle": "idle",
    "starting": "setup",
    "resetting": "setup",
    "completing": "idle",
    "complete": "idle",
    "stopping": "idle",
    "stopped": "idle",
    "held": "fault",
    "holding": "fault",
    "unholding": "fault",
    "suspended": "starved",
    "suspending": "starved",
    "unsuspending": "starved",
    "aborting": "fault",
    "aborted": "fault",
    "clearing": "fault",
}
MTCONNECT = {
    "ACTIVE": "running",
    "READY": "idle",
    "INTERRUPTED": "idle",
    "FEED_HOLD": "idle",
    "OPTIONAL_STOP": "idle",
    "PROGRAM_STOPPED": "idle",
    "PROGRAM_COMPLETED": "idle",
    "STOPPED": "fault",
    "WAIT": "starved",
    "UNAVAILABLE": "disconnected",
}
DEFAULT_SIGNAL = {
    "werk": "state",
    "machinery": "item_state",
    "packml": "packml_state",
    "mtconnect": "execution",
}

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


UNKNOWN = "unknown"


def werk_state(word: object) -> str:
    """A werk state word (any case), or ``unknown``. Only text names a state: ``3`` or ``true`` do not."""
    if not isinstance(word, str):
        return UNKNOWN
    w = word.strip().lower()
    if w in WERK_STATES:
        return w
    return {"producing": "running", "unplanned_stop": "fault"}.get(w, UNKNOWN)


@dataclass
class Unmapped:
    """A value of a state signal the mapping has no state for, as the source sent it, and how often it came."""

    signal: str
    value: Value
    count: int
    first_seen: datetime
    last_seen: datetime


class StateMapper:
    """Feed samples of an asset's signals; ``state`` is its werk state. ``disconnected`` while quality is bad."""

    def __init__(self, config: StateMappingConfig | None) -> None:
        self.config = config or StateMappingConfig()
        src = self.config.source
        self.signal = self.config.signal or DEFAULT_SIGNAL.get(src, "")
        self.state = "disconnected"
        self._raw: Value | None = None
        self._mode: str | None = None
        self._values: dict[str, Value] = {}
        self._true_since: dict[int, datetime | None] = {}
        self._bad: set[str] = set()
        self.unmapped: dict[tuple[str, str, str], Unmapped] = {}
        """Values the mapping did not know, by (signal, type, text): each sample that carried one counts."""

    @property
    def signals(self) -> set[str]:
        """The signals this mapping reads."""
        if self.config.source == "rules":
            return {r.signal for r in self.config.rules}
        extra = {"operation_mode"} if self.config.source == "machinery" else set()
        return {self.signal, *extra}

    def feed(self, ts: datetime, signal: str, value: Value, good: bool = True) -> str | None:
        """Apply one sample; return the new state if it changed."""
        previous = self.state
        new = self.derive(ts, signal, value, good)
        return new if new is not None and new != previous else None

    def derive(self, ts: datetime, signal: str, value: Value, good: bool = True) -> str | None:
        """Apply one sample; return the state it leaves the asset in (None for a signal this mapping does not
        read). A value the mapping has no state for gives ``unknown`` and is counted in :attr:`unmapped`."""
        if signal not in self.signals:
            return None
        if good:
            self._bad.discard(signal)
        else:
            self._bad.add(signal)
        if signal == "operation_mode":
            self._mode = str(value)
        elif self.config.source == "rules":
            self._values[signal] = value
        else:
            self._raw = value
        self._update(ts)
        if good and self._unknown_word(signal, value):
            key = (signal, type(value).__name__, str(value))
            seen = self.unmapped.get(key)
            if seen is None:
                self.unmapped[key] = Unmapped(signal, value, 1, ts, ts)
            else:
                seen.count += 1
                seen.last_seen = max(seen.last_seen, ts)
        return self.state

    def _unknown_word(self, signal: str, value: Value) -> bool:
        """Whether a sample's value is one the mapping's table has no state for (rules have no table)."""
        src = self.config.source
        if src == "rules" or signal == "operation_mode":
            return False
        if src == "werk":
            return werk_state(value) == UNKNOWN
        if src == "machinery":
            return str(value) not in MACHINERY
        if src == "packml":
            return not isinstance(value, str) or value.strip().lower() not in PACKML
        return not isinstance(value, str) or value.strip().upper() not in MTCONNECT

    def tick(self, now: datetime) -> str | None:
        """Re-evaluate time conditions ("for 30 s") when no sample arrives."""
        return self._update(now) if self.config.source == "rules" else None

    def _update(self, ts: datetime) -> str | None:
        new = "disconnected" if self._bad else self._derive(ts)
        if new == self.state:
            return None
        self.state = new
        return new

    def _derive(self, ts: datetime) -> str:
        src = self.config.source
        if src == "rules":
            return self._rules(ts)
        if self._raw is None:
            return "disconnected"
        if src == "werk":
            return werk_state(self._raw)
        if src == "machinery":
            base = MACHINERY.get(str(self._raw), UNKNOWN)
            mode = MACHINERY_MODE.get(self._mode or "")
            if mode == "setup" and base == "idle":
                return "setup"
            if mode == "maintenance" and base in ("idle", "fault"):
                return "maintenance"
            return base
        if src == "packml":
            return PACKML.get(self._raw.strip().lower(), UNKNOWN) if isinstance(self._raw, str) else UNKNOWN
        return MTCONNECT.get(self._raw.strip().upper(), UNKNOWN) if isinstance(self._raw, str) else UNKNOWN

    def _rules(self, ts: datetime) -> str:
        for i, rule in enumerate(self.config.rules):
            if self._holds(rule):
                since = self._true_since.get(i) or ts
                self._true_since[i] = since
                if (ts - since).total_seconds() >= rule.for_s:
                    return rule.state
            else:
                self._true_since[i] = None
        # no rule has held long enough: keep the current state while a rule is pending, else the default
        if (
            any(self._true_since.get(i) for i in range(len(self.config.rules)))
            and self.state != "disconnected"
        ):
            return self.state
        return self.config.default

    def _holds(self, rule: StateRule) -> bool:
        v = self._values.get(rule.signal)
        if v is None:
            return False
        try:
            return bool(_OPS[rule.op](v, rule.value))
        except TypeError:  # comparing text with a number: the rule does not hold
            return False
