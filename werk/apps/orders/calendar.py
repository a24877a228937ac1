"""The plant's working calendar as unavailability windows for the scheduler. Pure.

A machine works inside the plant's shifts (``plant.shifts``: local start and end, weekdays, breaks), not on
``plant.holidays`` (a shift that starts on a holiday does not run), and not during ``plant.planned_downtime``.
A plant without shifts works around the clock. Times are local to the plant where the plant file says so and UTC
everywhere else (DST days are handled by building each shift in local time and converting it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from werk.config.model import PlantConfig
from werk.core.spans import clip, subtract, union

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(value: str) -> time:
    h, m = value.split(":")[:2]
    return time(int(h), int(m))


def working_time(plant: PlantConfig, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The spans in [start, end) in which the plant works (UTC), shifts less breaks, holidays and planned
    downtime."""
    tz = ZoneInfo(plant.timezone)
    if not plant.shifts:
        spans = [(start, end)]
    else:
        holidays: set[date] = set(plant.holidays)
        spans = []
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        while day <= last:
            if day not in holidays:
                for shift in plant.shifts:
                    if WEEKDAYS[day.weekday()] not in shift.days:
                        continue
                    s_local = datetime.combine(day, _clock(shift.start), tzinfo=tz)
                    e_day = day if _clock(shift.end) > _clock(shift.start) else day + timedelta(days=1)
                    e_local = datetime.combine(e_day, _clock(shift.end), tzinfo=tz)
                    breaks = []
                    for b_start, b_end in shift.breaks:
                        bs_day = day if _clock(b_start) >= _clock(shift.start) else day + timedelta(days=1)
                        bs = datetime.combine(bs_day, _clock(b_start), tzinfo=tz)
                        be_day = bs_day if _clock(b_end) > _clock(b_start) else bs_day + timedelta(days=1)
                        breaks.append((bs, datetime.combine(be_day, _clock(b_end), tzinfo=tz)))
                    pieces = subtract([(s_local, e_local)], union(breaks))
                    spans += [(a.astimezone(UTC), z.astimezone(UTC)) for a, z in pieces]
            day += timedelta(days=1)
        spans = clip(union(spans), start, end)
    return subtract(spans, union((down.start, down.end) for down in plant.planned_downtime))


def closed(plant: PlantConfig, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The complement of :func:`working_time` in [start, end): when no machine of the plant may be planned."""
    return subtract([(start, end)], working_time(plant, start, end))
