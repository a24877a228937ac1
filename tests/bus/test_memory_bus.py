from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from werk.bus import MemoryBus, Overflow
from werk.core.model import Event, Sample

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def s(path: str, v: float = 1.0) -> Sample:
    return Sample(path, T0, v)


async def test_each_subscriber_gets_only_what_its_pattern_matches() -> None:
    bus = MemoryBus()
    loads = bus.subscribe("+/+/+/+/+/+/load")
    everything = bus.subscribe("#")
    cnc1 = bus.subscribe("acme/a/b/l/c/cnc-1/#")
    batch = [s("acme/a/b/l/c/cnc-1/load"), s("acme/a/b/l/c/cnc-1/power"), s("acme/a/b/l/c/cnc-2/load")]
    await bus.publish(batch)
    assert [x.path for x in await loads.get()] == ["acme/a/b/l/c/cnc-1/load", "acme/a/b/l/c/cnc-2/load"]
    assert await everything.get() == batch
    assert [x.path for x in await cnc1.get()] == ["acme/a/b/l/c/cnc-1/load", "acme/a/b/l/c/cnc-1/power"]


async def test_blocking_subscriber_applies_back_pressure() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("#", maxsize=2, overflow=Overflow.BLOCK)
    for i in range(2):
        await bus.publish([s("a/b", i)])
    third = asyncio.create_task(bus.publish([s("a/b", 3)]))
    await asyncio.sleep(0.05)
    assert not third.done(), "publisher should wait while the queue is full"
    assert (await sub.get())[0].value == 0
    await asyncio.wait_for(third, 1)
    assert [(await sub.get())[0].value for _ in range(2)] == [1, 3]


async def test_dropping_subscriber_never_blocks_and_counts_losses() -> None:
    bus = MemoryBus()
    slow = bus.subscribe("#", maxsize=3, overflow=Overflow.DROP_OLDEST)
    for i in range(10):
        await asyncio.wait_for(bus.publish([s("a/b", i)]), 0.5)
    assert slow.dropped == 7
    assert [(await slow.get())[0].value for _ in range(3)] == [7, 8, 9]


async def test_closed_subscription_ends_iteration_and_stops_receiving() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("#")
    got: list[list[Sample]] = []

    async def consume() -> None:
        async for batch in sub:
            got.append(batch)

    task = asyncio.create_task(consume())
    await bus.publish([s("a/b")])
    await asyncio.sleep(0.01)
    sub.close()
    await asyncio.wait_for(task, 1)
    await bus.publish([s("a/b")])  # nobody listening: must not block or fail
    assert len(got) == 1


async def test_events_are_filtered_by_kind() -> None:
    bus = MemoryBus()
    states = bus.subscribe_events({"state"})
    await bus.publish_events([Event("kpi", "x", T0), Event("state", "x", T0, {"to": "fault"})])
    got = await states.get()
    assert [e.kind for e in got] == ["state"]


def test_bad_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="'#' is only allowed as the last level"):
        MemoryBus().subscribe("a/#/b")


async def test_settled_waits_until_every_subscriber_handled_the_batch_and_what_it_led_to() -> None:
    """A batch counts as handled when its subscriber comes back for the next one; what a subscriber published
    while handling it must be handled too before the bus is settled (the app host acknowledges a batch then)."""
    bus = MemoryBus()
    states = bus.subscribe("+/+/+/+/+/+/state")
    derived = bus.subscribe("+/+/+/+/+/+/machine_state")
    handled: list[str] = []
    release = asyncio.Event()

    async def mapper() -> None:  # reads a state, publishes a derived one
        async for batch in states:
            await bus.publish(
                [Sample(x.path.replace("/state", "/machine_state"), T0, x.value) for x in batch]
            )

    async def slow_reader() -> None:
        async for batch in derived:
            await release.wait()
            handled.extend(x.path for x in batch)

    tasks = [asyncio.create_task(mapper()), asyncio.create_task(slow_reader())]
    try:
        assert bus.is_settled()
        await bus.publish([Sample("acme/a/b/l/c/m1/state", T0, "running")])
        settled = asyncio.create_task(bus.settled())
        await asyncio.sleep(0.05)
        assert not settled.done(), "the derived sample is not handled yet"
        release.set()
        await asyncio.wait_for(settled, 1)
        assert handled == ["acme/a/b/l/c/m1/machine_state"]
        derived.close()  # a closed subscription holds nothing up
        await bus.publish([Sample("acme/a/b/l/c/m2/state", T0, "idle")])
        await asyncio.wait_for(bus.settled(), 1)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
