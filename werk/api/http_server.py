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
- **A signal that stopped the server is not raised again** (:class:`HttpServer`). uvicorn stops serving on SIGINT
  and SIGTERM, then raises the signal once more, so that a program around it ends as the signal would have ended
  it. werk's shutdown follows the server (workers, then the platform and its twin writer), and that second signal
  landed in it: SIGTERM's default ended the process before it ran, and where the server ran in the main task,
  the Ctrl+C asyncio makes of it cancelled the shutdown halfway. The signal is kept in ``stopped_by`` instead.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from werk.config.model import ServerConfig

Front = Callable[[ASGIApp], ASGIApp]
"""An ASGI middleware that runs in front of the app: the app in, the app with the middleware around it out."""


def add_front(app: Starlette, middleware: Front) -> None:
    """Run ``middleware`` in front of ``app`` when it is served (outside the ones added before)."""
    app.state.front = [*getattr(app.state, "front", []), middleware]


def assemble(app: ASGIApp) -> ASGIApp:
    """``app`` with the middleware :func:`add_front` registered on it wrapped around it, the last added outermost."""
    state = getattr(app, "state", None)
    for middleware in getattr(state, "front", []):
        app = middleware(app)
    return app


def uvicorn_config(app: ASGIApp, server: ServerConfig, *, port: int | None = None) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` as ``werk serve`` runs it (:func:`assemble`d); ``port`` overrides the
    plant file's."""
    trusted = list(server.forwarded_allow_ips)
    return uvicorn.Config(
        assemble(app),
        host=server.host,
        port=server.port if port is None else port,
        log_level="warning",
        access_log=False,
        lifespan="off",  # werk starts and stops the platform itself (werk.cli), around the server
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
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


def http_server(app: ASGIApp, server: ServerConfig, *, port: int | None = None) -> HttpServer:
    """The server ``werk serve`` runs for ``app`` (:func:`uvicorn_config`)."""
    return HttpServer(uvicorn_config(app, server, port=port))
