"""Stopping never hangs: a step or task that will not end in time is named and left behind."""

from __future__ import annotations

import asyncio
import logging

import pytest

from werk.core.lifecycle import cancel_within, stop_within


async def _stubborn(release: asyncio.Event) -> None:
    """Like a client whose goodbye waits on a peer: it swallows the cancellation and waits again."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await release.wait()


async def test_a_task_that_will_not_end_is_named_and_left(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    stubborn = asyncio.create_task(_stubborn(release), name="connector-plc")
    polite = asyncio.create_task(asyncio.sleep(3600), name="retention")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="werk.core.lifecycle"):
        assert await cancel_within([stubborn, polite], timeout=0.2) == ["connector-plc"]
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
