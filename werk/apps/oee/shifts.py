"""The shift calendar: when the plant plans to produce, in its own timezone, safe across daylight-saving changes.

Shifts are defined in local wall-clock time (06:00-14:00) and turned into UTC instants day by day, each boundary
converted on its own, so a night shift over the autumn change lasts 9 hours and over the spring change 7 hours —
what the people on that shift actually work. A wall-clock time that does not exist (02:30 on the spring-forward
night) resolves with ``fold=0``, i.e. as if the old offset still held, which is PEP 495's rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ShiftDef:
    """A recurring shift. ``end`` <= ``start`` means it ends on the next day (a night shift)."""

    name: str
    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))  # 0 = Monday, as date.weekday()
    breaks: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True, slots=True)
class ShiftPeriod:
    """One occurrence of a shift: UTC instants, and its planned breaks (also UTC)."""

    name: str
    day: date  # the local date the shift starts on
    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}/{self.name}"


@dataclass(frozen=True)
class ShiftCalendar:
    timezone: str
    shifts: Sequence[ShiftDef]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    def periods(self, start: datetime, end: datetime) -> list[ShiftPeriod]:
        """Every shift occurrence that overlaps [start, end), in time order (not clipped)."""
        tz = self.tz
        first = start.astimezone(tz).date() - timedelta(
            days=1
        )  # a night shift from the day before may overlap
        last = end.astimezone(tz).date()
        out: list[ShiftPeriod] = []
        d = first
        while d <= last:
            if d not in self.holidays:
                for s in self.shifts:
                    if d.weekday() not in s.days:
                        continue
                    p = self._occurrence(s, d)
                    if p.start < end and p.end > start:
                        out.append(p)
            d += timedelta(days=1)
        out.sort(key=lambda p: p.start)
        return out

    def _occurrence(self, s: ShiftDef, d: date) -> ShiftPeriod:
        overnight = s.end <= s.start
        a = self._local(d, s.start)
        z = self._local(d + timedelta(days=1) if overnight else d, s.end)
        breaks = []
        for bs, be in s.breaks:
            # a break earlier in the day than the shift start belongs to the night part, i.e. the next day
            bd = d + timedelta(days=1) if overnight and bs < s.start else d
            b0 = self._local(bd, bs)
            b1 = self._local(bd + timedelta(days=1) if be <= bs else bd, be)
            breaks.append((max(a, b0), min(z, b1)))
        return ShiftPeriod(s.name, d, a, z, tuple(b for b in breaks if b[0] < b[1]))

    def current(self, now: datetime) -> ShiftPeriod | None:
        for p in self.periods(now, now + timedelta(microseconds=1)):
            if p.start <= now < p.end:
                return p
        return None


ALWAYS = ShiftCalendar("UTC", (ShiftDef("day", time(0), time(0)),))
"""No calendar configured: the plant is planned to produce around the clock, one 24 h 'shift' per day (the
report builder puts it in the plant's timezone)."""
