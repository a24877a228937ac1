"""``werk serve`` on several cores: the primary's side of its worker processes (:mod:`werk.api.worker`).

The primary runs the platform (connectors, apps, live values, the twin's structure) and serves the whole API on the
port; with ``server.workers`` = N it starts N-1 workers that listen on the same port (``SO_REUSEPORT``: Linux
spreads new connections over the listening processes) and answer the AAS API's busiest operations themselves,
handing every other request to the primary over a Unix socket in a directory only werk's user can enter. The
primary sends each worker its :class:`~werk.api.worker.WorkerSpec`, then every batch of samples from the bus, on
the worker's stdin; a worker ends when that pipe ends, so none outlives the primary. A worker that dies is started
again (after a pause that grows with each death in a row, up to :attr:`WorkerPool.RESPAWN_MAX_S`).

Why processes and not threads: the API's work is Python and holds the GIL; why not uvicorn's own ``--workers``:
those would each run the whole platform (every connector twice). Workers are started in a session of their own, so
Ctrl+C reaches the primary alone, which stops them once it is done serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from werk.aas.backend import table_writer
from werk.aas.backend.group_commit import BUSY_TIMEOUT_S
from werk.api.http_server import add_front
from werk.api.worker import READY, WorkerSpec
from werk.bus.base import Bus, Overflow, feed
from werk.config.model import ServerConfig
from werk.core.model import Sample
from werk.runtime.sockets import PrivateSocket, listening_socket
from werk.security.secrets import plant_token_hash

if TYPE_CHECKING:
    from werk.runtime.platform import Platform

log = logging.getLogger(__name__)


def worker_server(server: ServerConfig, port: int) -> ServerConfig:
    """The primary's server settings for a worker: the port it bound, and its users by token digest (a token read
    from an environment variable is not passed on)."""
    users = []
    for u in server.users:
        if u.token_env is not None and u.token_hash is None and u.token_sha256 is None:
            secret = os.environ.get(u.token_env)
            if not secret:
                continue
            u = u.model_copy(update={"token_env": None, "token_hash": plant_token_hash(secret)})
        users.append(u.model_copy(update={"token_env": None}))
    return server.model_copy(update={"port": port, "users": users})


class WorkerPool:
    """``count`` worker processes, fed the live values and kept running until :meth:`stop`."""

    RESPAWN_S = 1.0
    RESPAWN_MAX_S = 30.0
    STOP_TIMEOUT_S = 30.0
    READY_TIMEOUT_S = 60.0
    MAX_BUFFER = 8 << 20  # bytes queued for a worker that does not read: beyond, its samples are dropped

    def __init__(self, spec: WorkerSpec, count: int, latest: Mapping[str, Sample]) -> None:
        self.spec = spec
        self.count = count
        self.latest = latest
        self.procs: list[asyncio.subprocess.Process | None] = [None] * count
        self.ready = [False] * count  # listening on the port
        self.started = 0  # processes started, respawns included
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._lagging: set[int] = set()

    async def start(self, bus: Bus | None) -> None:
        """Start the workers, and send them every batch of ``bus`` until :meth:`stop` (None: the caller sends
        samples with :meth:`publish`)."""
        for i in range(self.count):
            await self._spawn(i)
            self._tasks.append(asyncio.create_task(self._supervise(i), name=f"werk-worker-{i}"))
        if bus is not None:
            self._tasks.append(
                asyncio.create_task(
                    feed(bus, self.publish, overflow=Overflow.DROP_OLDEST), name="werk-worker-feed"
                )
            )

    async def _spawn(self, i: int) -> None:
        # it dies with the primary (table_writer.die_with_parent), asked for where the main thread starts it
        alone = threading.current_thread() is threading.main_thread()
        spec = dataclasses.replace(self.spec, parent=os.getpid() if alone else 0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "werk.api.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(table_writer.frame(spec))
        proc.stdin.write(table_writer.frame(list(self.latest.values())))
        self.procs[i] = proc
        self.ready[i] = False
        self.started += 1
        self._lagging.discard(i)
        # connections are spread over the processes listening when they come: wait until this one does
        try:
            said = await asyncio.wait_for(proc.stdout.readline(), self.READY_TIMEOUT_S)
        except TimeoutError:
            said = b""
        self.ready[i] = said == READY
        if not self.ready[i]:
            log.error("werk.worker.not_ready pid=%d: it did not start listening", proc.pid)

    async def _supervise(self, i: int) -> None:
        pause = self.RESPAWN_S
        while True:
            proc = self.procs[i]
            assert proc is not None
            began = asyncio.get_running_loop().time()
            code = await proc.wait()
            if self._closing:
                return
            if asyncio.get_running_loop().time() - began > self.RESPAWN_MAX_S:
                pause = self.RESPAWN_S  # it served a while: not a death in a row
            log.error("werk.worker.died pid=%d code=%s: starting another in %.0f s", proc.pid, code, pause)
            await asyncio.sleep(pause)
            if self._closing:
                return
            pause = min(pause * 2, self.RESPAWN_MAX_S)
            await self._spawn(i)

    def publish(self, batch: list[Sample]) -> None:
        """Send a batch of samples to every worker, never waiting: a worker that falls behind loses samples (a live
        value is the newest sample; the next batch brings it), logged once until it catches up."""
        message = table_writer.frame(batch)
        for i, proc in enumerate(self.procs):
            if proc is None or proc.stdin is None or proc.stdin.is_closing():
                continue
            if proc.stdin.transport.get_write_buffer_size() > self.MAX_BUFFER:
                if i not in self._lagging:
                    self._lagging.add(i)
                    log.warning("werk.worker.lagging pid=%d: its live values are behind", proc.pid)
                continue
            self._lagging.discard(i)
            proc.stdin.write(message)

    async def stop(self) -> None:
        """End every worker: its stdin closes, it stops serving and stores its last values."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        procs = [p for p in self.procs if p is not None]
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), self.STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("werk.worker.hung pid=%d: killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


class FromWorkers:
    """ASGI middleware of the primary: a request that came over its workers' Unix socket gets the client address
    and scheme its worker saw (the X-Forwarded-* headers :mod:`werk.api.upstream` sets, from that worker's own
    trusted view), so descriptors and logs say what they would have said had the primary taken the request itself.
    Only werk's processes reach that socket; on the port these headers count only as ``server.forwarded_allow_ips``
    says (uvicorn)."""

    def __init__(self, app: ASGIApp, socket_path: str) -> None:
        self.app = app
        self.socket_path = socket_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] == "http" and server is not None and server[0] == self.socket_path:
            scope = dict(scope)
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    scope["client"] = (value.decode("latin-1"), 0)
                elif name == b"x-forwarded-proto":
                    scope["scheme"] = value.decode("latin-1")
        await self.app(scope, receive, send)


class Workers:
    """What the primary adds for ``server.workers`` > 1: the port's socket it shares with its workers, the Unix socket
    it serves them on (both for uvicorn's ``serve(sockets=...)``), and the workers, fed ``latest`` first and then
    every batch of ``bus`` (None: the caller publishes samples through :attr:`pool`)."""

    def __init__(
        self, server: ServerConfig, twin_path: str, writer: str, latest: Mapping[str, Sample], bus: Bus | None
    ) -> None:
        self.server = server
        self.twin_path = twin_path
        self.writer = writer  # the Unix socket of the primary's twin writer
        self.latest = latest
        self.bus = bus
        self.sockets: list[socket.socket] = []
        self.private: PrivateSocket | None = None
        self.pool: WorkerPool | None = None
        self.enterprise = ""
        self.aas_paths: dict[str, str] = {}  # AAS id -> asset UNS path, for scoped grants in the workers
        self.security_url: str | None = None  # werk's users and audit on PostgreSQL (None: the file)

    @classmethod
    def of(cls, platform: Platform) -> Workers:
        """The workers of a started platform (``werk serve``)."""
        assert platform.twin_writer is not None, "a platform with server.workers > 1 shares its twin's writer"
        config = platform.config
        workers = cls(
            config.server,
            config.historian.path,
            platform.twin_writer.path,
            platform.live.latest,
            platform.bus,
        )
        workers.enterprise = config.plant.enterprise
        workers.aas_paths = {ref.aas_id: ref.path for ref in config.assets()}
        if config.historian.backend == "postgresql":
            workers.security_url = config.historian.url
        return workers

    async def start(self) -> None:
        tcp = listening_socket(self.server.host, self.server.port)
        self.sockets.append(tcp)
        self.private = PrivateSocket("primary.sock")
        self.sockets.append(self.private.sock)
        spec = WorkerSpec(
            twin_path=self.twin_path,
            writer=self.writer,
            server=worker_server(self.server, tcp.getsockname()[1]),
            upstream=self.private.path,
            busy_timeout_s=BUSY_TIMEOUT_S,
            enterprise=self.enterprise,
            aas_paths=dict(self.aas_paths),
            security_url=self.security_url,
        )
        self.pool = WorkerPool(spec, self.server.workers - 1, self.latest)
        await self.pool.start(self.bus)

    def serving(self, app: Starlette) -> Starlette:
        """The primary's app as it serves its workers too (call after :meth:`start`): :class:`FromWorkers` in front
        of it (``werk.api.http_server.add_front``)."""
        assert self.private is not None
        add_front(app, partial(FromWorkers, socket_path=self.private.path))
        return app

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.stop()
        for sock in self.sockets:
            sock.close()
        if self.private is not None:
            self.private.close()
