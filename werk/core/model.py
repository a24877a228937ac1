"""Samples and events: the two things that move through werk, always in batches (lists)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Value = float | int | bool | str


def finite(value: Value) -> bool:
    """Whether a value can be a machine's setpoint as far as its size goes: a number that is finite as a double
    (NaN, INF and integers past a double's range are not; a twin's xs:double and xs:integer allow them), or
    anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond any double
        return False


class Quality(enum.IntEnum):
    """Data quality, coarse like OPC UA's StatusCode severity (Part 4, 7.39): good, uncertain, bad."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one signal at one instant.

    ``path`` is the signal's Unified Namespace path; ``ts`` is timezone-aware UTC (the source timestamp when the
    source gives one). The pair (path, ts) is the sample's identity: storing it twice is an upsert, not a duplicate.
    """

    path: str
    ts: datetime
    value: Value
    quality: Quality = Quality.GOOD

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"sample {self.path!r}: timestamp must be timezone-aware (got naive {self.ts})")


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to an asset: a state change, an alarm, a KPI update, a work order.

    ``kind`` is a short word (``state``, ``kpi``, ``alarm``); ``source`` is the asset's UNS path; ``data`` is
    JSON-serialisable.
    """

    kind: str
    source: str
    ts: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    """Who asked: a person or a machine client, and the role the plant file grants it."""

    name: str
    role: str


def utcnow() -> datetime:
    """The one clock werk reads inside: timezone-aware UTC."""
    return datetime.now(UTC)


def to_micros(ts: datetime) -> int:
    """Microseconds since the Unix epoch; the historian's integer time key (exact, unlike float seconds)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
