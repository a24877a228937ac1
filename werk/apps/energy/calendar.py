"""Bucket edges in the plant's local time: 15 minutes, hours, shifts, days, ISO weeks, calendar months, years.

Energy is stored in UTC; a plant's day, month and year begin at its own midnight (``zoneinfo``), so a day in spring
has 23 hours and one in autumn 25, and a month's total is never a UTC month's. Sub-day buckets are the instants
whose local clock reads a multiple of the size, walked in UTC steps, so the autumn night's repeated hour yields
two distinct hours (or eight quarters) and the spring night's missing hour none. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from werk.apps.energy.meter import FloatArray

Bucket = Literal["minute", "15min", "hour", "shift", "day", "week", "month", "year"]
BUCKETS: tuple[Bucket, ...] = ("minute", "15min", "hour", "shift", "day", "week", "month", "year")


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    # a zone whose clocks jump at midnight (e.g. America/Santiago) has no 00:00 that day: take the first instant
    local = datetime.combine(d, time(0), tzinfo=tz)
    back = local.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        local = datetime.combine(d, time(1), tzinfo=tz)
    return local.astimezone(UTC)


def _next_start(d: date, size: Bucket) -> date:
    if size == "day":
        return d + timedelta(days=1)
    if size == "week":
        return d + timedelta(days=7)
    if size == "month":
        return date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return date(d.year + 1, 1, 1)


def _floor(d: date, size: Bucket) -> date:
    if size == "week":
        return d - timedelta(days=d.weekday())
    if size == "month":
        return d.replace(day=1)
    if size == "year":
        return d.replace(month=1, day=1)
    return d


def edges(
    start: datetime,
    end: datetime,
    tz: str | ZoneInfo,
    size: Bucket,
    *,
    shift_starts: Sequence[time] = (),
) -> list[datetime]:
    """UTC edges of the local buckets of ``size`` that cover [start, end): the first edge at or before ``start``,
    the last at or after ``end``. ``shift`` buckets begin at each of ``shift_starts`` (local times) every day;
    without shifts a shift is a day."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if size == "minute":
        m0 = start.astimezone(UTC).replace(second=0, microsecond=0)
        n = int((end - m0).total_seconds() // 60) + 1
        return [m0 + timedelta(minutes=k) for k in range(n + (m0 + timedelta(minutes=n - 1) < end))]
    if size in ("15min", "hour"):
        minutes = 15 if size == "15min" else 60
        step = timedelta(minutes=15)
        t = start.astimezone(UTC).replace(second=0, microsecond=0)
        t -= timedelta(minutes=t.minute % 15)
        out: list[datetime] = []
        # walk back to the first local multiple at or before start
        while t.astimezone(zone).minute % minutes:
            t -= step
        while True:
            if t.astimezone(zone).minute % minutes == 0:
                out.append(t)
                if t >= end:
                    return out
            t += step
    if size == "shift":
        starts = sorted(shift_starts) or [time(0)]
        day = start.astimezone(zone).date() - timedelta(days=1)
        found: list[datetime] = []
        while True:
            for s in starts:
                local = datetime.combine(day, s, tzinfo=zone)
                found.append(local.astimezone(UTC))
            if found[-1] >= end and len(found) > len(starts):
                break
            day += timedelta(days=1)
        found = sorted(set(found))
        first = max(i for i, e in enumerate(found) if e <= start)
        last = min(i for i, e in enumerate(found) if e >= end)
        return found[first : last + 1]
    d = _floor(start.astimezone(zone).date(), size)
    out = [_local_midnight(d, zone)]
    if out[0] > start:  # start before the zone's first instant of that day (a midnight jump)
        d = _floor(d - timedelta(days=1), size)
        out = [_local_midnight(d, zone)]
    while out[-1] < end:
        d = _next_start(d, size)
        out.append(_local_midnight(d, zone))
    return out


def to_seconds(instants: Sequence[datetime]) -> FloatArray:
    return np.asarray([t.timestamp() for t in instants], dtype=np.float64)


def label(edge: datetime, tz: str | ZoneInfo, size: Bucket) -> str:
    """How a bucket starting at ``edge`` is named in reports: ``2026-03-29T02:15+01:00``, ``2026-03-29``,
    ``2026-W13``, ``2026-03``, ``2026``."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = edge.astimezone(zone)
    if size in ("minute", "15min", "hour", "shift"):
        return local.isoformat(timespec="minutes")
    if size == "day":
        return local.date().isoformat()
    if size == "week":
        y, w, _ = local.isocalendar()
        return f"{y}-W{w:02d}"
    if size == "month":
        return f"{local.year}-{local.month:02d}"
    return str(local.year)
