"""The event loop werk runs on (werk.event_loop): uvloop where installed, asyncio's own on request or without it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
import uvloop

from werk import event_loop
from werk.api.http_server import http_server
from werk.config import demo_config_path, parse_config
from werk.config.model import ServerConfig
from werk.errors import WerkError


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_where_it_is_installed_and_asyncio_on_request() -> None:
    assert event_loop.run(_loop_type()) is uvloop.Loop
    assert issubclass(event_loop.run(_loop_type(), "asyncio"), asyncio.BaseEventLoop)
    assert event_loop.run(_loop_type(), "asyncio") is not uvloop.Loop


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as on Windows: the import fails
    assert event_loop.loop_factory("auto") is asyncio.new_event_loop
    with pytest.raises(WerkError, match=r"server\.event_loop is 'uvloop' but uvloop is not installed"):
        event_loop.loop_factory("uvloop")


def test_the_plant_file_names_the_loop_and_a_wrong_name_is_refused_where_it_is() -> None:
    text = demo_config_path().read_text().replace("event_loop: auto", "event_loop: asyncio", 1)
    assert parse_config(text, "plant.yaml").server.event_loop == "asyncio"
    with pytest.raises(WerkError, match=r"plant.yaml.*server.event_loop"):
        parse_config(text.replace("event_loop: asyncio", "event_loop: trio"), "plant.yaml")


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_sigterm_stops_main_as_ctrl_c_does_its_cleanup_runs_and_a_second_one_changes_nothing(
    choice: str,
) -> None:
    steps: list[str] = []

    async def main() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)
            steps.append("slept")  # never: SIGTERM ends the wait
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a service manager that asks again while werk cleans up
            await asyncio.sleep(0.05)  # cleanup that awaits runs to its end
            steps.append("cleaned up")

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(event_loop.Terminated):
        event_loop.run(main(), choice)  # type: ignore[arg-type]
    assert steps == ["cleaned up"]
    assert signal.getsignal(signal.SIGTERM) is before  # the process's own handler is back


@pytest.mark.parametrize("own_task", [True, False])
def test_sigterm_while_werk_serves_stops_the_server_and_the_shutdown_after_it_runs_to_its_end(
    own_task: bool,
) -> None:
    """The signal is the HTTP server's while it serves: it stops serving and does not raise the signal again (uvicorn's
    own server does, which ended the process, or cancelled the shutdown after it where it ran in the main task)."""
    steps: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        raise AssertionError("no request is made")

    async def main() -> int | None:
        server = http_server(app, ServerConfig(), port=0)  # type: ignore[arg-type]

        async def kill_when_serving() -> None:
            while not server.started:
                await asyncio.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)

        killer = asyncio.create_task(kill_when_serving())
        if own_task:  # as werk serve runs it
            await asyncio.create_task(server.serve())
        else:  # as the AAS benchmark's server runs it
            await server.serve()
        await killer
        steps.append("serving ended")
        for _ in range(3):
            await asyncio.sleep(0.02)  # a shutdown that awaits: nothing cancels it
        steps.append("shutdown ran")
        return server.stopped_by

    before = signal.getsignal(signal.SIGTERM)
    assert event_loop.run(main()) == signal.SIGTERM
    assert steps == ["serving ended", "shutdown ran"]
    assert signal.getsignal(signal.SIGTERM) is before
