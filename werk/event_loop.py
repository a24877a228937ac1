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
import signal
import threading
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


class Terminated(Exception):
    """SIGTERM stopped :func:`run`'s coroutine, and its cleanup (its ``finally`` blocks) ran."""


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names; SIGTERM stops ``main`` as Ctrl+C does (raises
    :class:`Terminated` once it has).

    Why: a service manager stops werk with SIGTERM (systemd, ``docker stop``), often to every process of the group,
    and Python's default for it ends the process on the spot: werk's own shutdown never ran (its workers and writer
    were left to end when their pipes closed, their socket directories stayed behind). Now the first SIGTERM cancels
    ``main`` as asyncio's Runner does for SIGINT, a second one while it cleans up changes nothing. While werk's HTTP
    server serves, the signal is the server's (:class:`werk.api.http_server.HttpServer`): it stops serving and
    ``main`` goes on to its shutdown without being cancelled.
    """
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(_terminable(main))


async def _terminable(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal terminated
        if not terminated:
            terminated = True
            # from the loop, not from inside whatever the signal interrupted
            loop.call_soon_threadsafe(task.cancel)

    if threading.current_thread() is not threading.main_thread():
        return await main  # a signal handler can only be set, and runs, in the main thread
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return await main
    except asyncio.CancelledError:
        if terminated:
            raise Terminated("stopped by SIGTERM") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
