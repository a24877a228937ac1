"""The event loop werk runs on: uvloop where it is installed, else asyncio's own.

Why: werk serves its API, its connectors and its apps on one event loop, and on the 2-core benchmark machine that
loop is what limits the API. uvloop (libuv, its transports, timers and callbacks in C) serves an empty ASGI answer
under uvicorn at 35-37k requests/s where asyncio's selector loop does 24-26k, and the AAS API's PATCH ``$value``
about 50% faster in memory, 5-20% faster when durable (BENCHMARKS.md). uvicorn makes the same choice (``loop="auto"``); werk runs uvicorn inside a loop of its
own (:mod:`werk.cli`), so it makes it here. uvloop comes with ``uvicorn[standard]`` on Linux and macOS; on Windows
there is none and werk runs on asyncio's loop, which the protocol tests also run on (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from werk.errors import WerkError

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
T = TypeVar("T")


def loop_factory(choice: EventLoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """How to make the loop ``choice`` names: ``auto`` is uvloop when it can be imported, else asyncio's."""
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise WerkError(
                "server.event_loop is 'uvloop' but uvloop is not installed (pip install uvloop; it does not exist "
                "for Windows): install it, or set event_loop to 'auto' or 'asyncio'"
            ) from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
