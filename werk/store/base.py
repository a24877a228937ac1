"""The Historian interface: samples and events, what every storage backend (SQLite now, PostgreSQL for scale-out)
must keep. What an app decides (stops, work orders, ...) is the app's own, in its own tables (``apps/<name>/store.py``).

Methods are synchronous and thread-safe; async callers run them in a worker thread. Writes are upserts keyed by
(signal path, timestamp), so replaying a batch after a crash stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from werk.core.model import Event, Sample, Value


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregate of a numeric signal over [start, start + width): min, mean and max of the samples, and their count."""

    start: datetime
    min: float
    avg: float
    max: float
    count: int


class Historian(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_samples(self, samples: Sequence[Sample]) -> int: ...

    def write_events(self, events: Sequence[Event]) -> int: ...

    def query_raw(self, path: str, start: datetime, end: datetime, limit: int = 10_000) -> list[Sample]: ...

    def query_buckets(self, path: str, start: datetime, end: datetime, bucket_s: float) -> list[Bucket]: ...

    def latest(self, pattern: str = "#") -> list[Sample]: ...

    def signals(self) -> list[str]: ...

    def query_events(
        self,
        *,
        kinds: Sequence[str] | None = None,
        source: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...

    def count_samples(self, path: str | None = None) -> int: ...

    def purge(self, before: datetime) -> int: ...

    # what reports read

    def last_before(self, path: str, ts: datetime) -> Sample | None: ...

    def changes(self, path: str, start: datetime, end: datetime) -> list[tuple[int, Value]]: ...

    def counter_increase(self, path: str, spans: Sequence[tuple[datetime, datetime]]) -> list[int]: ...
