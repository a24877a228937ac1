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


async def cancel_within(tasks: Iterable[asyncio.Task[object]], timeout: float = 10.0) -> list[str]:
    """Cancel tasks and wait up to ``timeout`` for them to end; the names of those that did not (logged)."""
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if not pending:
        return []
    _, still = await asyncio.wait(pending, timeout=timeout)
    names = sorted(t.get_name() for t in still)
    for t in still:
        log.warning(
            "stop.abandoned task=%s after_s=%.1f stack=%s", t.get_name(), timeout, t.get_stack(limit=3)
        )
    return names
