"""Energy, cost, CO2e and the 15-minute peak of meters over local periods. Pure functions, no I/O.

Everything is computed on the 15-minute grid of the plant's local time (the grain of utility metering and of the
demand register) and summed up into the periods asked for (hours, shifts, days, weeks, months, years), whose
edges all lie on that grid. So a month's cost is the sum of its quarter hours priced by their band, its peak is
the highest quarter hour in it, and its energy is exactly the sum of its days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from werk.apps.energy import calendar
from werk.apps.energy.meter import Booked, FloatArray, coverage, energy_between
from werk.apps.energy.pricing import emission_factors, prices
from werk.apps.energy.settings import EmissionFactor, Tariff


@dataclass(frozen=True)
class MeterInput:
    """One meter's booked energy with what prices it: its carrier and unit."""

    booked: Booked
    carrier: str = "electricity"
    unit: str = "kWh"


@dataclass
class PeriodRow:
    """One meter over one period: energy (its unit), cost, kg CO2e, its highest 15-minute mean power (kW, for
    electricity) and when that quarter hour began, and the share of the period its readings cover."""

    period: str
    start: datetime
    end: datetime
    meter: str
    energy: float
    cost: float
    co2_kg: float
    peak_kw: float | None
    peak_at: datetime | None
    coverage: float
    unit: str = "kWh"

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "meter": self.meter,
            "energy": self.energy,
            "unit": self.unit,
            "cost": self.cost,
            "co2_kg": self.co2_kg,
            "peak_kw": self.peak_kw,
            "peak_at": self.peak_at.isoformat() if self.peak_at else None,
            "coverage": self.coverage,
        }


@dataclass
class Grid:
    """The 15-minute grid of a range with its prices and emission factors per carrier, computed once for all
    meters of a report."""

    tz: ZoneInfo
    edges: list[datetime]
    seconds: FloatArray
    period_index: np.ndarray  # start index in the grid of each period
    period_edges: list[datetime]
    size: calendar.Bucket
    labels: list[str] = field(default_factory=list)
    _prices: dict[str, FloatArray] = field(default_factory=dict)
    _factors: dict[str, FloatArray] = field(default_factory=dict)


def grid(
    start: datetime,
    end: datetime,
    tz: str | ZoneInfo,
    size: calendar.Bucket,
    *,
    shift_starts: Sequence[time] = (),
) -> Grid:
    """The quarter hours of the periods of ``size`` in [start, end): the first and last period are cut at
    ``start`` and ``end`` (a report from 10:20 counts from 10:20), and so is the quarter hour they fall in."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    periods = calendar.edges(start, end, zone, size, shift_starts=shift_starts)
    periods = [start] + [p for p in periods if start < p < end] + [end]
    fine = calendar.edges(start, end, zone, "minute" if size == "minute" else "15min")
    fine = [start] + [f for f in fine if start < f < end] + [end]
    seconds = calendar.to_seconds(fine)
    idx = np.searchsorted(seconds, calendar.to_seconds(periods))
    labels = [calendar.label(p, zone, size) for p in periods[:-1]]
    return Grid(zone, fine, seconds, idx, periods, size, labels)


def rows(
    meters: Mapping[str, MeterInput],
    g: Grid,
    *,
    tariffs: Sequence[Tariff] = (),
    factors: Mapping[str, Sequence[EmissionFactor]] | None = None,
    default_factors: Mapping[str, float] | None = None,
) -> list[PeriodRow]:
    """One row per meter and period of the grid."""
    factors = factors or {}
    default_factors = default_factors or {}
    starts = g.edges[:-1]
    out: list[PeriodRow] = []
    bounds = g.period_index
    for name, m in meters.items():
        if m.carrier not in g._prices:
            g._prices[m.carrier] = prices(starts, g.tz, tariffs, m.carrier)[0]
            g._factors[m.carrier] = emission_factors(
                starts, g.tz, factors.get(m.carrier, ()), default_factors.get(m.carrier, 0.0)
            )
        quarter = energy_between(m.booked, g.seconds)
        hours = np.diff(g.seconds) / 3600.0
        cost = quarter * g._prices[m.carrier]
        co2 = quarter * g._factors[m.carrier]
        cov = coverage(m.booked, g.seconds)
        for k in range(len(bounds) - 1):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if b <= a:
                continue
            q = quarter[a:b]
            peak_i = int(np.argmax(q / hours[a:b]))
            electric = m.carrier == "electricity"
            out.append(
                PeriodRow(
                    period=g.labels[k],
                    start=g.period_edges[k],
                    end=g.period_edges[k + 1],
                    meter=name,
                    energy=float(q.sum()),
                    cost=float(cost[a:b].sum()),
                    co2_kg=float(co2[a:b].sum()),
                    peak_kw=float(q[peak_i] / hours[a + peak_i]) if electric else None,
                    peak_at=g.edges[a + peak_i] if electric else None,
                    coverage=float(cov[a:b].mean()),
                    unit=m.unit,
                )
            )
    return out


def site_peaks(meters: Mapping[str, MeterInput], g: Grid) -> list[tuple[str, float, datetime | None]]:
    """Per period, the highest 15-minute mean power of all electricity meters together (the register the
    utility bills: the sum's peak, not the sum of each meter's peak)."""
    total = np.zeros(len(g.seconds) - 1)
    for m in meters.values():
        if m.carrier == "electricity":
            total += energy_between(m.booked, g.seconds)
    total /= np.diff(g.seconds) / 3600.0  # mean power of each quarter hour (a cut one too)
    out: list[tuple[str, float, datetime | None]] = []
    for k in range(len(g.period_index) - 1):
        a, b = int(g.period_index[k]), int(g.period_index[k + 1])
        if b <= a:
            continue
        i = int(np.argmax(total[a:b]))
        out.append((g.labels[k], float(total[a + i]), g.edges[a + i]))
    return out
