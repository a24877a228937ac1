"""When an alarm's process condition holds: the raw test of a sample against a definition, then deadband and
on/off-delays (ISA-18.2 clause 10 / EEMUA 191 appendix 9's filtering), pure and per alarm.

Times are float seconds since the epoch (the sample's source time), for speed: the evaluator sees every sample of
every watched signal. A :class:`Condition` answers ``feed`` (a sample) and ``tick`` (the clock: delays running out
with no new sample, a signal going stale) with a :data:`Change` when its filtered condition changes, stamped with
the instant it changed: a delay that ran out is stamped when it ran out, not when werk noticed.

- ``deadband``: a high alarm raised above ``limit`` clears only below ``limit - deadband`` (a low one above
  ``limit + deadband``; deviation and rate alike on their distance);
- ``on_delay_s``: the raw condition must hold that long before the alarm is raised; ``off_delay_s``: it must stay
  away that long before it clears; a raw flip back within the delay cancels it.

Samples a test cannot judge are skipped and counted (``skipped``): a BAD sample for every type but
``bad_quality`` (its value is no measurement), text where a number is needed.
"""

from __future__ import annotations

from werk.apps.alarms.expressions import parse
from werk.apps.alarms.settings import AlarmDefinition

#: (when, active, value): the filtered condition changed
Change = tuple[float, bool, object]


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _same(value: object, want: object) -> bool:
    """A discrete value against the alarm value: numbers (and booleans as 0/1) by value, anything else as text."""
    a, b = _number(value), _number(want)
    if a is not None and b is not None:
        return a == b
    return str(value) == str(want)


class Condition:
    """The filtered condition of one alarm definition."""

    __slots__ = (
        "active",
        "bit",
        "deadband",
        "expr",
        "inputs",
        "kind",
        "last_t",
        "last_v",
        "limit",
        "off_delay",
        "on_delay",
        "pending",
        "raw",
        "setpoint",
        "simple",
        "skipped",
        "timeout",
        "up",
        "want",
    )

    def __init__(self, d: AlarmDefinition) -> None:
        self.kind = d.type
        self.limit = d.limit if d.limit is not None else 0.0
        self.deadband = d.deadband
        self.on_delay = d.on_delay_s
        self.off_delay = d.off_delay_s
        self.setpoint: float | None = d.setpoint
        self.want: object = d.value
        self.bit = d.bit
        self.timeout = d.timeout_s or 0.0
        self.raw = False
        self.active = False
        self.pending: float | None = None  # when the raw condition started to differ from the filtered one
        self.last_t: float | None = None
        self.last_v: float | None = None
        self.skipped = 0
        self.expr = parse(d.expression) if d.expression is not None else None
        self.inputs: dict[str, object] = {}  # an expression's latest good value per signal
        # high and low limits on a float are most of what a plant has: feed tests them without the general path
        self.simple = self.kind in ("high", "high_high", "low", "low_low")
        self.up = self.kind in ("high", "high_high")

    # -- the raw test --------------------------------------------------------------------------------------------
    def _raw(self, t: float, value: object, good: bool) -> bool | None:
        kind = self.kind
        if kind == "bad_quality":
            return not good
        if kind == "stale":
            return False  # a sample arrived: not stale (the clock decides the rest)
        if kind == "condition":
            return value if good and isinstance(value, bool) else None
        if not good:
            return None
        if kind == "discrete":
            if self.bit is not None:
                if isinstance(value, bool) or not isinstance(value, int):
                    n = _number(value)
                    if n is None or not n.is_integer():
                        return None
                    value = int(n)
                return bool((int(value) >> self.bit) & 1)
            want = self.want
            if isinstance(want, list):
                return any(_same(value, w) for w in want)
            return _same(value, want)
        v = _number(value)
        if v is None:
            return None
        # hysteresis: once raised, the limit moves back by the deadband
        band = self.deadband if self.raw else 0.0
        if kind == "high" or kind == "high_high":
            return v > self.limit - band
        if kind == "low" or kind == "low_low":
            return v < self.limit + band
        if kind == "deviation":
            if self.setpoint is None:
                return None
            return abs(v - self.setpoint) > self.limit - band
        # rate: units per second between this sample and the one before
        prev_t, prev_v = self.last_t, self.last_v
        self.last_v = v
        if prev_t is None or prev_v is None or t <= prev_t:
            return self.raw if prev_t is not None else False
        return abs(v - prev_v) / (t - prev_t) > self.limit - band

    # -- the filter ----------------------------------------------------------------------------------------------
    def feed(self, t: float, value: object, good: bool) -> Change | None:
        if self.simple and good and type(value) is float:
            if self.up:
                raw = value > self.limit - (self.deadband if self.raw else 0.0)
            else:
                raw = value < self.limit + (self.deadband if self.raw else 0.0)
            self.raw = raw
            if raw == self.active and self.pending is None:
                return None
            return self._filter(t, value)
        judged = self._raw(t, value, good)
        self.last_t = t if self.last_t is None or t > self.last_t else self.last_t
        if judged is None:
            self.skipped += 1
            return None
        self.raw = judged
        return self._filter(t, value)

    def _filter(self, t: float, value: object) -> Change | None:
        if self.raw == self.active:
            self.pending = None  # a flip back within the delay cancels it
            return None
        if self.pending is None:
            self.pending = t
        delay = self.on_delay if self.raw else self.off_delay
        if t - self.pending >= delay:
            at = self.pending + delay
            self.active, self.pending = self.raw, None
            return (at, self.active, value)
        return None

    def feed_from(self, name: str, t: float, value: object, good: bool) -> Change | None:
        """An expression's input ``name`` changed: evaluate once every input has a good value (a BAD one makes
        it unknown until it is good again)."""
        if not good:
            self.inputs.pop(name, None)
            self.skipped += 1
            return None
        self.inputs[name] = value
        expr = self.expr
        assert expr is not None
        if len(self.inputs) < len(expr.signals):
            return None
        try:
            self.raw = bool(expr(self.inputs))
        except (TypeError, ValueError, ArithmeticError):  # text compared with a number, a division by zero
            self.skipped += 1
            return None
        return self._filter(t, value)

    def due(self) -> float | None:
        """When the clock alone may change this condition (a running delay's end, a stale timeout), or None."""
        if self.pending is not None:
            return self.pending + (self.on_delay if self.raw else self.off_delay)
        if self.kind == "stale" and not self.active and self.last_t is not None:
            return self.last_t + self.timeout
        return None

    def tick(self, now: float) -> Change | None:
        """The clock reached ``now`` with no new sample."""
        if (
            self.kind == "stale"
            and self.last_t is not None
            and not self.raw
            and now - self.last_t > self.timeout
        ):
            self.raw = True
            self.pending = self.last_t + self.timeout
        if self.pending is None:
            return None
        return self._filter(now, None)

    def set_setpoint(self, value: object, good: bool) -> None:
        """``deviation`` with a setpoint signal: its new value (a BAD or non-number one leaves the old)."""
        v = _number(value)
        if good and v is not None:
            self.setpoint = v
