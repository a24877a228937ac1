"""Prices and emission factors per 15-minute interval, and the demand register. Pure functions, no I/O.

A utility bills energy by time-of-use band and the month's highest 15-minute mean power (the demand register);
both are read here from 15-minute intervals in the plant's local time, the grain utilities meter at. An interval
is priced by the band its start falls in: bands begin and end on quarter hours in every tariff we know.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from werk.apps.energy.meter import FloatArray
from werk.apps.energy.settings import EmissionFactor, Tariff


def prices(
    starts: Sequence[datetime], tz: ZoneInfo, tariffs: Sequence[Tariff], carrier: str = "electricity"
) -> tuple[FloatArray, list[str]]:
    """Per interval start: the price per unit and ``"<tariff>/<band>"`` (``""`` when no tariff is valid, price
    0). The first tariff for ``carrier`` valid on the local day wins; in it, the first band covering the time."""
    own = [t for t in tariffs if t.carrier == carrier]
    out = np.zeros(len(starts))
    names: list[str] = []
    cache: dict[tuple[object, int, int], tuple[float, str]] = {}
    for i, s in enumerate(starts):
        local = s.astimezone(tz)
        day = local.date()
        minute = local.hour * 60 + local.minute
        key = (day, minute, local.weekday())
        hit = cache.get(key)
        if hit is None:
            hit = (0.0, "")
            for t in own:
                if t.valid_from <= day and (t.valid_to is None or day < t.valid_to):
                    band = next((b for b in t.bands if b.covers(local.weekday(), minute)), None)
                    hit = (band.price, f"{t.name}/{band.name}") if band else (t.base_price, f"{t.name}/base")
                    break
            cache[key] = hit
        out[i] = hit[0]
        names.append(hit[1])
    return out, names


def emission_factors(
    starts: Sequence[datetime], tz: ZoneInfo, factors: Sequence[EmissionFactor], default: float
) -> FloatArray:
    """Per interval start: kg CO2e per unit from the newest factor whose ``valid_from`` (local day) is not after
    the interval's day; ``default`` before the first one or without any."""
    out = np.full(len(starts), default, dtype=np.float64)
    if not factors:
        return out
    ordered = sorted(factors, key=lambda f: f.valid_from)
    for i, s in enumerate(starts):
        day = s.astimezone(tz).date()
        for f in ordered:
            if f.valid_from <= day:
                out[i] = f.kg_per_unit
            else:
                break
    return out


def demand_charge(starts: Sequence[datetime], tz: ZoneInfo, tariffs: Sequence[Tariff]) -> float:
    """The demand price per kW valid at the first interval (the month's tariff), 0 without one."""
    if not starts:
        return 0.0
    day = starts[0].astimezone(tz).date()
    for t in tariffs:
        if t.carrier == "electricity" and t.valid_from <= day and (t.valid_to is None or day < t.valid_to):
            return t.demand_price_per_kw
    return 0.0


def peak(kwh_15min: FloatArray, starts: Sequence[datetime]) -> tuple[float, datetime | None]:
    """The highest 15-minute mean power (kW) and when its interval began."""
    if len(kwh_15min) == 0:
        return 0.0, None
    i = int(np.argmax(kwh_15min))
    return float(kwh_15min[i]) * 4.0, starts[i].astimezone(UTC)


def projected_window(
    energy_so_far_kwh: float, power_kw: float, elapsed_s: float, window_s: float = 900.0
) -> float:
    """The mean power (kW) the current 15-minute window ends with if the present power holds for the rest of it."""
    rest = max(window_s - elapsed_s, 0.0)
    return (energy_so_far_kwh + power_kw * rest / 3600.0) * 3600.0 / window_s
