"""In-process publish/subscribe on asyncio, with bounded queues per subscriber.

A batch published is split per subscriber to the samples its pattern matches; each subscriber has its own queue of
batches (bounded), so one slow consumer slows publishers only if it asked for back-pressure.

:meth:`MemoryBus.settled` tells when every subscriber has handled what was published: a batch counts as handled
once its subscriber comes back for the next one (``get``, or the next turn of ``async for``), so whatever it
published while handling it is queued elsewhere by then, and the bus is settled when no queue holds or lends out a
batch. A consumer that hands a batch on to work of its own (a writer that buffers) says so in its own terms.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any, Generic, TypeVar

from werk.bus.base import Overflow
from werk.core.model import Event, Sample
from werk.core.uns import TopicMatcher, validate_pattern

T = TypeVar("T")


class _Queue(Generic[T]):
    def __init__(self, bus: MemoryBus, key: int, maxsize: int, overflow: Overflow) -> None:
        self._bus = bus
        self._key = key
        self._q: asyncio.Queue[list[T] | None] = asyncio.Queue(maxsize)
        self.overflow = overflow
        self.dropped = 0  # batches discarded at the limit (DROP_OLDEST only)
        self.closed = False
        self.unfinished = (
            0  # batches put and not yet handled (queued, or taken and not come back for the next)
        )
        self._holding = False

    async def put(self, batch: list[T]) -> None:
        self.unfinished += 1
        if self.overflow is Overflow.BLOCK:
            await self._q.put(batch)
            return
        while self._q.full():
            try:
                self._q.get_nowait()
                self.dropped += 1
                self._finish()
            except asyncio.QueueEmpty:  # pragma: no cover - single-threaded, cannot race
                break
        self._q.put_nowait(batch)

    async def get(self) -> list[T]:
        if self._holding:  # coming back for the next batch: the one taken before is handled
            self._holding = False
            self._finish()
        item = await self._q.get()
        if item is None:
            raise StopAsyncIteration
        self._holding = True
        return item

    def _finish(self) -> None:
        self.unfinished = max(0, self.unfinished - 1)
        if not self.unfinished:
            self._bus._wake()

    def qsize(self) -> int:
        return self._q.qsize()

    @property
    def maxsize(self) -> int:
        return self._q.maxsize

    def __aiter__(self) -> AsyncIterator[list[T]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[list[T]]:
        while True:
            try:
                yield await self.get()
            except StopAsyncIteration:
                return

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.unfinished = 0  # a closed subscription holds nothing up
            self._bus._remove(self._key)
            self._bus._wake()
            # wake a waiting consumer; if full, the consumer will see closed on its next get
            with contextlib.suppress(asyncio.QueueFull):
                self._q.put_nowait(None)


class SampleSubscription(_Queue[Sample]):
    def __init__(self, bus: MemoryBus, key: int, pattern: str, maxsize: int, overflow: Overflow) -> None:
        super().__init__(bus, key, maxsize, overflow)
        self.pattern = pattern


class EventSubscriptionQueue(_Queue[Event]):
    def __init__(
        self, bus: MemoryBus, key: int, kinds: set[str] | None, maxsize: int, overflow: Overflow
    ) -> None:
        super().__init__(bus, key, maxsize, overflow)
        self.kinds = kinds


class MemoryBus:
    """The default bus. ``queue_batches`` bounds each subscriber's queue (in batches, not samples)."""

    def __init__(self, queue_batches: int = 256) -> None:
        self.queue_batches = queue_batches
        self._ids = itertools.count()
        self._matcher = TopicMatcher()
        self._subs: dict[int, SampleSubscription] = {}
        self._event_subs: dict[int, EventSubscriptionQueue] = {}
        self._catch_all: set[int] = set()
        self.published = 0
        self._quiet = asyncio.Event()  # set when some subscription had nothing left unhandled

    def _wake(self) -> None:
        self._quiet.set()

    def is_settled(self) -> bool:
        """True when no subscription holds a batch its consumer has not handled."""
        subs: list[_Queue[Any]] = [*self._subs.values(), *self._event_subs.values()]
        return not any(s.unfinished for s in subs)

    async def settled(self) -> None:
        """Wait until every subscriber has handled every batch published so far and whatever those led them to
        publish (see the module docstring); a consumer that stopped taking from its queue keeps this waiting, so
        callers bound it with a timeout."""
        while not self.is_settled():
            self._quiet.clear()
            await self._quiet.wait()

    def subscribe(
        self, pattern: str, *, maxsize: int | None = None, overflow: Overflow = Overflow.BLOCK
    ) -> SampleSubscription:
        validate_pattern(pattern)
        key = next(self._ids)
        sub = SampleSubscription(self, key, pattern, maxsize or self.queue_batches, overflow)
        self._subs[key] = sub
        self._matcher.add(key, pattern)
        if pattern == "#":
            self._catch_all.add(key)
        return sub

    def subscribe_events(
        self,
        kinds: set[str] | None = None,
        *,
        maxsize: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
    ) -> EventSubscriptionQueue:
        key = next(self._ids)
        sub = EventSubscriptionQueue(self, key, kinds, maxsize or self.queue_batches, overflow)
        self._event_subs[key] = sub
        return sub

    def _remove(self, key: int) -> None:
        self._subs.pop(key, None)
        self._event_subs.pop(key, None)
        self._catch_all.discard(key)
        self._matcher.remove(key)

    def has_room(self) -> bool:
        """True when ``publish`` would not wait: every blocking sample queue has room for one more batch."""
        return not any(s.overflow is Overflow.BLOCK and s.qsize() >= s.maxsize for s in self._subs.values())

    async def publish(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        self.published += len(samples)
        subs = self._subs
        # subscribers to everything (the historian) get the batch as is; the rest get what their pattern matches
        split: dict[int, list[Sample]] = {k: list(samples) for k in self._catch_all}
        if len(self._catch_all) < len(subs):
            lookup = self._matcher.lookup
            for s in samples:
                for key in lookup(s.path):
                    if key not in self._catch_all:
                        split.setdefault(key, []).append(s)
        for key, batch in split.items():
            sub = subs.get(key)
            if sub is not None:
                await sub.put(batch)

    async def publish_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        for sub in list(self._event_subs.values()):
            batch = list(events) if sub.kinds is None else [e for e in events if e.kind in sub.kinds]
            if batch:
                await sub.put(batch)
