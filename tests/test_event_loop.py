"""The event loop werk runs on (werk.event_loop): uvloop where installed, asyncio's own on request or without it."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from werk import event_loop
from werk.config import demo_config_path, parse_config
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
