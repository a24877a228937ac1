"""The OPC UA connector over a Basic256Sha256 SignAndEncrypt channel, with certificates made at test time.

The server trusts exactly one client certificate (its validator refuses any other with BadCertificateUntrusted, as
a server with a trust list does, OPC UA Part 4, 6.1.3); the connector must get through with that one, be refused
with a readable reason with any other, and keep retrying either way.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import free_port, wait_until
from werk.connect.opcua import OpcUaConnector, OpcUaConnectorConfig
from werk.core.model import Sample

URI = "urn:werk:test:secure"


@dataclass
class Pki:
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_cert: Path
    other_key: Path


def _make_cert(dir: Path, name: str, app_uri: str, use: x509.ObjectIdentifier) -> tuple[Path, Path]:
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(
        key,
        app_uri,
        {"organizationName": "werk tests"},
        [x509.UniformResourceIdentifier(app_uri), x509.DNSName(socket.gethostname())],
        extended=[use],
        days=2,
    )
    cert_path, key_path = dir / f"{name}.der", dir / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    key_path.write_bytes(dump_private_key_as_pem(key))
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    server = _make_cert(d, "server", "urn:werk:test:server", ExtendedKeyUsageOID.SERVER_AUTH)
    client = _make_cert(d, "client", "urn:werk:test:client", ExtendedKeyUsageOID.CLIENT_AUTH)
    other = _make_cert(d, "intruder", "urn:werk:test:intruder", ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(*server, *client, *other)


@asynccontextmanager
async def secure_server(pki: Pki) -> AsyncIterator[tuple[str, Any]]:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/secure"
    trusted = x509.load_der_x509_certificate(pki.client_cert.read_bytes())

    async def validate(cert: x509.Certificate, _app: ua.ApplicationDescription) -> None:
        if cert.fingerprint(hashes.SHA256()) != trusted.fingerprint(hashes.SHA256()):
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(pki.server_cert))
    await server.load_private_key(str(pki.server_key))
    server.set_certificate_validator(validate)
    ns = await server.register_namespace(URI)
    var = await server.nodes.objects.add_variable(
        ua.NodeId("Counter", ns), ua.QualifiedName("Counter", ns), 0
    )
    await server.start()
    stop = asyncio.Event()

    async def tick() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await var.write_value(n)
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(tick())
    try:
        yield endpoint, var
    finally:
        stop.set()
        await ticker
        await server.stop()


def _config(endpoint: str, cert: Path, key: Path, server_cert: Path | None) -> OpcUaConnectorConfig:
    return OpcUaConnectorConfig(
        type="opcua",
        endpoint=endpoint,
        publishing_interval_ms=50,
        reconnect_min_s=0.1,
        reconnect_max_s=0.3,
        timeout_s=2.0,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        certificate=str(cert),
        private_key=str(key),
        server_certificate=str(server_cert) if server_cert else None,
    )


BINDINGS = {f"nsu={URI};s=Counter": "acme/s/a/l/c/m/counter"}


async def _first_samples(conn: OpcUaConnector, n: int, timeout: float = 15) -> list[Sample]:
    got: list[Sample] = []
    stream = conn.stream()
    try:
        async with asyncio.timeout(timeout):
            async for batch in stream:
                got.extend(batch)
                if len(got) >= n:
                    return got
    finally:
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator in fact
    return got


async def _run_for(conn: OpcUaConnector, until: Any, timeout: float = 15) -> None:
    """Drive the connector's stream until ``until()`` holds (it yields nothing while it is being refused)."""

    async def drive() -> None:
        async for _ in conn.stream():
            pass

    task = asyncio.create_task(drive())
    try:
        await wait_until(until, timeout=timeout)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("pin_server", [True, False], ids=["pinned-server-cert", "server-cert-from-endpoint"])
async def test_signed_and_encrypted_session_delivers_data(pki: Pki, pin_server: bool) -> None:
    async with secure_server(pki) as (endpoint, _var):
        conn = OpcUaConnector(
            "secure",
            _config(endpoint, pki.client_cert, pki.client_key, pki.server_cert if pin_server else None),
            BINDINGS,
        )
        got = await _first_samples(conn, 5)
        assert {s.path for s in got} == {"acme/s/a/l/c/m/counter"}
        values = [s.value for s in got]
        assert values == sorted(values) and len(set(values)) >= 3  # the counter moves: live data, not a read
        assert conn.status.errors == 0 and not conn.status.bad_bindings


async def test_untrusted_client_certificate_is_refused_and_retried(pki: Pki) -> None:
    async with secure_server(pki) as (endpoint, _var):
        conn = OpcUaConnector(
            "intruder", _config(endpoint, pki.other_cert, pki.other_key, pki.server_cert), BINDINGS
        )
        await _run_for(conn, lambda: conn.status.errors >= 3)
        assert not conn.status.connected and conn.status.samples == 0
        assert conn.status.reconnects >= 2  # it keeps trying: the server's trust list may change
        assert "Bad" in conn.status.last_error, conn.status.last_error


async def test_missing_certificate_file_is_a_clear_error_and_retried(pki: Pki, tmp_path: Path) -> None:
    async with secure_server(pki) as (endpoint, _var):
        missing = tmp_path / "nope.der"
        conn = OpcUaConnector("nocert", _config(endpoint, missing, pki.client_key, None), BINDINGS)
        await _run_for(conn, lambda: conn.status.errors >= 2)
        assert "certificate" in conn.status.last_error and str(missing) in conn.status.last_error
        assert "cannot be read" in conn.status.last_error
        garbage = tmp_path / "garbage.pem"
        garbage.write_text("not a key")
        conn = OpcUaConnector("badkey", _config(endpoint, pki.client_cert, garbage, None), BINDINGS)
        await _run_for(conn, lambda: conn.status.errors >= 1)
        assert "private key" in conn.status.last_error and "unusable" in conn.status.last_error


def test_security_policy_needs_certificate_and_key() -> None:
    with pytest.raises(ValueError, match="needs certificate and private_key, or a pki_dir"):
        OpcUaConnectorConfig(type="opcua", endpoint="opc.tcp://h:4840", security_policy="Basic256Sha256")
    with pytest.raises(ValueError, match="password_env needs a username"):
        OpcUaConnectorConfig(type="opcua", endpoint="opc.tcp://h:4840", password_env="X")


async def test_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = OpcUaConnectorConfig(
        type="opcua",
        endpoint=f"opc.tcp://127.0.0.1:{free_port()}",
        username="op",
        password_env="WERK_TEST_OPCUA_PW",
        reconnect_min_s=0.1,
        reconnect_max_s=0.2,
    )
    monkeypatch.delenv("WERK_TEST_OPCUA_PW", raising=False)
    conn = OpcUaConnector("pw", cfg, BINDINGS)
    await _run_for(conn, lambda: conn.status.errors >= 1)
    assert "WERK_TEST_OPCUA_PW" in conn.status.last_error and "not set" in conn.status.last_error
