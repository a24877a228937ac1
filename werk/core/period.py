"""The time range a request asks for: its defaults, and the limits every report and series holds to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from werk.core.model import utcnow
from werk.errors import InputError

MAX_DAYS = 400  # a report's longest range: a year and a bit, computed in seconds, not minutes of a worker


def period(
    start: datetime | None,
    end: datetime | None,
    *,
    default_start: Callable[[datetime], datetime],
    max_days: float = MAX_DAYS,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) in UTC: ``end`` defaults to now, ``start`` to ``default_start(end)``.

    Raises InputError (with the parameter it is about) for a naive timestamp, a start not before the end, or a
    range longer than ``max_days`` days."""
    end = end or now or utcnow()
    start = start or default_start(end)
    for name, t in (("start", start), ("end", end)):
        if t.tzinfo is None:
            raise InputError(
                f"timestamp {t.isoformat()} has no timezone; add 'Z' or an offset", ("query", name)
            )
    if start >= end:
        raise InputError(f"start {start.isoformat()} is not before end {end.isoformat()}", ("query", "start"))
    if end - start > timedelta(days=max_days):
        raise InputError(f"a report covers at most {max_days:g} days", ("query", "start"))
    return start.astimezone(UTC), end.astimezone(UTC)
