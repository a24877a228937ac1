"""uvicorn as ``werk serve`` runs it (werk.api.http_server), on a real server over loopback: X-Forwarded-* count
only from the addresses the plant file trusts, and the server does not name itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.conftest import serving
from werk.aas.http.common import api_base
from werk.config import parse_config
from werk.config.model import ServerConfig
from werk.errors import ConfigError

PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@asynccontextmanager
async def where_client(server: ServerConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()

    @app.get("/where")
    async def where(request: Request) -> dict[str, str | None]:
        """What descriptors are built from (the API base), and the client address werk would see."""
        return {
            "base": api_base(request, "/api/v3.0"),
            "client": request.client.host if request.client else None,
        }

    async with serving(app, server) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_named() -> None:
    async with where_client(ServerConfig()) as client:
        r = await client.get("/where", headers=PROXIED)
        assert r.status_code == 200
        port = client.base_url.port
        # a local process cannot make werk advertise https (or another client) by saying so
        assert r.json() == {"base": f"http://127.0.0.1:{port}/api/v3.0", "client": "127.0.0.1"}
        assert "server" not in r.headers  # no "uvicorn" for a scanner to look up


async def test_a_trusted_proxy_sets_scheme_and_client() -> None:
    async with where_client(ServerConfig(forwarded_allow_ips=["127.0.0.1"])) as client:
        port = client.base_url.port
        r = await client.get("/where", headers=PROXIED)
        assert r.json() == {"base": f"https://127.0.0.1:{port}/api/v3.0", "client": "203.0.113.9"}
        r = await client.get("/where")  # a request the proxy did not forward is taken as it is
        assert r.json() == {"base": f"http://127.0.0.1:{port}/api/v3.0", "client": "127.0.0.1"}


def test_forwarded_allow_ips_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        parse_config("server:\n  forwarded_allow_ips: 127.0.0.1\n", "plant.yaml")
