"""The Historian interface: samples and events, what every storage backend (SQLite now, PostgreSQL for scale-out)
must keep. What an app decides (stops, work orders, ...) is the app's own, in its own tables (``apps/<name>/store.py``).

Methods are synchronous and thread-safe; async callers run them in a worker thread. Writes are upserts keyed by
(signal path, timestamp), so replaying a batch after a crash stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict, Unpack

from werk.core.model import Event, Sample, Value, to_micros


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregate of a numeric signal over [start, start + width): min, mean and max of its samples of GOOD or
    UNCERTAIN quality and their count; ``bad`` counts the BAD samples left out (a connector's placeholders while
    its source is away, which carry the last value, not a measurement). All-BAD buckets have no min/avg/max."""

    start: datetime
    min: float | None
    avg: float | None
    max: float | None
    count: int
    bad: int = 0


@dataclass(frozen=True, slots=True)
class Series:
    """A signal's samples over a range as a chart needs them: all of them, or, when there are more than asked
    for, a downsampled set that keeps each time bucket's lowest and highest value, its first BAD sample, and the
    range's first and newest sample. ``total`` is how many samples the range holds; ``interval_s`` the median
    time between the range's newest samples (None with fewer than two)."""

    samples: list[Sample]
    total: int
    downsampled: bool
    interval_s: float | None


class EventFilter(TypedDict, total=False):
    """Which events ``query_events`` returns, newest first: of one of ``kinds``, from ``source``, with a ts in
    [``start``, ``end``), at most ``limit`` (1000 when not given). A filter left out (or None) lets all through."""

    kinds: Sequence[str] | None
    source: str | None
    start: datetime | None
    end: datetime | None
    limit: int


class Historian(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_samples(self, samples: Sequence[Sample]) -> int: ...

    def write_events(self, events: Sequence[Event]) -> int: ...

    def query_raw(self, path: str, start: datetime, end: datetime, limit: int = 10_000) -> list[Sample]: ...

    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]: ...

    def query_series(self, path: str, start: datetime, end: datetime, max_points: int) -> Series: ...

    def signal_types(self) -> dict[str, str]:
        """Every stored signal's path and value type (``float``, ``int``, ``bool``, ``str``)."""
        ...

    def latest(self, pattern: str = "#") -> list[Sample]: ...

    def signals(self) -> list[str]: ...

    def query_events(self, **where: Unpack[EventFilter]) -> list[Event]: ...

    def count_samples(self, path: str | None = None) -> int: ...

    def purge(self, before: datetime) -> int: ...

    # what reports read

    def last_before(self, path: str, ts: datetime) -> Sample | None: ...

    def changes(self, path: str, start: datetime, end: datetime) -> list[tuple[int, Value]]: ...

    def counter_increase(self, path: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int]: ...


# the newest samples' stamps of a signal in a range (``where`` picks them), whose gaps give its typical interval
NEWEST_STAMPS = "SELECT ts FROM sample WHERE {where} ORDER BY ts DESC LIMIT 200"


def typical_interval(newest: Sequence[Sequence[int]]) -> float | None:
    """The median gap in seconds between the rows of :data:`NEWEST_STAMPS` (µs, newest first); None when fewer
    than two."""
    gaps = sorted(newest[i][0] - newest[i + 1][0] for i in range(len(newest) - 1))
    return gaps[len(gaps) // 2] / 1e6 if gaps else None


def events_query(
    *,
    mark: str,
    array: bool,
    kinds: Sequence[str] | None = None,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> tuple[str, list[object]]:
    """The ``query_events`` statement every historian runs, newest first, and its parameters (rows of ts, kind,
    source, data, key), for the filter of :class:`EventFilter`: ``mark`` is the driver's parameter marker (``?``,
    ``%s``); with ``array`` the kinds go as one array (``kind = ANY(%s)``), else one marker each
    (``kind IN (?, ?)``)."""
    where: list[str] = []
    args: list[object] = []
    if kinds and array:
        where.append(f"kind = ANY({mark})")
        args.append(list(kinds))
    elif kinds:
        where.append(f"kind IN ({','.join([mark] * len(kinds))})")
        args.extend(kinds)
    if source:
        where.append(f"source = {mark}")
        args.append(source)
    if start:
        where.append(f"ts >= {mark}")
        args.append(to_micros(start))
    if end:
        where.append(f"ts < {mark}")
        args.append(to_micros(end))
    sql = "SELECT ts, kind, source, data, key FROM event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY ts DESC, id DESC LIMIT {mark}", [*args, limit]
