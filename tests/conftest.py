"""Shared fixtures: free ports, a small plant on them, the real stack (sim OPC UA server, platform, uvicorn)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from werk.api import create_app
from werk.api.auth import token_digest
from werk.api.http_server import http_server
from werk.api.workers import Workers
from werk.config import WerkConfig, demo_config_path, parse_config
from werk.config.model import ServerConfig, UserConfig
from werk.registry import Registry
from werk.runtime.platform import Platform
from werk.sim.opcua_server import SimOpcUaServer
from werk.sim.spec import sim_of

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI") == "true"


try:
    import uvloop
except ImportError:  # Windows: werk runs on asyncio's loop there (werk.event_loop)
    uvloop = None  # type: ignore[assignment]

# tests that also run on asyncio's own loop: werk runs on uvloop where it is installed (werk.event_loop), on
# asyncio's loop where it is not (Windows), and the protocols, the spool and the twin's writer are where the two loops
# differ most. The 5,000-item OPC UA test measures scale, not the loop: once is enough.
BOTH_LOOPS = ("tests/connect/", "tests/runtime/", "tests/twin/test_twin_writer.py")
ONE_LOOP = ("tests/connect/test_opcua_scale.py",)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], object]]:
    """The loops an async test runs on: the one werk picks by default, and asyncio's too for :data:`BOTH_LOOPS`."""
    if uvloop is None:
        return {"asyncio": asyncio.new_event_loop}
    if item.nodeid.startswith(BOTH_LOOPS) and not item.nodeid.startswith(ONE_LOOP):
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


def need(condition: bool, reason: str) -> None:
    """Skip with a reason, except under CI=true where a missing prerequisite is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required under CI=true: {reason}")
        pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    need(path.exists(), f"shared data {path} is absent (see ../shared/data/README.md)")
    return path


def chromium_path() -> str:
    exe = os.environ.get("WERK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    need(exe is not None, "headless Chromium not found (apt-get install chromium, or set WERK_CHROMIUM)")
    assert exe is not None
    return exe


# Ports handed out come from below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel chose
# for ``bind(0)`` is also one it may give a client socket's local end before the server binds it, and a test
# failed that way ("address already in use" on a sim's port). Below the range only servers bind, and the set
# keeps one test session from handing out a port twice.
_PORTS_LOW, _PORTS_HIGH = 20000, 32000
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nobody listens on and no client socket will be given, unique within this process."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        port = rng.randrange(_PORTS_LOW, _PORTS_HIGH)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORTS_LOW}-{_PORTS_HIGH}")


@asynccontextmanager
async def serving(app: ASGIApp, server: ServerConfig | None = None) -> AsyncIterator[str]:
    """``app`` on a real uvicorn over loopback, configured as ``werk serve`` does it; yields its base URL."""
    port = free_port()
    config = (server or ServerConfig()).model_copy(update={"host": "127.0.0.1", "port": port})
    uv = http_server(app, config)
    task = asyncio.create_task(uv.serve())
    async with asyncio.timeout(10):
        while not uv.started:
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await task


def plant_config(
    tmp_path: Path,
    *,
    acceleration: float = 20.0,
    seed: int = 7,
    tick_s: float = 1.0,
    users: dict[str, tuple[str, str]] | None = None,
    oee: dict[str, float] | None = None,
    maintenance: dict[str, object] | None = None,
    patch: Callable[[str], str] | None = None,
    registry: Registry | None = None,
) -> WerkConfig:
    """The demo plant on free ports, a fast clock and a historian in tmp_path.

    ``users`` maps a name to (role, token); ``oee`` and ``maintenance`` override those apps' settings (models go
    to tmp_path unless said otherwise); ``patch`` edits the demo plant file's text before it is parsed;
    ``registry`` (with plug-ins installed) validates it.
    """
    text = demo_config_path().read_text()
    # every test stack gets its own Sparkplug edge node and host id on the shared broker
    unique = uuid.uuid4().hex[:8]
    text = text.replace("env-gateway", f"env-{unique}").replace("host_id: werk", f"host_id: werk-{unique}")
    base = parse_config(patch(text) if patch else text, "demo.yaml", registry)
    opc_port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{opc_port}/werk/sim"
    assert sim_of(base) is not None
    sim = base.section("sim").model_copy(
        # the demo's machines follow the plan of a werk on port 8080: a test's sim follows none unless it says so
        update={
            "endpoint": endpoint,
            "acceleration": acceleration,
            "seed": seed,
            "tick_s": tick_s,
            "follow_plan": None,
        }
    )
    user_list = [
        UserConfig(name=name, role=role, token_sha256=token_digest(token))  # type: ignore[arg-type]
        for name, (role, token) in (users or {}).items()
    ]
    modbus_port, shdr_port = free_port(), free_port()
    sim = sim.model_copy(update={"modbus_port": modbus_port, "shdr_port": shdr_port})
    connectors = {}
    for name, c in base.connectors.items():
        if c.type == "opcua":
            c = c.model_copy(
                update={"endpoint": endpoint, "publishing_interval_ms": 100, "reconnect_max_s": 1.0}
            )
        elif c.type == "modbus":
            c = c.model_copy(update={"port": modbus_port, "poll_interval_ms": 200, "reconnect_max_s": 1.0})
        elif c.type == "shdr":
            c = c.model_copy(update={"port": shdr_port, "reconnect_max_s": 1.0})
        connectors[name] = c
    return base.model_copy(
        update={
            "sim": sim,
            "connectors": connectors,
            "historian": base.historian.model_copy(
                update={"path": str(tmp_path / "werk.db"), "flush_interval_ms": 50}
            ),
            "server": base.server.model_copy(update={"port": free_port(), "users": user_list}),
            "apps": base.apps.model_copy(
                update={
                    "oee": base.app("oee").model_copy(update={"kpi_interval_s": 0.5, **(oee or {})}),
                    "maintenance": base.app("maintenance").model_copy(
                        update={
                            "models_dir": str(tmp_path / "models"),
                            "auto_train": False,
                            **(maintenance or {}),
                        }
                    ),
                }
            ),
        }
    )


def with_app(config: WerkConfig, name: str, **changes: object) -> WerkConfig:
    """``config`` with some settings of the app ``name`` changed."""
    settings = config.app(name).model_copy(update=changes)
    return config.model_copy(update={"apps": config.apps.model_copy(update={name: settings})})


@dataclass
class Stack:
    config: WerkConfig
    sim: SimOpcUaServer
    platform: Platform
    url: str
    workers: Workers | None = None


@asynccontextmanager
async def running_stack(
    config: WerkConfig, *, log_limit: int = 0, registry: Registry | None = None
) -> AsyncIterator[Stack]:
    sim = SimOpcUaServer(config, log_limit=log_limit)
    await bounded("sim.start", sim.start())
    platform = Platform(config, registry)
    await bounded("platform.start", platform.start())
    app = create_app(platform)
    workers = None
    if config.server.workers > 1:  # as werk serve starts them (werk/cli.py)
        workers = Workers.of(platform)
        await bounded("workers.start", workers.start(), timeout=90)
        server = http_server(workers.serving(app), config.server)
        serve = asyncio.create_task(server.serve(sockets=workers.sockets))
    else:
        server = http_server(app, config.server)  # as werk serve runs it
        serve = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield Stack(config, sim, platform, f"http://127.0.0.1:{config.server.port}", workers)
    finally:
        server.should_exit = True
        await bounded("uvicorn shutdown", serve)
        if workers is not None:
            await bounded("workers.stop", workers.stop())
        await bounded("platform.stop", platform.stop())
        await bounded("sim.stop", sim.stop())


async def bounded(what: str, step: Awaitable[object], timeout: float = 30.0) -> None:
    """A start or stop step that hangs fails with where every task waits, taken before the step is cancelled,
    instead of idling until pytest-timeout, whose thread dump shows only an event loop waiting in select()."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait([task], timeout=timeout)
    if done:
        task.result()
        return
    stacks = [f"{t.get_name()}: {' <- '.join(_await_chain(t))}" for t in asyncio.all_tasks()]
    task.cancel()
    raise AssertionError(f"{what} did not finish in {timeout} s; tasks:\n" + "\n".join(stacks))


def _await_chain(task: asyncio.Task[object]) -> list[str]:
    """Where a task waits, innermost last: its coroutine and every coroutine or generator it awaits (a task's own
    print_stack shows only the outermost frame, which hides the await that hangs)."""
    out = []
    obj: object = task.get_coro()
    for _ in range(50):
        frame = (
            getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None) or getattr(obj, "gi_frame", None)
        )
        if frame is not None:
            out.append(
                f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
            )
        nxt = (
            getattr(obj, "cr_await", None)
            or getattr(obj, "ag_await", None)
            or getattr(obj, "gi_yieldfrom", None)
        )
        if nxt is None:
            if obj is not None and frame is None:
                out.append(repr(obj)[:160])
            break
        obj = nxt
    return out


async def wait_until(predicate: object, timeout: float = 15.0, every: float = 0.05) -> None:
    """Poll a condition that has no event to await (state of another process or a remote server)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(every)


def stored_value(db: str | Path, submodel_id: str, element: str) -> object:
    """The value of a Property as the twin's file holds it, read as a restart would read it."""
    from werk.aas.backend.persistence import TwinPersistence
    from werk.aas.model import formats

    persistence = TwinPersistence(db)
    try:
        submodel = next(o for o in persistence.load() if o.id == submodel_id)
    finally:
        persistence.close()
    return formats.resolve(submodel, element).value  # type: ignore[attr-defined]
