"""AAS Part 2 API throughput and latency: werk's router under uvicorn against basyx-python-sdk 1.2.1's WSGIApp under
gunicorn, on the same environment, in the same run, over loopback.

    .venv/bin/python benchmarks/aas_api.py [--duration 8] [--rounds 3] [--connections 32] [--basyx-workers 2]
        [--werk-workers 1] [--only patch] [--quick] [--memory-only] [--event-loop auto|asyncio|uvloop] [--live-hz 10]

The peer: basyx-python-sdk 1.2.1 (``basyx.aas.adapter.http.WSGIApp``), the reference server of the SDK werk builds
on, served by gunicorn (sync workers, one per core by default). 1.2.1 conflicts with werk's basyx 2.x, so it lives in
a venv of its own under ``$XDG_CACHE_HOME/werk-bench`` (created on first use with ``python -m venv`` and
``pip install basyx-python-sdk==1.2.1 gunicorn``). werk runs as ``werk serve`` runs it by default: one uvicorn
process (``--werk-workers N``: the primary and N-1 worker processes on the same port, as ``server.workers``; on the
2-core benchmark machine that answers reads faster and durable PATCHes slower, BENCHMARKS.md) on the event loop werk
picks (:mod:`werk.event_loop`: uvloop where installed; uvicorn's httptools parser), the AAS router mounted with its
fast path in front (:mod:`werk.aas.http.fast`), and the twin persisted to a SQLite file by the platform's group-commit
writer and its process, so a PATCH is answered only once it is durable. basyx keeps its objects in memory and
persists nothing.

Noise: the benchmark machine's two cores are shared with the load generator and with whatever else runs on the
host (the same pure-Python loop took 0.33-0.42 s over a minute). So werk and basyx take turns, ``--rounds`` times
per endpoint, each run printed as it ends (with the share of CPU time the hypervisor kept from the VM during it,
``steal`` in ``/proc/stat``, where it is 1% or more, and each round's werk/basyx ratio), and the table gives each
side's median run; the verdict is the ratio of those medians.

Data: werk's demo plant (``build_environment``) with a live sample for every bound signal, written once as AAS JSON;
the basyx server reads that file, werk serves the same objects and resolves its live values on every read.
``--live-hz N`` makes werk's samples change: every bound signal gets a new sample N times a second (in werk's process,
as the platform's live values would), so reads cannot keep serving one cached answer.

Operations: basyx 1.2.1 answers ``GET .../$value`` and ``PATCH .../$value`` with 501 (not implemented; its module
docstring says so), so on the basyx side those rows measure the nearest operation it has: ``GET`` of the element (the
full Property, a superset of its value) and ``PUT`` of the element (replace the Property with a new value). The table
names the operation each side ran.

Bounds: two rows under the table are no AAS work at all, on werk's server: the floor (an empty FastAPI route) and
the ceiling (a bare ASGI answer, :func:`bare_app`, in a process of its own under the same uvicorn settings, GET and
PATCH, ``--rounds`` runs each). For each endpoint the last lines say how much of the ceiling werk reaches and how
much the goal would take: on a machine where 5x basyx is near the bare answer's rate, no AAS server in one such
process can reach it.

Load: ``wrk`` (C, keeps ``--connections`` connections busy for ``--duration`` seconds per endpoint; installed by
``scripts/ensure-wrk``, which ``make bench`` runs). Without it the benchmark stops and says so: a load generator in
Python would take the cores it measures (the figures would be the client's). Every non-2xx answer is counted and
makes the row fail. Loopback only. ``--quick``: one round of 3 s per endpoint.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token"
API = "/api/v3.0"
GOAL = 5.0
BASYX_VERSION = "1.2.1"
T0 = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- data ---------------------------------------------------------------------------------------------------------


def demo_samples() -> dict[str, Any]:
    """A typed value for every bound signal of the demo plant (so werk's reads resolve live values)."""
    from werk.config import demo_config_path, load_config
    from werk.core.model import Sample

    latest: dict[str, Sample] = {}
    for ref in load_config(demo_config_path()).assets():
        for i, signal_name in enumerate(sorted(ref.config.bound_signals())):
            path = ref.signal_path(signal_name)
            value: float | int | str = (
                "PROCESSING" if signal_name in ("state", "execution", "mode", "product") else 10.0 + i
            )
            if signal_name.endswith("_count"):
                value = 1000 + i
            latest[path] = Sample(path, T0, value)
    return latest


def write_environment(path: Path) -> None:
    """The demo environment with live values filled in, as AAS JSON (the file both servers load)."""
    from werk.aas.adapter import io as aas_io
    from werk.config import demo_config_path, load_config
    from werk.twin.binding import refresh
    from werk.twin.environment import build_environment

    objects = list(build_environment(load_config(demo_config_path())))
    latest = demo_samples()
    for obj in objects:
        refresh(obj, latest.get)
    path.write_bytes(aas_io.write_json(objects))


# --- servers ------------------------------------------------------------------------------------------------------


def serve_werk(
    env_file: Path,
    port: int,
    live_hz: float = 0.0,
    persist: bool = True,
    loop: str = "auto",
    workers: int = 1,
) -> None:
    """Entry point of the werk server subprocess: the AAS router alone, as ``werk.api.app`` mounts it, over a twin
    persisted as ``werk.twin.plant.open_twin`` does it (``persist=False``: in memory only, as basyx keeps it),
    served by uvicorn on the event loop ``werk serve`` picks (``werk.event_loop``; ``loop`` as its setting).
    ``workers`` > 1: this process is the primary and starts ``workers - 1`` worker processes on the same port, as
    ``werk serve`` does with ``server.workers`` (``werk.api.workers``), following the twin's file as the platform
    does then."""
    import asyncio
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager
    from dataclasses import replace
    from functools import partial

    from fastapi import FastAPI

    from werk import event_loop
    from werk.aas.adapter import io as aas_io
    from werk.aas.backend.follow import follow
    from werk.aas.backend.persistence import TwinPersistence
    from werk.aas.backend.store import TwinStore
    from werk.aas.http import WRITER_ROLE, build_aas_api
    from werk.api.auth import Authenticator, token_digest
    from werk.api.http_server import HttpServer, add_front, uvicorn_config
    from werk.api.workers import Workers
    from werk.config.model import ServerConfig, UserConfig
    from werk.runtime.sockets import PrivateSocket
    from werk.twin.binding import UnsBinding

    loaded = aas_io.read_file(env_file)
    persistence = TwinPersistence(env_file.with_name("werk.db"))
    persistence.save_all(list(loaded.objects))
    store = TwinStore(loaded.objects)
    writer = PrivateSocket("twin-writer.sock") if workers > 1 else None  # as the platform shares its writer
    if persist:
        persistence.attach(store, share=None if writer is None else writer.sock)
    latest = demo_samples()
    user = UserConfig(name="bench", role="admin", token_sha256=token_digest(TOKEN))
    server_config = ServerConfig(users=[user], workers=workers, port=port, event_loop=loop)  # type: ignore[arg-type]
    shared: Workers | None = None
    if workers > 1:
        if writer is None or persistence.writer is None:
            raise SystemExit("--werk-workers > 1 needs the twin in its file (not --memory-only)")
        follow(persistence, store, writes_structure=True)  # as the platform does with server.workers > 1
        shared = Workers(server_config, str(persistence.path), writer.path, latest, None)

    async def tick() -> None:
        """New samples for every signal, as the platform's live values get them from the bus."""
        while True:
            await asyncio.sleep(1 / live_hz)
            now = datetime.now(UTC)
            for path, s in list(latest.items()):
                number = isinstance(s.value, int | float) and not isinstance(s.value, bool)
                value = s.value + 1 if number else s.value
                latest[path] = replace(s, ts=now, value=value)
            if shared is not None and shared.pool is not None:  # as the bus's batches reach the workers
                shared.pool.publish(list(latest.values()))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(tick()) if live_hz > 0 else None
        if persistence.writer is not None:  # as the platform does at its start
            persistence.writer.serve_on(asyncio.get_running_loop())
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(lifespan=lifespan)  # as create_app builds werk's app

    @app.get("/floor")
    async def floor() -> dict[str, float]:
        """The framework's floor: an empty async route on the same server (no AAS work at all)."""
        return {"temperature": 41.5}

    # as werk.api.app mounts the AAS API: its routers, writes authorized by server.users, the fast path in front
    authorize = partial(Authenticator(server_config).authorize, role=WRITER_ROLE)
    api = build_aas_api(store, None, UnsBinding(latest.get), authorize=authorize)
    for router in api.routers:
        app.include_router(router)
    add_front(app, api.fast_path)
    gc.collect()  # as werk serve does before it serves (werk/cli.py)
    gc.freeze()

    async def serve() -> None:
        """As werk/cli.py serves: with its workers and their sockets where there are any."""
        if shared is None:
            config = uvicorn_config(app, server_config)
            config.lifespan = "on"  # the benchmark's app binds the writer to the loop in its lifespan
            await HttpServer(config).serve()
            return
        await shared.start()
        try:
            config = uvicorn_config(shared.serving(app), server_config)
            config.lifespan = "on"
            await HttpServer(config).serve(sockets=shared.sockets)
        finally:
            await shared.stop()

    try:
        event_loop.run(serve(), loop)  # type: ignore[arg-type]
    except event_loop.Terminated:
        pass  # the benchmark's stop(): the server stopped as werk serve does on SIGTERM
    finally:
        if writer is not None:
            writer.close()


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The server's ceiling: the least an ASGI app can do per request (read the body, answer), no werk and no
    framework. A GET answers a 4-byte JSON number, a PATCH reads its body and answers 204, as werk's do."""
    if scope["type"] != "http":
        return
    if scope["method"] == "PATCH":
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-length", b"4"), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"41.5"})


def serve_bare(port: int, loop: str = "auto") -> None:
    """Entry point of the ceiling's server subprocess: :func:`bare_app` under uvicorn as ``werk serve`` runs it."""
    from werk import event_loop
    from werk.api.http_server import HttpServer, uvicorn_config
    from werk.config.model import ServerConfig

    config = uvicorn_config(bare_app, ServerConfig(), port=port)
    with contextlib.suppress(event_loop.Terminated):
        event_loop.run(HttpServer(config).serve(), loop)  # type: ignore[arg-type]


BASYX_APP = """
from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.http import WSGIApp
from basyx.aas.adapter.json import read_aas_json_file

with open({env!r}, encoding="utf-8") as f:
    store = read_aas_json_file(f)
app = WSGIApp(store, aasx.DictSupplementaryFileContainer())
"""


def basyx_venv() -> Path:
    """The venv holding basyx-python-sdk 1.2.1 and gunicorn; created on first use."""
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "werk-bench"
        / f"basyx-{BASYX_VERSION}"
    )
    python = cache / "bin" / "python"
    ok = (
        python.exists()
        and subprocess.run(
            [str(python), "-c", "import basyx.aas.adapter.http, gunicorn"], capture_output=True
        ).returncode
        == 0
    )
    if not ok:
        print(f"creating {cache} with basyx-python-sdk=={BASYX_VERSION} and gunicorn ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(cache)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"basyx-python-sdk=={BASYX_VERSION}", "gunicorn"],
            check=True,
        )
    return cache


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not listen within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- load ---------------------------------------------------------------------------------------------------------


@dataclass
class Op:
    label: str
    method: str
    path: str
    body: str | None = None


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    # share of the VM's CPU time the hypervisor did not give it during the run (other guests, its own work)
    steal: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_WRK_LUA = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
{body}
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) CPU time of the machine so far, in clock ticks (Linux ``/proc/stat``), or None elsewhere.

    Why: on a virtual machine the time the hypervisor keeps a virtual CPU waiting (for other guests, or for its own
    work on the guest's behalf) shows as steal. One 6 s run of the same PATCH load gave 8,800 and 16,200 requests/s a
    minute apart on the 2-core benchmark VM; printed beside each run, steal tells a slow host from a slow server, in
    part."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[:1] != ["cpu"] or len(fields) < 9:
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return ticks[7], sum(ticks)


def measured(run: Callable[[], Result]) -> Result:
    """``run()``'s result, with the share of CPU time stolen from the machine while it ran."""
    before = cpu_times()
    result = run()
    after = cpu_times()
    if before is not None and after is not None and after[1] > before[1]:
        result.steal = (after[0] - before[0]) / (after[1] - before[1])
    return result


def median_run(runs: list[Result]) -> Result:
    """The run of median throughput (its latencies with it); the errors of all runs."""
    ranked = sorted(runs, key=lambda r: r.rps)
    mid = ranked[len(ranked) // 2]
    return Result(mid.requests, mid.seconds, sum(r.errors for r in runs), mid.p50_ms, mid.p99_ms, mid.steal)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, op: Op, duration: float, connections: int, workdir: Path) -> Result:
    script = workdir / "op.lua"
    body = f"wrk.body = {json.dumps(op.body)}" if op.body is not None else ""
    script.write_text(_WRK_LUA.format(method=op.method, token=TOKEN, body=body))
    threads = max(1, min(2, connections))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))  # wrk pads "1.70s "
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if m is None or "50" not in lat or "99" not in lat:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += (
        sum(
            int(x)
            for x in re.findall(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)[
                0
            ]
        )
        if "Socket errors" in out
        else 0
    )
    return Result(
        int(m.group(1)), _ms(m.group(2) + m.group(3)) / 1000.0, errors, _ms(lat["50"]), _ms(lat["99"])
    )


def operations() -> tuple[list[Op], list[Op]]:
    """The four operations on werk and the nearest basyx 1.2.1 has for each (see the module docstring)."""
    from werk.config import demo_config_path, load_config

    ref = next(iter(load_config(demo_config_path()).assets()))
    live_sm = f"{API}/submodels/{b64(ref.aas_id + '/submodels/OperationalData')}"
    tech_sm = f"{API}/submodels/{b64(ref.aas_id + '/submodels/TechnicalData')}"
    read_el = f"{live_sm}/submodel-elements/temperature"
    # one unbound Property both write (basyx 1.2.1 addresses no list items, its idShort paths are dotted idShorts).
    # Not a list item for werk alone: its URL's percent-encoded brackets cost uvicorn's unquote of the path about
    # 22,000 instructions a request (callgrind), a tenth of werk's PATCH, which basyx's dotted path never pays.
    write_el = basyx_el = f"{tech_sm}/submodel-elements/GeneralInformation.ManufacturerOrderCode"
    prop = {
        "modelType": "Property",
        "idShort": "ManufacturerOrderCode",
        "valueType": "xs:string",
        "value": "41.0",
        "semanticId": {
            "type": "ExternalReference",
            "keys": [{"type": "GlobalReference", "value": "0173-1#02-AAO227#004"}],
        },
    }
    werk = [
        Op("GET /shells", "GET", f"{API}/shells"),
        Op("GET /submodels/{id}", "GET", live_sm),
        Op("GET .../{path}/$value", "GET", read_el + "/$value"),
        Op("PATCH .../{path}/$value", "PATCH", write_el + "/$value", json.dumps("41.0")),
    ]
    basyx = [
        Op("GET /shells", "GET", f"{API}/shells"),
        Op("GET /submodels/{id}", "GET", live_sm),
        Op("GET .../{path} (no $value in 1.2.1)", "GET", read_el),
        Op("PUT .../{path} (no PATCH in 1.2.1)", "PUT", basyx_el, json.dumps(prop)),
    ]
    return werk, basyx


def check(base: str, op: Op) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    r = httpx.request(op.method, base + op.path, content=op.body, headers=headers, timeout=30)
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"{op.method} {op.path} answered {r.status_code}: {r.text[:300]}")


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=8.0, help="seconds of load per endpoint and server")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections of the load generator")
    p.add_argument("--basyx-workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (cores)")
    p.add_argument(
        "--werk-workers",
        type=int,
        default=1,
        help="werk's processes on the port (server.workers, whose default is 1: the primary alone)",
    )
    p.add_argument(
        "--quick", action="store_true", help="one round of 3 s per endpoint (a check, not a figure)"
    )
    p.add_argument(
        "--live-hz", type=float, default=0.0, help="new werk samples per signal and second (0: none)"
    )
    p.add_argument(
        "--memory-only",
        action="store_true",
        help="werk does not persist its twin (as basyx): what durability costs",
    )
    p.add_argument(
        "--only",
        help="comma-separated endpoints to measure, by the start of their label in lower case (e.g. 'patch,get /shells')",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="werk and basyx take turns this many times per endpoint; the table gives the medians",
    )
    p.add_argument(
        "--event-loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="werk's event loop, as server.event_loop in the plant file (auto: uvloop where installed)",
    )
    p.add_argument("--serve-werk", nargs=2, metavar=("ENV_FILE", "PORT"), help=argparse.SUPPRESS)
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_bare:
        serve_bare(a.serve_bare, a.event_loop)
        return
    if a.serve_werk:
        serve_werk(
            Path(a.serve_werk[0]),
            int(a.serve_werk[1]),
            a.live_hz,
            not a.memory_only,
            a.event_loop,
            a.werk_workers,
        )
        return

    if a.quick:
        a.rounds, a.duration = 1, 3.0
        print("quick run: one round of 3 s per endpoint (a check, not the figure of record)")
    if shutil.which("wrk") is None:
        sys.exit(
            "aas_api.py: wrk is not installed; run scripts/ensure-wrk (as root it installs Debian's wrk) or "
            "apt-get install wrk. A load generator in Python would share the cores it measures."
        )
    venv = basyx_venv()
    werk_ops, basyx_ops = operations()
    if a.only:
        wanted = [w.strip() for w in a.only.lower().split(",")]
        keep = [i for i, op in enumerate(werk_ops) if any(op.label.lower().startswith(w) for w in wanted)]
        if not keep:
            p.error(f"--only {a.only!r} matches none of {[op.label for op in werk_ops]}")
        werk_ops, basyx_ops = [werk_ops[i] for i in keep], [basyx_ops[i] for i in keep]
    print(f"machine: {machine_info()}")
    from werk.event_loop import loop_factory

    loop_name = loop_factory(a.event_loop).__module__.split(".")[0]  # uvloop, or asyncio's own
    print(
        f"werk: AAS router (FastAPI + fast path) under uvicorn {_version('uvicorn')}, {_processes(a.werk_workers)}, "
        f"{loop_name} loop, "
        f"{'no persistence' if a.memory_only else 'SQLite group commit (writer process)'}, live samples "
        f"{a.live_hz:g}/s per signal | peer: basyx-python-sdk {BASYX_VERSION} WSGIApp under gunicorn, "
        f"{a.basyx_workers} sync workers (= cores) | load: wrk, "
        f"{a.connections} connections, {a.duration:g} s per run, {a.rounds} rounds taking turns, loopback"
    )
    with tempfile.TemporaryDirectory(prefix="werk-aas-bench-") as tmp:
        work = Path(tmp)

        def load(url: str, op: Op) -> Result:
            return run_wrk(url, op, a.duration, a.connections, work)

        env_file = work / "environment.json"
        write_environment(env_file)
        (work / "basyx_app.py").write_text(textwrap.dedent(BASYX_APP.format(env=str(env_file))))
        werk_port, basyx_port = free_port(), free_port()
        werk = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-werk",
                str(env_file),
                str(werk_port),
                "--live-hz",
                str(a.live_hz),
                "--event-loop",
                a.event_loop,
                "--werk-workers",
                str(a.werk_workers),
                *(["--memory-only"] if a.memory_only else []),
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        basyx = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "--workers",
                str(a.basyx_workers),
                "--bind",
                f"127.0.0.1:{basyx_port}",
                "--log-level",
                "warning",
                "--chdir",
                str(work),
                "basyx_app:app",
            ],
            start_new_session=True,
        )
        try:
            wait_listening(werk_port, werk)
            wait_listening(basyx_port, basyx)
            werk_base, basyx_base = f"http://127.0.0.1:{werk_port}", f"http://127.0.0.1:{basyx_port}"
            rows: list[tuple[Op, Op, Result, Result]] = []
            steals: list[float] = []
            for w_op, b_op in zip(werk_ops, basyx_ops, strict=True):
                check(werk_base, w_op)
                check(basyx_base, b_op)
                runs: tuple[list[Result], list[Result]] = ([], [])
                for _ in range(a.rounds):  # taking turns: a slow minute of the machine hits both sides
                    for side, (base, op) in enumerate(((werk_base, w_op), (basyx_base, b_op))):
                        url = base + op.path
                        runs[side].append(measured(partial(load, url, op)))
                rows.append((w_op, b_op, median_run(runs[0]), median_run(runs[1])))
                steals += [r.steal for r in (*runs[0], *runs[1]) if r.steal is not None]
                pairs = list(zip(*runs, strict=True))
                spread = " / ".join(f"{w.rps:,.0f} vs {b.rps:,.0f}{_steal(w, b)}" for w, b in pairs)
                paired = sorted(w.rps / b.rps for w, b in pairs if b.rps)
                print(
                    f"  measured {w_op.label}: {spread} req/s; paired ratios "
                    f"{', '.join(f'{r:.1f}' for r in paired)}",
                    flush=True,
                )
            floor = load(werk_base + "/floor", Op("floor", "GET", "/floor"))
        finally:
            stop(werk)
            stop(basyx)
        ceiling = measure_ceiling(a, load)
    print()
    head = f"{'endpoint':<28} {'werk req/s':>11} {'basyx req/s':>12} {'ratio':>7} {'werk p50/p99 ms':>17} {'basyx p50/p99 ms':>18}  basyx ran"
    print(head)
    print("-" * len(head))
    failed = False
    short: list[str] = []
    for w_op, b_op, w, b in rows:
        ratio = w.rps / b.rps if b.rps else float("inf")
        mark = "" if ratio >= GOAL else "  < goal"
        if ratio < GOAL:
            short.append(f"{w_op.label} {ratio:.1f}x")
        if w.errors or b.errors:
            mark += f"  ERRORS werk={w.errors} basyx={b.errors}"
            short.append(f"{w_op.label}: errors werk {w.errors}, basyx {b.errors}")
            failed = True
        print(
            f"{w_op.label:<28} {w.rps:>11,.0f} {b.rps:>12,.0f} {ratio:>6.1f}x "
            f"{w.p50_ms:>8.2f}/{w.p99_ms:<8.2f} {b.p50_ms:>9.2f}/{b.p99_ms:<8.2f}  {b_op.method} "
            f"{b_op.label.split(' ', 1)[1]}{mark}"
        )
    print(
        f"{'(floor: empty FastAPI route)':<28} {floor.rps:>11,.0f} {'':>12} {'':>7} "
        f"{floor.p50_ms:>8.2f}/{floor.p99_ms:<8.2f}"
    )
    for method, r in ceiling.items():
        print(
            f"{f'(ceiling: bare ASGI {method})':<28} {r.rps:>11,.0f} {'':>12} {'':>7} "
            f"{r.p50_ms:>8.2f}/{r.p99_ms:<8.2f}"
        )
    for w_op, _, w, b in rows:
        bare = ceiling["PATCH" if w_op.method == "PATCH" else "GET"]
        print(
            f"  {w_op.label}: werk does {w.rps / bare.rps:.0%} of the bare answer's rate; {GOAL:g}x basyx would "
            f"need {GOAL * b.rps / bare.rps:.0%} of it"
        )
    if steals:
        print(
            f"CPU time the hypervisor kept from the VM during the runs (steal): {min(steals):.0%} to "
            f"{max(steals):.0%}"
        )
    what = f"goal werk >= {GOAL:g}x basyx {BASYX_VERSION} throughput on every endpoint"
    print(f"\n{what}: not met ({'; '.join(short)})" if short else f"\n{what}: met")
    if failed:
        sys.exit(1)


def measure_ceiling(a: argparse.Namespace, load: Callable[[str, Op], Result]) -> dict[str, Result]:
    """The bare ASGI answer's rate (:func:`bare_app`) for GET and PATCH, ``a.rounds`` runs each, median: what the
    server and the machine allow at all, so a row's ratio can be read against what reaching the goal would take."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port), "--event-loop", a.event_loop],
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/bare"
        out: dict[str, Result] = {}
        for method, body in (("GET", None), ("PATCH", "41.0")):
            op = Op(f"bare {method}", method, "/bare", body)
            out[method] = median_run([measured(partial(load, url, op)) for _ in range(a.rounds)])
        return out
    finally:
        stop(proc)


def _steal(*runs: Result) -> str:
    """The CPU time stolen during these runs, where the hypervisor took any worth naming (1% or more)."""
    shares = [r.steal for r in runs if r.steal is not None]
    worst = max(shares, default=0.0)
    return f" (steal {', '.join(f'{x:.0%}' for x in shares)})" if worst >= 0.01 else ""


def _processes(workers: int) -> str:
    return (
        "1 process"
        if workers == 1
        else f"{workers} processes (server.workers: the primary and {workers - 1} more)"
    )


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
