"""How ``werk serve`` runs uvicorn: one place, so the AAS benchmark serves werk exactly as a plant does.

Why these settings and not uvicorn's defaults:

- **X-Forwarded-* headers are trusted only from the addresses ``server.forwarded_allow_ips`` names** (none by
  default). uvicorn trusts them from 127.0.0.1 by default; werk then takes the client's scheme and host from them,
  and they end up in the endpoints of AAS descriptors (``werk.api.aas_services.api_base``). Behind a reverse proxy
  on the same box that terminates TLS, name it (``["127.0.0.1"]``) so descriptors say ``https``; without one no
  local process can make werk advertise addresses of its choosing. Left off, uvicorn's proxy-header middleware is
  not in the request's path at all: 3-6% of a PATCH ``$value`` on the 2-core benchmark machine (py-spy).
- **No ``Server: uvicorn`` header**: it tells a scanner which server and so which advisories to try, and tells a
  client nothing it needs.
- **No access log**: werk logs what matters (writes are audit events in the historian); a line per request at
  the API's rates is a disk's worth of noise.
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from werk.config.model import ServerConfig


def uvicorn_config(app: ASGIApp, server: ServerConfig, *, port: int | None = None) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` as ``werk serve`` runs it; ``port`` overrides the plant file's."""
    trusted = list(server.forwarded_allow_ips)
    return uvicorn.Config(
        app,
        host=server.host,
        port=server.port if port is None else port,
        log_level="warning",
        access_log=False,
        lifespan="off",  # werk starts and stops the platform itself (werk.cli), around the server
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
    )
