"""Stopping never hangs: a step or task that will not end in time is named and left behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import pytest

from werk.core.lifecycle import cancel_within, stop_within


async def _stubborn(release: asyncio.Event) -> None:
    """Like a client whose goodbye waits on a peer and takes no cancellation: it swallows every one."""
    while not release.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await release.wait()


async def test_a_task_that_will_not_end_is_named_and_left(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    stubborn = asyncio.create_task(_stubborn(release), name="connector-plc")
    polite = asyncio.create_task(asyncio.sleep(3600), name="retention")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="werk.core.lifecycle"):
        assert await cancel_within([stubborn, polite], timeout=0.2, again_s=0.05) == ["connector-plc"]
    assert polite.cancelled() and not stubborn.done()
    assert "stop.abandoned task=connector-plc" in caplog.text
    release.set()
    await stubborn
    assert await cancel_within([stubborn, polite], timeout=0.2) == []  # finished tasks are no work


async def test_a_step_that_hangs_is_abandoned_and_one_that_ends_is_awaited() -> None:
    never = asyncio.Event()
    assert await stop_within("broker goodbye", never.wait(), timeout=0.1) is False
    done: list[int] = []

    async def step() -> None:
        await asyncio.sleep(0.01)
        done.append(1)

    assert await stop_within("server", step(), timeout=1.0) is True and done == [1]


async def test_a_cancellation_lost_in_wait_for_is_delivered_again() -> None:
    """The race that held the platform's stop for 10 s: the cancel arrives as wait_for's future completes."""
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[None] = loop.create_future()
    after_ack: list[str] = []

    async def session() -> None:  # as aiomqtt's publish waits for its PUBACK, then the session reads on
        await asyncio.wait_for(acked, timeout=30)
        after_ack.append("reading messages")
        await asyncio.sleep(3600)

    task = asyncio.create_task(session(), name="connector-env")
    await asyncio.sleep(0)
    acked.set_result(None)  # the broker's acknowledgement and the stop, in one loop iteration
    stop = asyncio.create_task(cancel_within([task], timeout=5.0, again_s=0.05))
    assert await stop == []
    assert task.cancelled()
    # Python 3.11 lost the first cancellation (the session went on reading); later versions do not
    assert after_ack == (["reading messages"] if sys.version_info < (3, 12) else [])
