"""How ``werk serve`` runs uvicorn: one place, so the AAS benchmark serves werk exactly as a plant does.

Why these settings and not uvicorn's defaults:

- **X-Forwarded-* headers are trusted only from the addresses ``server.forwarded_allow_ips`` names** (none by
  default). uvicorn trusts them from 127.0.0.1 by default; werk then takes the client's scheme and host from them,
  and they end up in the endpoints of AAS descriptors (``werk.aas.http.services.api_base``). Behind a reverse proxy
  on the same box that terminates TLS, name it (``["127.0.0.1"]``) so descriptors say ``https``; without one no
  local process can make werk advertise addresses of its choosing. Left off, uvicorn's proxy-header middleware is
  not in the request's path at all: 3-6% of a PATCH ``$value`` on the 2-core benchmark machine (py-spy).
- **No ``Server: uvicorn`` header**: it tells a scanner which server and so which advisories to try, and tells a
  client nothing it needs.
- **No access log**: werk logs what matters (writes are audit events in the historian); a line per request at
  the API's rates is a disk's worth of noise.
- **Middleware in front of the app** (:func:`add_front`, :func:`assemble`): what must run before FastAPI's own
  machinery (the AAS fast path, which answers the busiest reads in less time than FastAPI takes to route them) is
  registered on the app and wrapped around it here, as plain ASGI middleware, so every way werk serves an app (werk
  serve, its worker processes, the tests' stack, the benchmark) serves the same stack.
- **Request bodies are capped for every route** (:class:`BodyLimit`, outermost): ``server.max_body_bytes``, and
  ``server.max_upload_bytes`` for the routes an app declares to take files (:func:`allow_uploads`). A body whose
  Content-Length is over the cap is answered 413 before a byte of it is read; one that grows past it while read
  (chunked) is answered 413 when it does, whatever route reads it. The answer names the limit and the setting.
  A body that stops arriving (nothing for ``server.body_timeout_s``) is answered 408 and its connection closed:
  uvicorn has no timeout of its own while a request's body is read, so a client that sends a Content-Length and
  then too few bytes held its request, and a task and a connection, for as long as it liked.
- **A signal that stopped the server is not raised again** (:class:`HttpServer`). uvicorn stops serving on SIGINT
  and SIGTERM, then raises the signal once more, so that a program around it ends as the signal would have ended
  it. werk's shutdown follows the server (workers, then the platform and its twin writer), and that second signal
  landed in it: SIGTERM's default ended the process before it ran, and where the server ran in the main task,
  the Ctrl+C asyncio makes of it cancelled the shutdown halfway. The signal is kept in ``stopped_by`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.config.model import ServerConfig

Front = Callable[[ASGIApp], ASGIApp]
"""An ASGI middleware that runs in front of the app: the app in, the app with the middleware around it out."""


def add_front(app: Starlette, middleware: Front) -> None:
    """Run ``middleware`` in front of ``app`` when it is served (outside the ones added before)."""
    app.state.front = [*getattr(app.state, "front", []), middleware]


def allow_uploads(app: Starlette, paths: Collection[str]) -> None:
    """Let the routes whose path matches one of the regular expressions ``paths`` take bodies up to
    ``server.max_upload_bytes`` instead of ``server.max_body_bytes`` (routes that take files)."""
    app.state.uploads = [*getattr(app.state, "uploads", []), *paths]


def assemble(app: ASGIApp, server: ServerConfig, uploads: Collection[str] = ()) -> ASGIApp:
    """``app`` as werk serves it: the middleware :func:`add_front` registered on it wrapped around it, the last added
    outermost, and outside them all the :class:`BodyLimit` of ``server`` (``uploads``: upload paths of an app that
    is not a Starlette app, as :func:`allow_uploads` declares them for one)."""
    state = getattr(app, "state", None)
    uploads = [*uploads, *getattr(state, "uploads", [])]
    for middleware in getattr(state, "front", []):
        app = middleware(app)
    return BodyLimit(app, server, uploads)


class BodyTooLarge(HTTPException):
    """A request body over its limit: raised by the ``receive`` of :class:`BodyLimit` where a route reads past it
    (FastAPI passes an HTTPException on, so the route's own error shape answers it)."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit:,} bytes, the most this route takes; "
            f"the limit is the setting {setting} in the plant file",
        )


class BodyTimeout(HTTPException):
    """A request body that stopped arriving: raised by the ``receive`` of :class:`BodyLimit` (as
    :class:`BodyTooLarge` is), answered 408 with the connection closed (the rest of the body, if it ever comes, is
    no next request)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            f"the request body stopped arriving: nothing for {timeout_s:g} s; "
            "the limit is the setting server.body_timeout_s in the plant file",
            headers={"Connection": "close"},
        )


class _Unknown:
    def __len__(self) -> int:
        return sys.maxsize


_UNKNOWN = _Unknown()


class BodyLimit:
    """ASGI middleware capping request bodies and the wait for their parts (see the module docstring)."""

    def __init__(self, app: ASGIApp, server: ServerConfig, uploads: Collection[str] = ()) -> None:
        self.app = app
        self.timeout_s = server.body_timeout_s
        # Requests waiting for a part of their body, by task, with their deadline (the loop's clock). Why not
        # asyncio.timeout around each receive: it costs a timer per receive, about 20 us on the 2-core machine, a
        # third of a PATCH $value; this costs a dict entry, and one sweep a second while anyone waits at all.
        self._waiting: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._swept_on: asyncio.AbstractEventLoop | None = None  # the loop a sweep is armed on
        self._sweep_s = min(1.0, self.timeout_s / 4)
        self.limit = server.max_body_bytes
        self.upload_limit = server.max_upload_bytes
        self.uploads = re.compile("|".join(f"(?:{p})" for p in uploads)) if uploads else None
        self.least = min(self.limit, self.upload_limit) if uploads else self.limit  # within it on any path

    def _limit(self, path: str) -> tuple[int, str]:
        if self.uploads is not None and self.uploads.fullmatch(path):
            return self.upload_limit, "server.max_upload_bytes"
        return self.limit, "server.max_body_bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # The whole body arrived with the headers (most requests: a GET, a small PATCH) and is within every limit:
        # nothing can stall or grow, and its Content-Length, by which the server's parser framed it, is its length,
        # so the app gets the server's own receive and send without a look at the path or the headers. uvicorn's
        # protocols keep the request's state on the object its receive is bound to; under another server (no such
        # state) every request is watched.
        cycle = getattr(receive, "__self__", None)
        if getattr(cycle, "more_body", True) is False and len(getattr(cycle, "body", _UNKNOWN)) <= self.least:
            return await self.app(scope, receive, send)
        limit, setting = self._limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                return await _refuse(scope, send, BodyTooLarge(limit, setting))
        if getattr(cycle, "more_body", True) is False and len(getattr(cycle, "body", _UNKNOWN)) <= limit:
            return await self.app(scope, receive, send)
        seen = 0
        started = False
        whole = False  # the body has been read to its end (after which a receive waits for a disconnect: no limit)
        task: asyncio.Task[object] | None = None  # the request's, looked up once

        async def counted() -> Message:
            nonlocal seen, whole, task
            if whole:
                return await receive()
            if task is None:
                task = asyncio.current_task()
                assert task is not None
            loop = task.get_loop()
            self._waiting[task] = loop.time() + self.timeout_s
            if self._swept_on is not loop:
                self._swept_on = loop
                loop.call_later(self._sweep_s, self._sweep, loop)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if task not in self._expired:
                    raise
                self._expired.discard(task)
                task.uncancel()
                raise BodyTimeout(self.timeout_s) from None
            finally:
                self._waiting.pop(task, None)
            whole = message["type"] != "http.request" or not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit, setting)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except (BodyTooLarge, BodyTimeout) as exc:
            if started:
                raise
            await _refuse(scope, send, exc)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the receive of every request whose body stopped arriving (its ``counted`` answers 408); again in a
        moment while any request waits."""
        now = loop.time()
        for task, deadline in list(self._waiting.items()):
            if deadline <= now and task.get_loop() is loop and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._waiting and not loop.is_closed():
            loop.call_later(self._sweep_s, self._sweep, loop)
        else:
            self._swept_on = None


async def _refuse(scope: Scope, send: Send, exc: HTTPException) -> None:
    """413 or 408 in the shape of the API the path belongs to: a Part 2 Result body under the AAS prefix, else
    FastAPI's."""
    from werk.aas.http.common import API_PREFIX, error_body

    path: str = scope["path"]
    status = exc.status_code
    data = error_body(status, exc.detail) if path.startswith(API_PREFIX + "/") else {"detail": exc.detail}
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def uvicorn_config(
    app: ASGIApp, server: ServerConfig, *, port: int | None = None, uploads: Collection[str] = ()
) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` as ``werk serve`` runs it (:func:`assemble`d); ``port`` overrides the
    plant file's."""
    trusted = list(server.forwarded_allow_ips)
    return uvicorn.Config(
        assemble(app, server, uploads),
        host=server.host,
        port=server.port if port is None else port,
        log_level="warning",
        access_log=False,
        lifespan="off",  # werk starts and stops the platform itself (werk.cli), around the server
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
        # HTTPS when the plant file asks for it (werk.security.tls resolves a self-signed pair into the paths)
        ssl_certfile=server.tls.cert if server.tls is not None else None,
        ssl_keyfile=server.tls.key if server.tls is not None else None,
    )


class HttpServer(uvicorn.Server):
    """uvicorn's server that stops on SIGINT and SIGTERM as uvicorn's does and then leaves the signal to werk."""

    @property
    def stopped_by(self) -> int | None:
        """The first signal that stopped it, if one did."""
        return self._captured_signals[0] if self._captured_signals else None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def http_server(
    app: ASGIApp, server: ServerConfig, *, port: int | None = None, uploads: Collection[str] = ()
) -> HttpServer:
    """The server ``werk serve`` runs for ``app`` (:func:`uvicorn_config`)."""
    return HttpServer(uvicorn_config(app, server, port=port, uploads=uploads))
