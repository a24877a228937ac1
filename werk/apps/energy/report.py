"""Energy reports from the historian: per meter, asset, line, area and site over local periods, with parts, states,
cost, CO2e, peaks and anomalies.

Meters are read raw (counters and power samples, the last before the range and the first after it, so the edges
interpolate), booked by :mod:`werk.apps.energy.meter` with the exchanges and resets people recorded, and summed
by :mod:`werk.apps.energy.periods`. Nothing is cached: a late batch that reached the historian is in the next
report. Parts are the increase of the asset's good-part counter per period (the historian's
``counter_increase``: a counter reset counts from zero); states are the machine-state app's signal
(:data:`werk.core.states.STATE_SIGNAL`), so energy per state needs no import of that app.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from werk.apps.energy import calendar, periods
from werk.apps.energy.meter import (
    Booked,
    FloatArray,
    MeterEvent,
    book_counter,
    coverage,
    cumulative_at,
    derived_series,
    integrate_power,
    integrate_power_arrays,
)
from werk.apps.energy.settings import EnergySettings, MeterConfig
from werk.apps.energy.store import EnergyStore
from werk.config.model import AssetRef, WerkConfig
from werk.core.model import from_micros, to_micros
from werk.core.states import STATE_SIGNAL
from werk.sim.spec import sim_asset, sim_of
from werk.store.base import Historian

IDLE_STATES = ("idle", "starved", "blocked")
READ_PAD = timedelta(hours=6)  # how far past the range a reading is looked for, to interpolate the end edge


@dataclass(frozen=True)
class Meter:
    """A meter as the reports use it: its asset, signal path, settings and the power above which a step is a
    glitch (rated power x overload, times the simulator's acceleration for a simulated asset, whose counters
    advance that much faster than the clock that stamps them)."""

    asset: AssetRef
    path: str
    config: MeterConfig
    max_kw: float | None

    @property
    def name(self) -> str:
        return self.asset.name


def meters_of(config: WerkConfig, settings: EnergySettings) -> dict[str, Meter]:
    """Every metered asset: those ``apps.energy.meters`` names, and those binding an ``energy`` signal."""
    sim = sim_of(config)
    out: dict[str, Meter] = {}
    for ref in config.assets():
        cfg = settings.meters.get(ref.name)
        if cfg is None:
            if "energy" not in ref.config.bound_signals():
                continue
            cfg = MeterConfig()
        max_kw = cfg.rated_kw * settings.overload if cfg.rated_kw else None
        if max_kw is not None and sim is not None and sim_asset(ref.config) is not None:
            max_kw *= sim.acceleration
        out[ref.name] = Meter(ref, ref.signal_path(cfg.signal), cfg, max_kw)
    return out


def line_of(ref: AssetRef) -> str:
    return ref.path.rsplit("/", 2)[0]


def area_of(ref: AssetRef) -> str:
    return ref.path.rsplit("/", 3)[0]


def site_of(ref: AssetRef) -> str:
    return "/".join(ref.path.split("/")[:2])


class EnergyReader:
    """Reads meters, parts and states from the historian and the recorded meter events from the app's store."""

    def __init__(
        self, config: WerkConfig, historian: Historian, settings: EnergySettings, store: EnergyStore
    ) -> None:
        self.config = config
        self.historian = historian
        self.settings = settings
        self.store = store
        self.tz = ZoneInfo(config.plant.timezone)
        self.meters = meters_of(config, settings)
        starts = sorted({s.start for s in config.plant.shifts})
        self.shift_starts = [time(int(s[:2]), int(s[3:5])) for s in starts]

    def booked(self, name: str, start: datetime, end: datetime) -> Booked:
        """A meter's booked energy over [start, end] with a reading on each side where the historian has one."""
        m = self.meters[name]
        if m.config.kind == "derived":
            return self._derived(m, start, end)
        rows = self.historian.changes(m.path, start, end + READ_PAD)
        # up to the first reading after the range: the end edge interpolates to it
        keep = bisect.bisect_right(rows, to_micros(end), key=lambda r: r[0]) + 1
        rows = rows[:keep]
        try:  # numbers all (the usual case): straight into arrays
            ts = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows)) / 1e6
            vs = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            pts: list[tuple[float, float]] | tuple[FloatArray, FloatArray] = (ts, vs)
        except (TypeError, ValueError):
            pts = [
                (t / 1e6, float(v)) for t, v in rows if isinstance(v, int | float) and not isinstance(v, bool)
            ]
        if m.config.kind == "power":
            if isinstance(pts, tuple):
                return integrate_power_arrays(pts[0], pts[1], max_gap_s=m.config.max_gap_s)
            return integrate_power(pts, max_gap_s=m.config.max_gap_s)
        events = [
            MeterEvent(e.ts.timestamp(), e.kind, e.old_final, e.new_start)
            for e in self.store.events(name)
            if start - READ_PAD <= e.ts <= end + READ_PAD
        ]
        return book_counter(
            pts,
            modulus=m.config.modulus,
            events=events,
            max_kw=m.max_kw,
            slack_s=self.settings.slack_s,
            resolution=m.config.resolution,
        )

    def _derived(self, m: Meter, start: datetime, end: datetime) -> Booked:
        c = m.config
        parts = []
        for sig in (c.voltage, c.current, c.power_factor):
            rows = self.historian.changes(m.asset.signal_path(sig), start, end + READ_PAD)
            keep = bisect.bisect_right(rows, to_micros(end), key=lambda r: r[0]) + 1
            good = [(t / 1e6, float(v)) for t, v in rows[:keep] if isinstance(v, int | float)]
            parts.append((np.asarray([t for t, _ in good]), np.asarray([v for _, v in good])))
        ts, kw = derived_series(parts[0], parts[1], parts[2], phases=c.phases)
        # the union of three change-only series: each value holds until the next change
        return integrate_power_arrays(ts, kw, max_gap_s=c.max_gap_s, hold=True)

    def inputs(self, start: datetime, end: datetime) -> dict[str, periods.MeterInput]:
        return {
            n: periods.MeterInput(self.booked(n, start, end), m.config.carrier, m.config.unit)
            for n, m in self.meters.items()
        }

    def parts(self, name: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int] | None:
        ref = self.meters[name].asset
        if self.settings.part_signal not in ref.config.bound_signals():
            return None
        return self.historian.counter_increase(ref.signal_path(self.settings.part_signal), spans)

    def state_energy(
        self, name: str, booked: Booked, start: datetime, end: datetime
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Energy and seconds per machine state in [start, end) (the state's spans cut at the range); time before
        the first state werk saw is in no state."""
        ref = self.meters[name].asset
        changes = self.historian.changes(ref.signal_path(STATE_SIGNAL), start, end)
        if not changes:
            return {}, {}
        a, z = to_micros(start), to_micros(end)
        ts = [max(t, a) for t, _ in changes] + [z]
        at = np.asarray(ts, dtype=np.float64) / 1e6
        cum = cumulative_at(booked, at)
        energy: dict[str, float] = defaultdict(float)
        seconds: dict[str, float] = defaultdict(float)
        for i, (_, state) in enumerate(changes):
            energy[str(state)] += float(cum[i + 1] - cum[i])
            seconds[str(state)] += float(at[i + 1] - at[i])
        return dict(energy), dict(seconds)

    def report(
        self,
        start: datetime,
        end: datetime,
        size: calendar.Bucket = "day",
        *,
        assets: Sequence[str] | None = None,
        states: bool = True,
    ) -> dict[str, Any]:
        """Rows per asset and period, then per line, area and site; the site's peak per period; anomalies."""
        names = [n for n in self.meters if assets is None or n in assets]
        inputs = {n: i for n, i in self.inputs(start, end).items() if n in names}
        g = periods.grid(start, end, self.tz, size, shift_starts=self.shift_starts)
        s = self.settings
        default_factors = {"electricity": self.config.plant.grid_co2_kg_per_kwh}
        rows = periods.rows(
            inputs, g, tariffs=s.tariffs, factors=s.emission_factors, default_factors=default_factors
        )
        spans = list(zip(g.period_edges[:-1], g.period_edges[1:], strict=True))
        parts = {n: self.parts(n, spans) for n in names}
        out_rows: list[dict[str, Any]] = []
        by_period: dict[str, int] = {
            calendar.label(e, self.tz, size): i for i, e in enumerate(g.period_edges[:-1])
        }
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in rows:
            ref = self.meters[r.meter].asset
            i = by_period[r.period]
            counted = parts[r.meter]
            p = counted[i] if counted is not None else None
            d = r.as_dict()
            d.update(level="asset", scope=r.meter, parts=p)
            d["kwh_per_part"] = r.energy / p if p else None
            d["cost_per_part"] = r.cost / p if p else None
            d["co2_kg_per_part"] = r.co2_kg / p if p else None
            d["target_kwh_per_part"] = s.targets_kwh_per_part.get(r.meter)
            if states:
                d["states"], d["state_seconds"] = self.state_energy(
                    r.meter, inputs[r.meter].booked, r.start, r.end
                )
            out_rows.append(d)
            if r.unit != "kWh":
                continue
            for level, scope in (("line", line_of(ref)), ("area", area_of(ref)), ("site", site_of(ref))):
                key = (level, scope, r.period)
                agg = groups.setdefault(
                    key,
                    {
                        "period": r.period,
                        "start": r.start.isoformat(),
                        "end": r.end.isoformat(),
                        "level": level,
                        "scope": scope,
                        "meter": None,
                        "energy": 0.0,
                        "unit": "kWh",
                        "cost": 0.0,
                        "co2_kg": 0.0,
                        "coverage": 1.0,
                        "parts": None,
                    },
                )
                agg["energy"] += r.energy
                agg["cost"] += r.cost
                agg["co2_kg"] += r.co2_kg
                agg["coverage"] = min(agg["coverage"], r.coverage)
        peaks = periods.site_peaks(inputs, g)
        peak_by_period = {p: (kw, at) for p, kw, at in peaks}
        for agg in groups.values():
            if agg["level"] == "site":
                kw, at = peak_by_period.get(agg["period"], (None, None))
                agg["peak_kw"], agg["peak_at"] = kw, at.isoformat() if at else None
            else:
                agg["peak_kw"], agg["peak_at"] = None, None
        anomalies = [
            {
                **a.as_dict(),
                "asset": n,
                "start": from_micros(round(a.start * 1e6)).isoformat(),
                "end": from_micros(round(a.end * 1e6)).isoformat(),
            }
            for n, i in inputs.items()
            for a in i.booked.anomalies
            if a.kind != "gap" and (a.start <= end.timestamp() and a.end >= start.timestamp())
        ]
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "period": size,
            "timezone": self.config.plant.timezone,
            "rows": out_rows + list(groups.values()),
            "peaks": [
                {"period": p, "peak_kw": kw, "peak_at": at.isoformat() if at else None} for p, kw, at in peaks
            ],
            "peak_limit_kw": s.peak_limit_kw,
            "currency": s.currency,
            "anomalies": anomalies,
        }

    def load_curve(self, start: datetime, end: datetime, step_s: int = 900) -> dict[str, Any]:
        """The site's mean power per ``step_s`` (kW, electricity meters together; 900: the local quarter hours
        the utility meters) and each asset's, over the time its readings cover (the current step up to now); null
        where no meter has readings, so a chart shows the gap rather than a plant at zero."""
        inputs = {n: i for n, i in self.inputs(start, end).items() if i.carrier == "electricity"}
        if step_s == 900:
            edges = calendar.edges(start, end, self.tz, "15min")
        else:
            first = datetime.fromtimestamp(start.timestamp() // step_s * step_s, tz=start.tzinfo)
            edges = [
                first + timedelta(seconds=step_s * k)
                for k in range(int((end - first) / timedelta(seconds=step_s)) + 1)
            ]
        edges = [e for e in edges if e < end] + [end]
        secs = calendar.to_seconds(edges)
        hours = np.diff(secs) / 3600.0
        per: dict[str, list[float | None]] = {}
        total = np.zeros(len(edges) - 1)
        seen = np.zeros(len(edges) - 1, dtype=bool)
        for n, i in inputs.items():
            e = np.diff(cumulative_at(i.booked, secs))
            cov = coverage(i.booked, secs)
            kw = np.divide(e, cov * hours, out=np.zeros_like(e), where=cov > 0)
            per[n] = [round(float(v), 4) if c > 0 else None for v, c in zip(kw, cov, strict=True)]
            total += kw
            seen |= cov > 0
        return {
            "starts": [e.isoformat() for e in edges[:-1]],
            "total_kw": [round(float(v), 4) if s else None for v, s in zip(total, seen, strict=True)],
            "assets": per,
            "peak_limit_kw": self.settings.peak_limit_kw,
            "step_s": step_s,
        }
