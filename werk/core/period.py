"""The time range a request asks for: its defaults, and the limits every report and series holds to."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator

from werk.core.model import utcnow
from werk.errors import InputError

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # what a timestamp in a request may be
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MAX_DAYS = 400  # a report's longest range: a year and a bit, computed in seconds, not minutes of a worker
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _iso_text(v: object) -> object:
    """A timestamp in a request is ISO 8601 text (``2026-06-01T08:00:00Z``), not a number of seconds: pydantic
    would read ``0`` or ``0.5`` as an instant of 1970, which no caller means."""
    if isinstance(v, datetime):
        return v
    if not isinstance(v, str) or not _RFC3339.fullmatch(v.strip()):
        raise ValueError("a timestamp is ISO 8601 text with a timezone, e.g. 2026-06-01T08:00:00Z")
    return v


Timestamp = Annotated[datetime, BeforeValidator(_iso_text)]
"""A timestamp in a request, a parameter or a body's field (OpenAPI ``date-time``): ISO 8601 text only."""


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
    _check("end", end)
    start = start or default_start(end)
    _aware("start", start)
    if start >= end:
        raise InputError(f"start {start.isoformat()} is not before end {end.isoformat()}", ("query", "start"))
    if end - start > timedelta(days=max_days):
        raise InputError(f"a report covers at most {max_days:g} days", ("query", "start"))
    _check("start", start)
    return start.astimezone(UTC), end.astimezone(UTC)


def _aware(name: str, t: datetime) -> None:
    if t.tzinfo is None:
        raise InputError(f"timestamp {t.isoformat()} has no timezone; add 'Z' or an offset", ("query", name))


def _check(name: str, t: datetime) -> None:
    _aware(name, t)
    if not EARLIEST <= t <= LATEST:  # local calendars and week starts overflow near year 1 and 9999
        raise InputError(
            f"timestamp {t.isoformat()} is outside {EARLIEST.year} to {LATEST.year - 1}", ("query", name)
        )
