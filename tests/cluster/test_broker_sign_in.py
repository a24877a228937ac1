"""The cluster's broker with TLS and passwords, as a plant's IT would run it between halls: a nats-server of the
test's own that asks for a client certificate signed by the plant's CA and a user's password. werk's processes
connect with what ``cluster.nats_tls`` and ``cluster.nats_user``/``nats_password_env`` say (the log, the apps'
commands); a wrong password, no client certificate or an unset variable are refused with the reason, and the
password never reaches a log line or the plant file."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port, need
from werk.bus.jetstream import connect, ensure_log
from werk.config import parse_config
from werk.config.model import BrokerTlsConfig, ClusterConfig
from werk.errors import ConfigError
from werk.runtime.app_commands import CommandClient, CommandServer
from werk.runtime.partitions import partition_of

PASSWORD = "pump-room-7-kestrel"
ASSET = "acme/berlin/press-shop/line-1/cell-1/press-1"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signed(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    server: bool,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
    return b.sign(signer, hashes.SHA256())


def make_pki(folder: Path) -> Pki:
    """A CA of the plant's own, the broker's certificate for 127.0.0.1 and a client certificate, all signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plant CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = Pki(*(folder / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for cert, key, server in (
        (files.server_cert, files.server_key, True),
        (files.client_cert, files.client_key, False),
    ):
        k = ec.generate_private_key(ec.SECP256R1())
        cert.write_bytes(
            _signed("broker" if server else "werk", k, ca_name, ca_key, server).public_bytes(
                serialization.Encoding.PEM
            )
        )
        key.write_bytes(_key_pem(k))
    return files


@dataclass
class Broker:
    url: str
    pki: Pki


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """nats-server with JetStream, TLS that verifies client certificates, and one user with a password."""
    exe = shutil.which("nats-server")
    need(exe is not None, "nats-server is not installed (Debian package nats-server)")
    assert exe is not None
    pki = make_pki(tmp_path)
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"""
listen: 127.0.0.1:{port}
jetstream {{ store_dir: "{tmp_path / "js"}" }}
tls {{
  cert_file: "{pki.server_cert}"
  key_file: "{pki.server_key}"
  ca_file: "{pki.ca}"
  verify: true
  timeout: 2
}}
authorization {{ users = [ {{ user: werk, password: "{PASSWORD}" }} ] }}
"""
    )
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "nats-server did not listen within 15 s"
            time.sleep(0.05)
        yield Broker(f"tls://127.0.0.1:{port}", pki)
    finally:
        proc.kill()
        proc.wait(10)


def cluster(b: Broker, *, client_cert: bool = True, **changes: Any) -> ClusterConfig:
    tls = BrokerTlsConfig(
        ca_file=str(b.pki.ca),
        cert_file=str(b.pki.client_cert) if client_cert else None,
        key_file=str(b.pki.client_key) if client_cert else None,
    )
    return ClusterConfig(
        nats=b.url, nats_tls=tls, nats_user="werk", nats_password_env="WERK_NATS_PASSWORD", **changes
    )


async def test_the_log_and_the_apps_commands_go_through_a_broker_with_tls_and_a_password(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WERK_NATS_PASSWORD", PASSWORD)
    cfg = cluster(broker)
    nc = await connect(cfg, "test-worker")
    try:
        # the log: the stream made, a batch published and read back on the link TLS protects
        js = nc.jetstream(timeout=5.0)
        await ensure_log(js, cfg)
        ack = await js.publish("werk.samples.berlin.press-shop.press-1", b"[]")
        assert ack.stream == cfg.stream
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        # an API replica's command to the worker that runs the app, both signed in
        server = CommandServer(nc)

        async def handle(body: Mapping[str, Any], key: str) -> Any:
            return {"acknowledged": body["alarm"]}

        client = CommandClient(cfg, 4, partition_of)
        try:
            await server.serve({"alarms": handle}, frozenset({partition_of(ASSET, 4)}))
            assert await client.send("alarms", ASSET, {"alarm": "press-1:hot"}, "press-1") == {
                "acknowledged": "press-1:hot"
            }
        finally:
            await server.stop()
            await client.close()
    finally:
        await nc.close()


async def test_a_wrong_password_no_client_certificate_or_no_secret_is_refused_with_the_reason(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("WERK_NATS_PASSWORD", raising=False)
    with pytest.raises(
        ConfigError, match=r"cluster\.nats_password_env: the environment variable WERK_NATS_PASSWORD"
    ):
        await connect(cluster(broker), "test")

    monkeypatch.setenv("WERK_NATS_PASSWORD", "not-" + PASSWORD)
    with pytest.raises(nats.errors.Error):
        await asyncio.wait_for(
            connect(cluster(broker).model_copy(update={"nats_user": "werk"}), "test", error_cb=_quiet), 10
        )
    monkeypatch.setenv("WERK_NATS_PASSWORD", PASSWORD)
    with pytest.raises((nats.errors.Error, OSError)):
        await asyncio.wait_for(connect(cluster(broker, client_cert=False), "test", error_cb=_quiet), 10)
    # without TLS the broker is not spoken to at all
    plain = cluster(broker).model_copy(
        update={"nats": broker.url.replace("tls://", "nats://"), "nats_tls": None}
    )
    with pytest.raises((nats.errors.Error, OSError)):
        await asyncio.wait_for(connect(plain, "test", error_cb=_quiet), 10)
    with pytest.raises(ConfigError, match="nats_tls: the TLS files are unusable"):
        await connect(
            cluster(broker).model_copy(update={"nats_tls": BrokerTlsConfig(ca_file="/nonexistent.pem")}), "t"
        )
    assert PASSWORD not in caplog.text


async def _quiet(exc: Exception) -> None:
    """nats-py's error callback: the test looks at the exception connect raises."""


def test_the_plant_file_keeps_passwords_out_and_takes_one_way_to_sign_in() -> None:
    base = "plant: {enterprise: acme, sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m: {kind: mill}}}}}}}}}}}\n"
    with pytest.raises(
        ConfigError, match=r"<config>:3: cluster\.nats: .*no user or password in the broker's address"
    ):
        parse_config(base + "cluster:\n  nats: nats://werk:secret@10.0.0.5:4222\n")
    with pytest.raises(
        ConfigError, match="give one way to sign in to the broker, not nats_user and nats_token_env"
    ):
        parse_config(base + "cluster:\n  nats_user: werk\n  nats_password_env: P\n  nats_token_env: T\n")
    with pytest.raises(ConfigError, match="nats_user and nats_password_env go together"):
        parse_config(base + "cluster:\n  nats_user: werk\n")
    with pytest.raises(ConfigError, match="a client certificate needs both cert_file and key_file"):
        parse_config(base + "cluster:\n  nats_tls: {cert_file: c.pem}\n")
    ok = parse_config(base + "cluster:\n  nats: tls://10.0.0.5:4222\n  nats_token_env: WERK_NATS_TOKEN\n")
    assert ok.cluster.nats_token_env == "WERK_NATS_TOKEN"


def test_a_cluster_process_without_its_secret_stops_at_once_naming_it(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(
        "plant: {enterprise: acme, sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m: {kind: mill}}}}}}}}}}}\n"
        "cluster: {nats: 'tls://127.0.0.1:4222', nats_user: werk, nats_password_env: WERK_TEST_UNSET_PASSWORD}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WERK_TEST_UNSET_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "werk.cli", "edge", "-c", str(plant)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "cluster.nats_password_env: the environment variable WERK_TEST_UNSET_PASSWORD is not set"
        in done.stderr
    )
