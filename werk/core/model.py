"""Samples and events: the two things that move through werk, always in batches (lists)."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Value = float | int | bool | str

#: The type a plant file may declare for a signal (``SourceBinding.types``), for sources that carry none (SHDR, a
#: JSON number that is really an identifier). ``datetime`` is ISO 8601 text in UTC (:func:`datetime_text`).
SignalType = Literal["str", "int", "float", "bool", "datetime"]
SIGNAL_TYPES: tuple[SignalType, ...] = ("str", "int", "float", "bool", "datetime")


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


_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


def datetime_text(ts: datetime) -> str:
    """An instant as werk's one text form of a date and time: ISO 8601 in UTC with microseconds and ``Z``
    (``2026-01-02T03:04:05.123456Z``), always 27 characters, so text order is time order; a valid ``xs:dateTime``.

    A naive ``datetime`` is taken as UTC (as OPC UA's DateTime, Part 6, 5.2.2.5, and Sparkplug's epoch
    milliseconds are)."""
    aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def coerce(value: Value | datetime, kind: SignalType) -> Value:
    """``value`` as the type a plant file declared for its signal; ValueError naming the value when it is not one.

    ``str`` keeps text as it is and writes numbers in their shortest exact form (a connector that has the source's
    own text, an SHDR field or a JSON token, hands that over instead, so ``123456.20`` keeps its zero); ``int``
    takes whole numbers and decimal integer text (``"0001"`` is 1); ``float`` any finite number or decimal text;
    ``bool`` booleans, 0 and 1, ``true`` and ``false`` in any case; ``datetime`` an aware ``datetime`` or ISO 8601
    text with a UTC offset, as :func:`datetime_text`.
    """
    if isinstance(value, datetime):
        if kind in ("datetime", "str"):
            return datetime_text(value)
        raise ValueError(f"a date and time is not {kind}")
    if kind == "str":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else repr(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{value!r} is not a boolean (true, false, 1, 0)")
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not ISO 8601 text")
        try:
            ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not ISO 8601 text") from None
        if ts.tzinfo is None:
            raise ValueError(f"{value!r} has no UTC offset (add 'Z' or '+01:00')")
        return datetime_text(ts)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not {kind}")
    if kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, str):
        if not _DECIMAL.match(value.strip()):
            raise ValueError(f"{value!r} is not a number")
        value = float(value.strip())
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{value!r} is beyond a double") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not finite")
    return number


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
    JSON-serialisable. ``key``, when given, names the event by what caused it (the app, the asset, the source time
    of the sample that caused it): the historian stores an event of a key once however often it is written, so an
    app that handles a batch again (delivered again after a takeover in a cluster) publishes nothing twice.
    """

    kind: str
    source: str
    ts: datetime
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """Who asked: a person or a machine client, the highest role it holds, and where it holds which role
    (``grants``: :class:`werk.core.access.Grant`; empty for a user made by hand, which then holds ``role``
    nowhere in particular). ``via``: token, session or plant-file token."""

    name: str
    role: str
    grants: tuple[Any, ...] = ()
    via: str = ""


def event_key(app: str, asset: str, what: str, cause: datetime, *ids: object) -> str:
    """The key of an event (:attr:`Event.key`) from what caused it: the app, the asset, what happened and the
    source time of the sample (or the instant of the action) that caused it, with any ids that tell apart two
    events of one cause. The same input gives the same key, so an event made again from a batch handled twice is
    stored once; an event from different input never shares a key. ``app/asset/what/<microseconds>[/id...]``."""
    return "/".join([app, asset, what, str(to_micros(cause)), *(str(i) for i in ids)])


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
