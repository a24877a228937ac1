"""Stopping without hanging: a shutdown step or a cancelled task that does not finish in time is logged by name
and left behind.

Library shutdowns wait on peers (an MQTT client waits for the broker's goodbye with no timeout, a server waits for
its clients), and a cancelled task may be inside such a wait. ``werk serve`` must still exit on Ctrl-C, and a test
that stops a stack must fail on the step that hung, not idle until the suite's timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable

log = logging.getLogger(__name__)


async def stop_within(what: str, step: Awaitable[object], timeout: float = 10.0) -> bool:
    """Await one shutdown step for at most ``timeout`` seconds; False (and a warning naming it) if abandoned."""
    try:
        async with asyncio.timeout(timeout):
            await step
        return True
    except TimeoutError:
        log.warning("stop.abandoned step=%s after_s=%.1f", what, timeout)
        return False


AGAIN_S = 1.0
"""How long a cancelled task may take before it is cancelled again: a cleanup (a broker's goodbye) ends in
milliseconds on a healthy link; a task still running after this has likely lost its cancellation."""


async def cancel_within(
    tasks: Iterable[asyncio.Task[object]], timeout: float = 10.0, *, again_s: float = AGAIN_S
) -> list[str]:
    """Cancel tasks and wait up to ``timeout`` for them to end; the names of those that did not (logged).

    A task still running ``again_s`` after its cancellation is cancelled again, and so on until the timeout: a
    cancellation can be lost. Python 3.11's ``asyncio.wait_for`` returns the result instead of raising when its
    future completes in the same loop iteration as the cancel arrives (fixed in 3.12); aiomqtt waits for every
    acknowledgement with it, so a Sparkplug connector cancelled as its broker acknowledged the STATE birth went on
    into its session and held the stop for the whole timeout. anyio's cancel scopes deliver a cancellation until
    the task ends for the same reason.
    """
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for t in pending:
            t.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, still = await asyncio.wait(pending, timeout=min(again_s, left))
        pending = list(still)
        if not pending:
            return []
    names = sorted(t.get_name() for t in pending)
    for t in pending:
        log.warning(
            "stop.abandoned task=%s after_s=%.1f stack=%s", t.get_name(), timeout, t.get_stack(limit=3)
        )
    return names
