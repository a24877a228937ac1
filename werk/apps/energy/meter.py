"""Meter arithmetic: from what meters report to energy booked over time. Pure functions, no I/O.

A cumulative counter (kWh, m3 of air, water or gas) is turned into a *booked cumulative* series: one point per
accepted reading, ``cum`` non-decreasing and starting at 0. Consumption over any span is the difference of that
series interpolated by time at the span's edges (:func:`energy_between`), so bucket totals always add up to the
total, and the total is the counter's end minus its start through:

- **out-of-order and late batches**: readings are sorted by time before anything else; the result depends on the
  set of readings, never on the order they came in (the historian keeps them keyed by signal and time, so a late
  batch is simply part of the set at the next computation);
- **rollover** at ``modulus`` (a counter that wraps from 99 999.9 to 0): a decrease that, wrapped, is a step the
  meter's power allows is booked as the wrapped step;
- **resets and meter exchanges**, recorded as :class:`MeterEvent` by a person or a connector, never guessed: the
  old counter's last reading closes the old meter and the new counter's first reading opens the new one;
- **glitches**: a step larger than ``max_kw`` allows over its interval (plus ``slack_s`` of timing jitter, since
  a polled meter is stamped when it was polled, not when it was read) is held back, not booked, and listed as an
  :class:`Anomaly`. When ``confirm`` readings in a row agree with each other but not with the last accepted one,
  the counter really moved to a new level (an exchange nobody recorded): the step is held back as a ``jump`` or
  ``drop`` and booking goes on from the new level; recording the exchange as an event books it properly.

Power-only signals (kW) are integrated by the trapezoidal rule (:func:`integrate_power`); gaps longer than
``max_gap_s`` are not bridged. Both give the same :class:`Booked` series, so everything downstream (buckets,
peaks, costs) treats counters and power meters alike.

Times are float seconds since the epoch (UTC); energy is in the meter's unit (kWh for electricity).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

EventKind = Literal["reset", "exchange"]
AnomalyKind = Literal["glitch", "jump", "drop", "pending", "unmeasured", "gap"]


@dataclass(frozen=True)
class MeterEvent:
    """A reset or an exchange of a meter at ``ts``: the old counter read ``old_final`` last (None when nobody
    knows: the consumption since the reading before is then unmeasured and listed), the new one starts at
    ``new_start``. Readings stamped before ``ts`` belong to the old counter, readings at or after it to the new."""

    ts: float
    kind: EventKind = "exchange"
    old_final: float | None = None
    new_start: float = 0.0


@dataclass(frozen=True)
class Anomaly:
    """Something held back and not booked: ``amount`` is the step in the meter's unit (None where no step can be
    told, a glitch's value being garbage), between ``start`` and ``end``."""

    kind: AnomalyKind
    start: float
    end: float
    value: float | None = None
    amount: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Booked:
    """Energy booked over time: at ``ts[i]`` the meter has booked ``cum[i]`` since ``ts[0]`` (``cum[0] == 0``).
    ``held`` are spans in which nothing was booked for a reason (a jump held back, an unmeasured exchange, a gap
    in a power signal): their buckets lack coverage."""

    ts: FloatArray
    cum: FloatArray
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(self.cum[-1]) if len(self.cum) else 0.0

    @property
    def held(self) -> list[tuple[float, float]]:
        return [(a.start, a.end) for a in self.anomalies if a.kind in ("jump", "drop", "unmeasured", "gap")]

    @property
    def held_back(self) -> float:
        """The sum of the steps held back as jumps (positive) and pending readings: what a person should look
        at, in the meter's unit."""
        return math.fsum(a.amount for a in self.anomalies if a.amount is not None and a.amount > 0)


def _empty() -> Booked:
    return Booked(np.zeros(0), np.zeros(0), [])


def book_counter(
    readings: Iterable[tuple[float, float]] | tuple[FloatArray, FloatArray],
    *,
    modulus: float | None = None,
    events: Sequence[MeterEvent] = (),
    max_kw: float | None = None,
    slack_s: float = 5.0,
    resolution: float = 0.0,
    confirm: int = 3,
) -> Booked:
    """Book a cumulative counter's readings ``(ts, value)``; see the module docstring for the rules.

    ``max_kw`` is the most the meter's load can draw (its unit per hour): a step above
    ``max_kw * (dt + slack_s) / 3600`` is not booked. Without it, a decrease is a rollover only when the wrapped
    step is under a tenth of ``modulus`` (a reset near the top of the range would otherwise book phantom energy).
    Decreases no larger than ``resolution`` are the meter's rounding: the reading is skipped, nothing is lost.
    Readings are unique by time (the historian's key); of two with the same time the later given wins.
    """
    evs = sorted(events, key=lambda e: e.ts)
    if isinstance(readings, tuple) and len(readings) == 2 and isinstance(readings[0], np.ndarray):
        # sorted unique arrays (the historian's order): the plain case without a Python loop
        arr_t, arr_v = readings
        if len(arr_t) and bool(np.all(np.diff(arr_t) > 0)) and bool(np.all(np.isfinite(arr_v))):
            fast = _plain(arr_t, arr_v, evs, max_kw, slack_s)
            if fast is not None:
                return fast
        readings = zip(arr_t.tolist(), arr_v.tolist(), strict=True)
    by_ts: dict[float, float] = {}
    for t, v in readings:
        if v is None or not math.isfinite(v):
            continue
        by_ts[float(t)] = float(v)
    if not by_ts:
        return _empty()
    order = sorted(by_ts)
    ts0 = np.fromiter(order, dtype=np.float64, count=len(order))
    fast = _plain(
        ts0, np.fromiter((by_ts[t] for t in order), dtype=np.float64, count=len(order)), evs, max_kw, slack_s
    )
    if fast is not None:
        return fast
    ts_out: list[float] = []
    cum_out: list[float] = []
    anomalies: list[Anomaly] = []

    def limit(dt: float) -> float:
        return math.inf if max_kw is None else max_kw * (max(dt, 0.0) + slack_s) / 3600.0

    def step(v0: float, v1: float, dt: float) -> float | None:
        """The booked step from v0 to v1 over dt seconds, or None when implausible."""
        d = v1 - v0
        if 0.0 <= d <= limit(dt):
            return d
        if d < 0 and modulus is not None:
            w = d + modulus
            if 0.0 <= w <= limit(dt) and (max_kw is not None or w < modulus / 10):
                return w
        return None

    ei = 0
    t_a, v_a = order[0], by_ts[order[0]]
    # events at or before the first reading only say where the counter starts: that reading is its own start
    while ei < len(evs) and evs[ei].ts <= t_a:
        ei += 1
    cum = 0.0
    ts_out.append(t_a)
    cum_out.append(0.0)
    pending: list[tuple[float, float]] = []

    def accept(t: float, booked: float) -> None:
        nonlocal cum
        cum += booked
        ts_out.append(t)
        cum_out.append(cum)

    def flush_glitches() -> None:
        for t, v in pending:
            anomalies.append(Anomaly("glitch", t, t, value=v))
        pending.clear()

    for t in order[1:]:
        v = by_ts[t]
        while ei < len(evs) and evs[ei].ts <= t:
            e = evs[ei]
            ei += 1
            flush_glitches()
            if e.old_final is None:
                anomalies.append(Anomaly("unmeasured", t_a, e.ts))
                if e.ts > t_a:
                    accept(e.ts, 0.0)
            else:
                d = e.old_final - v_a
                if d < 0 and modulus is not None:
                    d += modulus
                if d < 0:  # a last reading below the one before: the record is wrong, book nothing
                    anomalies.append(Anomaly("unmeasured", t_a, e.ts, value=e.old_final, amount=d))
                    d = 0.0
                if e.ts > t_a or d:
                    accept(max(e.ts, t_a), d)
            t_a, v_a = max(e.ts, t_a), e.new_start
        if -resolution <= v - v_a < 0:
            continue
        s = step(v_a, v, t - t_a)
        if s is not None:
            flush_glitches()
            accept(t, s)
            t_a, v_a = t, v
            continue
        pending.append((t, v))
        while len(pending) >= confirm:
            chain = all(
                step(pending[i][1], pending[i + 1][1], pending[i + 1][0] - pending[i][0]) is not None
                for i in range(len(pending) - 1)
            )
            if chain:
                t0, v0 = pending[0]
                d = v0 - v_a
                anomalies.append(Anomaly("jump" if d > 0 else "drop", t_a, t0, value=v0, amount=d))
                accept(t0, 0.0)
                t_a, v_a = t0, v0
                for t1, v1 in pending[1:]:
                    accept(t1, step(v_a, v1, t1 - t_a) or 0.0)
                    t_a, v_a = t1, v1
                pending.clear()
            else:
                gt, gv = pending.pop(0)
                anomalies.append(Anomaly("glitch", gt, gt, value=gv))
                # the rest may follow on from the last accepted reading after all
                while pending and (s2 := step(v_a, pending[0][1], pending[0][0] - t_a)) is not None:
                    t1, v1 = pending.pop(0)
                    accept(t1, s2)
                    t_a, v_a = t1, v1
    for t, v in pending:
        anomalies.append(Anomaly("pending", t, t, value=v, amount=v - v_a))
    anomalies.sort(key=lambda a: (a.start, a.end))
    return Booked(np.asarray(ts_out, dtype=np.float64), np.asarray(cum_out, dtype=np.float64), anomalies)


def _plain(
    ts: FloatArray, v: FloatArray, evs: Sequence[MeterEvent], max_kw: float | None, slack_s: float
) -> Booked | None:
    """The common case at numpy speed: no event inside the readings and every step plausible as it is (no
    decrease, no glitch). Books exactly what the loop would; None when the loop is needed."""
    if any(ts[0] < e.ts <= ts[-1] for e in evs):
        return None
    d = np.diff(v)
    ok = d >= 0
    if max_kw is not None:
        ok &= d <= max_kw * (np.diff(ts) + slack_s) / 3600.0
    if not bool(np.all(ok)):
        return None
    return Booked(ts, np.concatenate(([0.0], np.cumsum(d))), [])


def integrate_power(readings: Iterable[tuple[float, float]], *, max_gap_s: float = 300.0) -> Booked:
    """Energy (kWh) from power readings ``(ts, kW)`` by the trapezoidal rule; two readings further apart than
    ``max_gap_s`` are not bridged (the span is a ``gap`` anomaly and books nothing)."""
    pts = sorted({float(t): float(v) for t, v in readings if v is not None and math.isfinite(v)}.items())
    if not pts:
        return _empty()
    ts = np.asarray([p[0] for p in pts], dtype=np.float64)
    kw = np.asarray([p[1] for p in pts], dtype=np.float64)
    return integrate_power_arrays(ts, kw, max_gap_s=max_gap_s)


def integrate_power_arrays(
    ts: FloatArray, kw: FloatArray, *, max_gap_s: float = 300.0, hold: bool = False
) -> Booked:
    """:func:`integrate_power` over sorted, unique arrays (the fast path of reports). ``hold``: each value holds
    until the next (a signal stored only when it changes) instead of the trapezoidal rule."""
    if len(ts) == 0:
        return _empty()
    dt = np.diff(ts)
    steps = (kw[:-1] if hold else 0.5 * (kw[1:] + kw[:-1])) * dt / 3600.0
    gaps = dt > max_gap_s
    steps[gaps] = 0.0
    cum = np.concatenate(([0.0], np.cumsum(steps)))
    anomalies = [Anomaly("gap", float(ts[i]), float(ts[i + 1])) for i in np.flatnonzero(gaps)]
    return Booked(ts, cum, anomalies)


def derived_power(volts: FloatArray, amps: FloatArray, cos_phi: FloatArray, *, phases: int = 3) -> FloatArray:
    """Active power in kW from line voltage (V), current (A) and power factor: P = sqrt(3)·V·I·cos φ for three
    phases, V·I·cos φ for one."""
    factor = math.sqrt(3.0) if phases == 3 else 1.0
    return np.asarray(factor * volts * amps * cos_phi / 1000.0, dtype=np.float64)


def derived_series(
    volts: tuple[FloatArray, FloatArray],
    amps: tuple[FloatArray, FloatArray],
    cos_phi: tuple[FloatArray, FloatArray],
    *,
    phases: int = 3,
) -> tuple[FloatArray, FloatArray]:
    """Power (kW) at every instant any of the three signals changed, each held at its last value (a sample-and-hold
    signal, as a meter's registers are); instants before all three have a value are left out."""
    series = (volts, amps, cos_phi)
    if any(len(t) == 0 for t, _ in series):
        return np.zeros(0), np.zeros(0)
    ts = np.unique(np.concatenate([t for t, _ in series]))
    ts = ts[ts >= max(float(t[0]) for t, _ in series)]
    held = [v[np.searchsorted(t, ts, side="right") - 1] for t, v in series]
    return ts, derived_power(held[0], held[1], held[2], phases=phases)


def cumulative_at(booked: Booked, at: FloatArray) -> FloatArray:
    """The booked cumulative interpolated by time at instants ``at`` (clamped outside the readings: no energy is
    invented before the first reading or after the last)."""
    if len(booked.ts) == 0:
        return np.zeros(len(at))
    return np.interp(at, booked.ts, booked.cum)


def energy_between(booked: Booked, edges: FloatArray) -> FloatArray:
    """Energy in each span between consecutive ``edges`` (sorted), interpolated by time at the edges: the spans
    add up to the energy between the first and the last edge."""
    return np.diff(cumulative_at(booked, np.asarray(edges, dtype=np.float64)))


def coverage(booked: Booked, edges: FloatArray) -> FloatArray:
    """Per span between ``edges``, the share (0..1) of its time inside the readings and outside held spans."""
    edges = np.asarray(edges, dtype=np.float64)
    a, b = edges[:-1], edges[1:]
    width = np.maximum(b - a, 1e-9)
    if len(booked.ts) == 0:
        return np.zeros(len(a))
    lo, hi = booked.ts[0], booked.ts[-1]
    inside = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None)
    for s, e in booked.held:
        inside -= np.clip(np.minimum(b, min(e, hi)) - np.maximum(a, max(s, lo)), 0.0, None)
    return np.asarray(np.clip(inside / width, 0.0, 1.0), dtype=np.float64)
