"""HTTPS: a self-signed certificate made once and reused, served by uvicorn as werk serves it, with HSTS."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import serving
from werk.api.auth import Authenticator
from werk.api.http_server import add_front
from werk.api.security import security_front
from werk.config.model import ServerConfig, TlsConfig
from werk.errors import WerkError
from werk.security.tls import tls_files


def test_a_self_signed_certificate_is_made_once_and_its_key_kept_private(tmp_path: Path) -> None:
    first = tls_files(None, None, tmp_path / "tls")
    again = tls_files(None, None, tmp_path / "tls")
    assert first.made and not again.made and first.fingerprint == again.fingerprint
    assert len(first.fingerprint.split(":")) == 32
    assert first.key.stat().st_mode & 0o077 == 0
    with pytest.raises(WerkError, match="both cert and key"):
        tls_files(str(first.cert), None, tmp_path)
    with pytest.raises(WerkError, match=r"server.tls.cert: .* is not a file"):
        tls_files(str(tmp_path / "nope.pem"), str(first.key), tmp_path)


async def test_the_server_speaks_tls_with_hsts(tmp_path: Path) -> None:
    files = tls_files(None, None, tmp_path / "tls")
    server = ServerConfig(tls=TlsConfig(cert=str(files.cert), key=str(files.key)))
    app = FastAPI()

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    add_front(app, security_front(Authenticator(server), server))
    async with serving(app, server) as url:
        https = url.replace("http://", "https://")
        context = ssl.create_default_context(cafile=str(files.cert))
        async with httpx.AsyncClient(verify=context) as client:
            r = await client.get(https + "/api/health")
        assert r.status_code == 200 and r.headers["strict-transport-security"] == "max-age=31536000"
        async with httpx.AsyncClient() as client:  # plain HTTP to the TLS port gets no answer
            with pytest.raises(httpx.HTTPError):
                await client.get(url + "/api/health")
