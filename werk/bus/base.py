"""The Bus interface: publish batches, subscribe with UNS patterns. In-process today, MQTT for scale-out later."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from werk.core.model import Event, Sample


class Overflow(enum.Enum):
    """What a subscription does when its queue is full.

    BLOCK makes the publisher wait (back-pressure): right for the historian, which must not lose data.
    DROP_OLDEST discards the oldest queued batch and counts it: right for a browser tab, which must never stall
    the plant.
    """

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"


class Subscription(Protocol):
    pattern: str
    dropped: int

    def __aiter__(self) -> AsyncIterator[list[Sample]]: ...

    async def get(self) -> list[Sample]: ...

    def close(self) -> None: ...


class EventSubscription(Protocol):
    dropped: int

    def __aiter__(self) -> AsyncIterator[list[Event]]: ...

    async def get(self) -> list[Event]: ...

    def close(self) -> None: ...


class Bus(Protocol):
    async def publish(self, samples: Sequence[Sample]) -> None: ...

    async def publish_events(self, events: Sequence[Event]) -> None: ...

    def subscribe(
        self, pattern: str, *, maxsize: int | None = None, overflow: Overflow = Overflow.BLOCK
    ) -> Subscription: ...

    def subscribe_events(
        self,
        kinds: set[str] | None = None,
        *,
        maxsize: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
    ) -> EventSubscription: ...


async def feed(
    bus: Bus,
    handle: Callable[[list[Sample]], object],
    pattern: str = "#",
    *,
    overflow: Overflow = Overflow.BLOCK,
) -> None:
    """Hand every batch of the samples matching ``pattern`` to ``handle`` until cancelled; the subscription ends
    with it."""
    sub = bus.subscribe(pattern, overflow=overflow)
    try:
        async for batch in sub:
            handle(batch)
    finally:
        sub.close()
