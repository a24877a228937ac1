"""A worker process of ``werk serve``: the AAS API's busiest operations from its own copy of the twin.

Why: one Python process serves the API from one core (the GIL), and on the benchmark machines a durable PATCH
``$value`` spends most of its time in uvicorn and werk's own code, not waiting (BENCHMARKS.md). With
``server.workers`` > 1, the primary (:mod:`werk.api.workers`) starts this module as further processes that listen
on the same port (``SO_REUSEPORT``: the kernel spreads the connections). Each one:

- loads the twin from the SQLite file and keeps it level with every commit (:class:`werk.aas.backend.follow.TwinFollower`);
- answers what :class:`werk.aas.http.fast.AasFastPath` answers (cached reads of shells, submodels and ``$value``,
  PATCH ``$value`` of a Property not bound to a machine), its value writes batched as the primary's are and
  committed by the primary's writer process, in the same transactions as the primary's own (one fsync for all),
  so a write is acknowledged only once durable, as in the primary;
- hands every other request, unchanged, to the primary over a Unix socket (:class:`werk.api.upstream.UpstreamProxy`):
  structural writes (the primary writes whole objects alone), writes to machines, the dashboard, the other APIs;
- says ``ready`` on its stdout once it listens;
- reads the live values the primary sends on its stdin (frames of :mod:`werk.aas.backend.table_writer`: first a
  :class:`WorkerSpec`, then lists of samples), and ends when that pipe ends (the primary stopped or died).

Run as ``python -m werk.api.worker`` by the primary only.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from werk import event_loop
from werk.aas.backend import table_writer
from werk.aas.backend.follow import follow
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.aas.http import API_PREFIX, WRITER_ROLE, build_aas_api, upload_paths
from werk.aas.http.access_front import access_rules_of
from werk.api.auth import Authenticator
from werk.api.http_server import http_server
from werk.api.security import SecurityFront, aas_visible, twin_targets
from werk.api.upstream import UpstreamProxy
from werk.config.model import ServerConfig
from werk.errors import StoreError
from werk.runtime.latest import LatestValues
from werk.runtime.sockets import listening_socket
from werk.security.audit import AuditLog
from werk.security.store import SecurityStore
from werk.store.app_database import AppDatabase, SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile
from werk.twin.binding import UnsBinding

log = logging.getLogger(__name__)

READY = b"ready\n"
"""What a worker writes on its stdout once it listens."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs from the primary, on its stdin: users carry token digests only; ``security_url`` is the
    plant file's ``historian.url`` (a password is better in ``PGPASSWORD`` than in it, as for every process)."""

    twin_path: str
    writer: str  # the Unix socket of the primary's twin writer, which commits this worker's values too
    server: ServerConfig  # host, the port the primary bound, the event loop, users with token_sha256
    upstream: str  # the primary's Unix socket
    busy_timeout_s: float
    parent: int = 0  # the pid to die with (0: none; see table_writer.die_with_parent)
    enterprise: str = ""  # the plant's, for grants whose scope leaves it out
    aas_paths: dict[str, str] = field(default_factory=dict)  # AAS id -> asset UNS path (scoped grants)
    # historian.backend: postgresql: werk's users and audit trail are on that server, not in the file
    security_url: str | None = None


class LiveFeed(LatestValues):
    """The platform's live values, as the primary's stdin frames bring them instead of a bus."""

    def __init__(self, frames: table_writer.FrameReader) -> None:
        super().__init__()
        self._frames = frames
        self.ended = asyncio.Event()

    def feed(self, data: bytes) -> None:
        if not data:
            self.ended.set()
            return
        for batch in self._frames.feed(data):
            self.apply(batch)


def _refuse_structure(identifier: str, _: object) -> None:
    raise StoreError(f"a worker does not write whole objects ({identifier}); the primary does")


async def serve(spec: WorkerSpec, feed: LiveFeed) -> None:
    persistence = TwinPersistence(spec.twin_path, busy_timeout_s=spec.busy_timeout_s)
    proxy = UpstreamProxy(spec.upstream)
    closing: list[Callable[[], None]] = []
    try:
        objects, seq, epoch = persistence.snapshot()
        store = TwinStore(objects)
        persistence.attach(store, connect=spec.writer)
        group = persistence.writer
        assert group is not None, "a worker's twin is a file, never :memory:"
        group.serve_on(asyncio.get_running_loop())
        # the fast path writes values alone; a bug must not overwrite objects
        store.on_change = _refuse_structure
        follow(persistence, store, writes_structure=False, seq=seq, epoch=epoch)
        # werk's users, tokens, sessions and audit trail where the primary keeps them (its migrations ran)
        security_db = await asyncio.to_thread(_security_database, spec)
        closing.append(security_db.close)
        audit = AuditLog(security_db)
        sec = spec.server.security
        users = SecurityStore(security_db, audit, lockout_after=sec.lockout_after, lockout_s=sec.lockout_s)
        auth = Authenticator(spec.server, users, enterprise=spec.enterprise)
        # its routes are never served here (the fast path's "anything else" is the primary): the API gives the
        # fast path its views, prefix and authorization
        auth.targets = places = twin_targets(store, spec.aas_paths, API_PREFIX)
        api = build_aas_api(
            store,
            None,
            UnsBinding(feed.latest.get),
            authorize=partial(auth.authorize, role=WRITER_ROLE),
            visible=aas_visible(auth, places),
            access=access_rules_of(spec.server, auth.identify),
        )
        app = SecurityFront(api.fast_path(proxy), auth, spec.server)
        sock = listening_socket(spec.server.host, spec.server.port)
        server = http_server(app, spec.server, uploads=upload_paths())
        gc.collect()  # as the primary does (werk.cli): the start-up heap out of the cyclic GC
        gc.freeze()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            os.write(sys.stdout.fileno(), READY)  # the primary waits for this before it says it serves
            # nobody reads that pipe any more: a print must not fill it and stop the worker
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        ended = asyncio.create_task(feed.ended.wait())
        await asyncio.wait({serving, ended}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        ended.cancel()
    finally:
        await proxy.aclose()
        for close in closing:
            await asyncio.to_thread(close)
        await asyncio.to_thread(persistence.close)  # the last values are stored before the process ends


def _security_database(spec: WorkerSpec) -> AppDatabase:
    """Where the primary keeps werk's users and audit trail, open: its PostgreSQL server, or the werk file."""
    if spec.security_url is not None:
        from werk.store.app_postgres import PostgresAppDatabase  # psycopg only where it is used

        db = PostgresAppDatabase(spec.security_url)
        db.open()
        return db
    file = SQLiteFile(spec.twin_path)
    file.open()
    return _OwnFile(file)


class _OwnFile(SQLiteAppDatabase):
    """The werk file opened for the worker's security tables alone: closed with them."""

    def close(self) -> None:
        self.file.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format=f"werk-worker[{os.getpid()}] %(levelname)s %(message)s")
    fd = sys.stdin.fileno()  # read raw: a buffered reader would keep the frames after the spec from the loop
    frames = table_writer.FrameReader()
    first: list[object] = []
    while not first:
        data = os.read(fd, 1 << 16)
        if not data:
            sys.exit("werk.api.worker: run by werk serve only (no worker spec on stdin)")
        first.extend(frames.feed(data))
    spec = first.pop(0)
    if not isinstance(spec, WorkerSpec):
        sys.exit("werk.api.worker: run by werk serve only (no worker spec on stdin)")
    table_writer.die_with_parent(spec.parent)
    feed = LiveFeed(frames)
    for batch in first:
        feed.apply(batch)  # type: ignore[arg-type]

    async def run() -> None:
        loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)

        def readable() -> None:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(fd)
            feed.feed(data)

        loop.add_reader(fd, readable)
        await serve(spec, feed)

    # a TERM to the whole group (a service manager's stop): it stopped as on a closed stdin
    with contextlib.suppress(event_loop.Terminated):
        event_loop.run(run(), spec.server.event_loop)


if __name__ == "__main__":
    # by its package name: the spec on stdin was pickled as werk.api.worker.WorkerSpec, not __main__.WorkerSpec
    from werk.api.worker import main as worker_main

    worker_main()
