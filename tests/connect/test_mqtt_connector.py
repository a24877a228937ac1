"""The MQTT connector and publisher against real Mosquitto brokers on loopback.

Most tests use the machine's broker on 127.0.0.1:1883 with a fresh topic prefix each; the ones that kill a broker,
need a password or TLS start their own ``mosquitto`` on a free port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import os
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import free_port, need, wait_until
from tests.connect.conftest import Reader, _config, _first_failure, _listen, _publish, _reachable
from werk.api.schemas import ConnectorOut
from werk.config.model import BrokerTlsConfig, WerkConfig
from werk.connect import Bindings, build_connectors
from werk.connect.mqtt import (
    MqttConnector,
    MqttConnectorConfig,
    MqttPublisher,
    decode_payload,
    decode_samples,
    encode_sample,
)
from werk.core.model import Quality, Sample
from werk.errors import ConnectorError

MOSQUITTO = "/usr/sbin/mosquitto"
P = "acme/berlin/press-shop/line-1/cell-1/press-1/"

# --- payloads (pure) ---------------------------------------------------------------------------------------


def test_payload_forms() -> None:
    (r,) = decode_payload(b"42.1")[0]
    assert (r.value, r.ts, r.quality) == (42.1, None, Quality.GOOD)
    assert decode_payload(b'"running"')[0][0].value == "running"
    assert decode_payload(b"true")[0][0].value is True
    assert decode_payload(b"7")[0][0].value == 7 and isinstance(decode_payload(b"7")[0][0].value, int)
    (r,) = decode_payload(b'{"value": 3, "ts": "2026-01-02T03:04:05.5+01:00", "quality": "Uncertain"}')[0]
    assert (r.value, r.ts, r.quality) == (3, datetime(2026, 1, 2, 2, 4, 5, 500000, UTC), Quality.UNCERTAIN)
    (r,) = decode_payload(b'{"value": 1, "ts": 1767323045123, "unit": "bar"}')[0]
    assert r.ts == datetime(2026, 1, 2, 3, 4, 5, 123000, UTC)
    readings, errors = decode_payload(
        b'[{"value": 1, "ts": 1767323045000}, {"value": [1]}, 5, {"value": 2, "ts": "2026-01-02T03:04:06Z"}]'
    )
    assert [x.value for x in readings] == [1, 2]
    assert errors == [
        "batch item 1: value must be a number, string or boolean, not list",
        "batch item 2: is a int, not an object",
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{nope", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"null", "not null"),
        (b'{"val": 1}', "has no 'value'"),
        (b'{"value": {"a": 1}}', "not dict"),
        (b'{"value": 1, "ts": "yesterday"}', "'yesterday' is not ISO 8601"),
        (b'{"value": 1, "ts": "2026-01-02T03:04:05"}', "has no UTC offset"),
        (b'{"value": 1, "ts": 1767323045}', "seconds or microseconds sent"),
        (b'{"value": 1, "ts": true}', "boolean, not a time"),
        (b'{"value": 1, "quality": "fine"}', "quality 'fine'"),
        (b"NaN", "not finite"),
        (b'[{"value": 1}]', "has no 'ts' (required in a batch)"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON: nested too deeply"),
    ],
)
def test_malformed_payloads_say_why(payload: bytes, reason: str) -> None:
    readings, errors = decode_payload(payload)
    assert readings == []
    assert len(errors) == 1 and reason in errors[0], errors


def test_a_payload_nested_past_the_parser_is_refused_by_every_decoder() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for number_text in (False, True):
        assert decode_samples("a/b", deep, number_text=number_text) == ([], ["not JSON: nested too deeply"])


def test_encoded_sample_reads_back() -> None:
    s = Sample(P + "temp", datetime(2026, 1, 2, 3, 4, 5, 6, UTC), 21.5, Quality.UNCERTAIN)
    (r,) = decode_payload(encode_sample(s))[0]
    assert (r.value, r.ts, r.quality) == (s.value, s.ts, s.quality)


def test_bindings_with_wildcards_or_reserved_topics_are_reported() -> None:
    conn = MqttConnector(
        "b", _config(1883), {"a/+/c": P + "w", "a/#": P + "h", "$SYS/x": P + "sys", "ok/topic": P + "ok"}
    )
    assert set(conn.bindings) == {"ok/topic"}
    assert set(conn.status.bad_bindings) == {P + "w", P + "h", P + "sys"}
    assert "wildcard" in conn.status.bad_bindings[P + "w"]
    assert "reserved for the broker" in conn.status.bad_bindings[P + "sys"]


def test_build_connectors_prefixes_topics_with_the_root() -> None:
    config = WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "acme",
                "sites": {
                    "s": {
                        "areas": {
                            "a": {
                                "lines": {
                                    "l": {
                                        "cells": {
                                            "c": {
                                                "assets": {
                                                    "press-1": {
                                                        "kind": "press",
                                                        "source": {
                                                            "connector": "broker",
                                                            "root": "plant/press-1/",
                                                            "signals": {"force": "force"},
                                                        },
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            },
            "connectors": {"broker": {"type": "mqtt", "username": "werk", "password_env": "X"}},
        }
    )
    (conn,) = build_connectors(config)
    assert isinstance(conn, MqttConnector)
    assert conn.bindings == {"plant/press-1/force": "acme/s/a/l/c/press-1/force"}
    assert conn.client_id == "werk-acme-s-broker"  # the plant's enterprise and site, then the connector
    assert conn.status.type == "mqtt" and conn.status.endpoint == "mqtt://127.0.0.1:1883"


# --- against the machine's broker --------------------------------------------------------------------------


async def test_values_arrive_on_their_uns_paths(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    bindings = {f"{prefix}/{n}": P + n for n in ("speed", "state", "running", "temp", "count", "batch")}
    reader = await _listen(readers, MqttConnector("broker", _config(system_broker), bindings))
    before = datetime.now(UTC)
    await _publish(
        system_broker,
        (f"{prefix}/speed", b"42.1"),
        (f"{prefix}/state", b'"running"'),
        (f"{prefix}/running", b"true"),
        (f"{prefix}/temp", b'{"value": 80.5, "ts": "2026-03-04T05:06:07.250Z", "quality": "uncertain"}'),
        (f"{prefix}/count", b'{"value": 17, "ts": 1772600767250}'),
        (
            f"{prefix}/batch",
            b'[{"value": 1, "ts": 1772600767000}, {"value": 2, "ts": 1772600768000, "quality": "bad"}]',
        ),
    )
    got = await reader.until(lambda g: len(g) >= 7)
    by_path: dict[str, list[Sample]] = {}
    for s in got:
        by_path.setdefault(s.path.removeprefix(P), []).append(s)
    assert set(by_path) == {"speed", "state", "running", "temp", "count", "batch"}
    (speed,) = by_path["speed"]
    assert speed.value == 42.1 and speed.quality is Quality.GOOD and speed.ts >= before
    assert by_path["state"][0].value == "running"
    assert by_path["running"][0].value is True
    (temp,) = by_path["temp"]
    assert (temp.value, temp.ts, temp.quality) == (
        80.5,
        datetime(2026, 3, 4, 5, 6, 7, 250000, UTC),
        Quality.UNCERTAIN,
    )
    (count,) = by_path["count"]
    assert count.value == 17 and type(count.value) is int
    assert count.ts == datetime(2026, 3, 4, 5, 6, 7, 250000, UTC)
    assert [(s.value, s.quality) for s in by_path["batch"]] == [(1, Quality.GOOD), (2, Quality.BAD)]
    assert reader.conn.status.samples == 7 and reader.conn.status.errors == 0


async def test_samples_of_one_signal_with_one_timestamp_are_counted_as_collisions(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    bindings = {f"{prefix}/flow": P + "flow", f"{prefix}/level": P + "level"}
    reader = await _listen(readers, MqttConnector("broker", _config(system_broker), bindings))
    stamp = 1772600767250  # a publisher stamping in milliseconds sends two values within one
    await _publish(
        system_broker,
        (f"{prefix}/flow", b'{"value": 1.5, "ts": %d}' % stamp),
        (f"{prefix}/flow", b'{"value": 1.75, "ts": %d}' % stamp),  # replaces 1.5 in the historian
        (f"{prefix}/flow", b'{"value": 1.75, "ts": %d}' % stamp),  # the same sample again: a replay, no loss
        (f"{prefix}/level", b'{"value": 1.5, "ts": %d}' % stamp),  # another signal at that instant
        (f"{prefix}/flow", b'{"value": 2.0, "ts": %d}' % (stamp + 1)),
    )
    await reader.until(lambda g: len(g) >= 5)
    status = reader.conn.status
    assert status.collisions == 1 and status.errors == 0
    assert ConnectorOut.of(status).collisions == 1  # /api/connectors and /api/health show it


async def test_malformed_payloads_are_counted_logged_once_and_skipped(
    system_broker: int, prefix: str, readers: list[Reader], caplog: pytest.LogCaptureFixture
) -> None:
    bindings = {f"{prefix}/a": P + "a", f"{prefix}/b": P + "b"}
    reader = await _listen(readers, MqttConnector("broker", _config(system_broker), bindings))
    caplog.set_level(logging.WARNING, logger="werk.connect.mqtt")
    await _publish(
        system_broker,
        (f"{prefix}/a", b"{not json"),
        (f"{prefix}/a", b"{still not json"),
        (f"{prefix}/b", b'{"value": [1, 2]}'),
        (f"{prefix}/b", b'{"value": 1, "ts": "soon"}'),
        (f"{prefix}/nobody", b"1"),  # not bound: the broker does not even send it
        (f"{prefix}/a", b"5"),
    )
    got = await reader.until(lambda g: len(g) >= 1)
    assert [(s.path, s.value) for s in got] == [(P + "a", 5)]
    st = reader.conn.status
    assert st.errors == 4 and st.connected
    assert "ts 'soon' is not ISO 8601" in st.last_error
    records = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mqtt.payload")]
    # one line per topic within the minute: the second bad payload on 'a' is counted, not logged
    assert len(records) == 2
    assert f"topic={prefix}/a error=not JSON" in records[0]
    assert f"topic={prefix}/b error=value must be" in records[1]


async def test_retained_value_of_unknown_age_is_uncertain(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    topics = [f"{prefix}/bare", f"{prefix}/stamped"]
    await _publish(
        system_broker, (topics[0], b"7"), (topics[1], b'{"value": 8, "ts": 1772600767250}'), retain=True
    )
    try:
        reader = await _listen(
            readers, MqttConnector("broker", _config(system_broker), {t: t for t in topics})
        )
        got = await reader.until(lambda g: len(g) >= 2)
        assert {s.path: s.quality for s in got} == {topics[0]: Quality.UNCERTAIN, topics[1]: Quality.GOOD}
        # clearing a retained value (an empty retained message) is not a malformed payload
        await _publish(system_broker, (topics[0], b""), retain=True)
        await _publish(system_broker, (topics[0], b"9"))
        got = await reader.until(lambda g: len(g) >= 3)
        assert (got[2].value, got[2].quality) == (9, Quality.GOOD)
        assert reader.conn.status.errors == 0
    finally:
        await _publish(system_broker, *[(t, b"") for t in topics], retain=True)


async def test_publisher_round_trips_through_the_connector(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    t0 = datetime(2026, 5, 6, 7, 8, 9, 123456, UTC)
    samples = [
        Sample(P + "temp", t0, 21.5),
        Sample(P + "state", t0, "idle", Quality.UNCERTAIN),
        Sample(P + "parts", t0, 1234),
        Sample(P + "on", t0, False, Quality.BAD),
    ]
    async with MqttPublisher("uns", _config(system_broker), prefix) as pub:
        assert pub.topic(P + "temp") == f"{prefix}/{P}temp"
        bindings = {pub.topic(s.path): s.path for s in samples}
        reader = await _listen(readers, MqttConnector("back", _config(system_broker), bindings))
        pub.publish(samples)
        await pub.drain()
        got = await reader.until(lambda g: len(g) >= 4)
        assert pub.status.samples == 4 and pub.status.dropped == 0
    assert sorted(got, key=lambda s: s.path) == sorted(samples, key=lambda s: s.path)
    # retained: a subscriber that arrives afterwards still gets the last value at once
    async with aiomqtt.Client("127.0.0.1", system_broker) as late:
        await late.subscribe(f"{prefix}/{P}temp", qos=1)
        async with asyncio.timeout(5):
            msg = await anext(late.messages)
        assert msg.retain and json.loads(msg.payload)["value"] == 21.5
    # leave no retained litter on the shared broker
    await _publish(system_broker, *[(t, b"") for t in bindings], retain=True)


def test_publisher_prefix_must_be_a_topic() -> None:
    for bad in ("a/+/b", "/lead", "trail/", "$SYS"):
        with pytest.raises(ConnectorError):
            MqttPublisher("p", _config(1883), bad)


# --- brokers of our own ------------------------------------------------------------------------------------


class Mosquitto:
    """A ``mosquitto`` process on a free loopback port, configured by the lines given; kill and start again."""

    def __init__(self, tmp_path: Path, *lines: str) -> None:
        self.port = free_port()
        self.conf = tmp_path / f"mosquitto-{self.port}.conf"
        self.conf.write_text(
            "\n".join([f"listener {self.port} 127.0.0.1", "persistence false", "user root", *lines]) + "\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; readiness is polled below
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.proc = proc
        await wait_until(lambda: _reachable(self.port) or proc.poll() is not None, timeout=10)
        if proc.poll() is not None:
            assert proc.stderr is not None
            raise AssertionError(f"mosquitto did not start: {proc.stderr.read().decode()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


@pytest.fixture
def own_brokers(tmp_path: Path) -> Iterator[list[Mosquitto]]:
    need(os.path.exists(MOSQUITTO), f"{MOSQUITTO} is absent (apt-get install mosquitto)")
    made: list[Mosquitto] = []
    yield made
    for b in made:
        b.kill()


async def test_broker_loss_marks_bad_then_recovers(
    tmp_path: Path, own_brokers: list[Mosquitto], readers: list[Reader]
) -> None:
    broker = Mosquitto(tmp_path, "allow_anonymous true")
    own_brokers.append(broker)
    await broker.start()
    bindings = {"m/speed": P + "speed", "m/state": P + "state", "m/never": P + "never"}
    reader = await _listen(readers, MqttConnector("edge", _config(broker.port), bindings))
    await _publish(broker.port, ("m/speed", b"12.5"), ("m/state", b'"running"'))
    await reader.until(lambda g: len(g) >= 2)
    broker.kill()
    got = await reader.until(lambda g: any(s.quality is Quality.BAD for s in g))
    bad = {s.path: s.value for s in got if s.quality is Quality.BAD}
    assert bad == {P + "speed": 12.5, P + "state": "running"}  # only the signals it had values for
    assert not reader.conn.status.connected and reader.conn.status.errors >= 1
    await broker.start()
    await wait_until(lambda: reader.conn.status.connected, timeout=10)
    assert reader.conn.status.reconnects >= 1
    n = len(reader.samples)
    await _publish(broker.port, ("m/speed", b"13.0"))
    got = await reader.until(lambda g: len(g) > n)
    assert [(s.path, s.value, s.quality) for s in got[n:]] == [(P + "speed", 13.0, Quality.GOOD)]


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    need(
        os.path.exists("/usr/bin/mosquitto_passwd"), "mosquitto_passwd is absent (apt-get install mosquitto)"
    )
    passwords = tmp_path / "passwords"
    subprocess.run(["/usr/bin/mosquitto_passwd", "-b", "-c", str(passwords), "werk", "s3cret!"], check=True)
    return passwords


async def test_publisher_keeps_samples_while_the_broker_is_away(
    tmp_path: Path, own_brokers: list[Mosquitto]
) -> None:
    broker = Mosquitto(tmp_path, "allow_anonymous true")
    own_brokers.append(broker)
    await broker.start()
    t0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    async with MqttPublisher("uns", _config(broker.port), "uns") as pub:
        await wait_until(lambda: pub.status.connected)
        broker.kill()
        await wait_until(lambda: not pub.status.connected)
        pub.publish([Sample(P + "a", t0, 1), Sample(P + "b", t0, 2)])
        await broker.start()
        async with asyncio.timeout(10):
            await pub.drain()
        assert pub.status.reconnects >= 1 and pub.status.samples == 2
    async with aiomqtt.Client("127.0.0.1", broker.port) as late:  # retained, so they wait for us
        await late.subscribe("uns/#", qos=1)
        got: dict[str, Any] = {}
        async with asyncio.timeout(5):
            async for msg in late.messages:
                got[msg.topic.value] = json.loads(msg.payload)
                if len(got) == 2:
                    break
    assert got == {
        f"uns/{P}a": {"value": 1, "ts": "2026-05-06T07:08:09.000000Z", "quality": "good"},
        f"uns/{P}b": {"value": 2, "ts": "2026-05-06T07:08:09.000000Z", "quality": "good"},
    }


async def test_password_from_environment(
    tmp_path: Path,
    own_brokers: list[Mosquitto],
    readers: list[Reader],
    monkeypatch: pytest.MonkeyPatch,
    password_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = Mosquitto(tmp_path, "allow_anonymous false", f"password_file {password_file}")
    own_brokers.append(broker)
    await broker.start()
    monkeypatch.delenv("WERK_TEST_MQTT_PW", raising=False)
    cfg = _config(broker.port, username="werk", password_env="WERK_TEST_MQTT_PW")
    error = await _first_failure(MqttConnector("auth", cfg, {"t/a": P + "a"}))
    assert "environment variable WERK_TEST_MQTT_PW (its password_env) is not set" in error

    monkeypatch.setenv("WERK_TEST_MQTT_PW", "wrong")
    error = await _first_failure(MqttConnector("auth", cfg, {"t/a": P + "a"}))
    assert "authori" in error.lower() or "not auth" in error.lower(), error

    monkeypatch.setenv("WERK_TEST_MQTT_PW", "s3cret!")
    reader = await _listen(readers, MqttConnector("auth", cfg, {"t/a": P + "a"}))
    await _publish(broker.port, ("t/a", b"1"), username="werk", password="s3cret!")
    got = await reader.until(lambda g: len(g) >= 1)
    assert got[0].value == 1
    assert "mqtt.connected connector=auth" in caplog.text  # the logs were captured...
    assert "s3cret!" not in caplog.text and "wrong" not in caplog.text  # ...and hold no password


def _tls_files(tmp_path: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        (tmp_path / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (tmp_path / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("werk test CA"))
        .issuer_name(name("werk test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write("ca", ca_key, ca)
    for stem, usage, san in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("werk-client")]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"werk test {stem}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        write(stem, key, cert)
    return {k: str(tmp_path / k) for k in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


async def test_tls_with_client_certificate(
    tmp_path: Path, own_brokers: list[Mosquitto], readers: list[Reader]
) -> None:
    f = _tls_files(tmp_path)
    broker = Mosquitto(
        tmp_path,
        "allow_anonymous true",
        f"cafile {f['ca.crt']}",
        f"certfile {f['server.crt']}",
        f"keyfile {f['server.key']}",
        "require_certificate true",
    )
    own_brokers.append(broker)
    await broker.start()
    # without a client certificate the broker refuses the handshake
    only_ca = BrokerTlsConfig(ca_file=f["ca.crt"])
    no_cert = MqttConnector("tls", _config(broker.port, tls=only_ca, timeout_s=1.0), {"t/a": P + "a"})
    error = await _first_failure(no_cert)
    assert no_cert.status.samples == 0 and error, error

    tls = BrokerTlsConfig(ca_file=f["ca.crt"], cert_file=f["client.crt"], key_file=f["client.key"])
    conn = MqttConnector("tls", _config(broker.port, tls=tls), {"t/a": P + "a"})
    assert conn.status.endpoint == f"mqtts://127.0.0.1:{broker.port}"
    reader = await _listen(readers, conn)
    ctx = ssl.create_default_context(cafile=f["ca.crt"])
    ctx.load_cert_chain(f["client.crt"], f["client.key"])
    await _publish(broker.port, ("t/a", b'"secure"'), tls_context=ctx)
    got = await reader.until(lambda g: len(g) >= 1)
    assert got[0].value == "secure"


@pytest.mark.parametrize(
    "payload",
    [
        b'[{"value": 1.5, "ts": "2026-01-02T03:04:05Z"}, {"value": "on", "ts": 1767323045000, "quality": "bad"}]',
        b'[{"value": 1, "ts": "2026-01-02T03:04:05Z"}, {"value": [1], "ts": "2026-01-02T03:04:05Z"}]',
        b'[{"value": 2}, {"value": NaN, "ts": 1}, {"value": 3, "ts": "yesterday"}, {"value": 4, "ts": 5, "quality": 7}]',
        b'[{"value": true, "ts": "2026-01-02T03:04:05+01:00", "quality": "UNCERTAIN"}, 17, {"ts": 1}]',
        b"[]",
    ],
)
def test_fast_batch_decoder_agrees_with_the_checked_one(payload: bytes) -> None:
    """decode_samples' fast path for batches accepts and refuses exactly what decode_payload does, reasons too."""
    readings, reasons = decode_payload(payload)
    samples, fast_reasons = decode_samples("p/x", payload)
    assert [(s.value, s.ts, s.quality) for s in samples] == [(r.value, r.ts, r.quality) for r in readings]
    assert fast_reasons == reasons


async def test_a_broker_killed_under_qos1_publishing_loses_nothing_it_acknowledged_with_the_defaults(
    tmp_path: Path, own_brokers: list[Mosquitto]
) -> None:
    """werk's defaults (QoS 1, a persistent session, a client id stable across restarts) against a broker with
    persistence: SIGKILL mid-stream, restart on the same port from the same file. With a clean session and a
    random id the same run loses what the broker queued for werk and what arrived before werk subscribed again
    (``benchmarks/mqtt_broker_restart.py`` measures both)."""
    from tests.connect.mqtt_restart import kill_and_restart

    outcome = await kill_and_restart(tmp_path, own_brokers)
    assert outcome.publisher_retries >= 1  # the broker did go away under the publisher
    assert len(outcome.acknowledged) == outcome.sent
    assert outcome.lost == [], f"{len(outcome.lost)} of {len(outcome.acknowledged)} acknowledged values lost"


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_what_is_published_while_werk_is_away_arrives_when_it_is_back(
    tmp_path: Path, own_brokers: list[Mosquitto], protocol: str
) -> None:
    """The default persistent session: MQTT 3.1.1 clean session 0, MQTT 5 clean start 0 with a session expiry
    (without one an MQTT 5 session ends with its connection, persistent_session or not)."""
    broker = Mosquitto(tmp_path, "allow_anonymous true")
    own_brokers.append(broker)
    await broker.start()
    cfg = MqttConnectorConfig(type="mqtt", port=broker.port, protocol=protocol)  # type: ignore[arg-type]
    bindings = Bindings({"m/count": P + "count"}, plant="acme-berlin")
    first = MqttConnector("shop", cfg, bindings)
    assert first.client_id == "werk-acme-berlin-shop"  # stable: the same at the next start
    reader = Reader(first)
    await wait_until(lambda: first.status.connected, timeout=10)
    await reader.close()  # werk stops (or crashes)
    await _publish(
        broker.port, *[("m/count", b'{"value": %d, "ts": %d}' % (i, 1772600767000 + i)) for i in range(5)]
    )
    again = MqttConnector("shop", cfg, bindings)  # werk starts again
    reader = Reader(again)
    try:
        got = await reader.until(lambda g: len(g) >= 5, timeout=10)
        assert [s.value for s in got] == [0, 1, 2, 3, 4]
    finally:
        await reader.close()


async def test_identifiers_stay_as_sent_and_declared_types_convert(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    bindings = Bindings(
        {f"{prefix}/{n}": P + n for n in ("part_id", "order", "batch_no", "temp", "count")},
        types={P + "part_id": "str", P + "batch_no": "str", P + "temp": "float", P + "count": "int"},
    )
    conn = MqttConnector("broker", _config(system_broker), bindings)
    reader = await _listen(readers, conn)
    await _publish(
        system_broker,
        (f"{prefix}/part_id", b'{"value": 123456.20, "ts": 1772600767250}'),  # a number that is an identifier
        (f"{prefix}/order", b'"0001"'),  # text stays text
        (f"{prefix}/batch_no", b'[{"value": 7.50, "ts": 1772600767250.0}]'),
        (f"{prefix}/temp", b'"21.5"'),  # a device that sends numbers as text
        (f"{prefix}/count", b'{"value": "0012", "ts": 1772600767250}'),
        (f"{prefix}/count", b'{"value": "twelve", "ts": 1772600768250}'),
    )
    got = await reader.until(lambda g: len(g) >= 5)
    assert [(s.path.removeprefix(P), s.value) for s in got] == [
        ("part_id", "123456.20"),
        ("order", "0001"),
        ("batch_no", "7.50"),
        ("temp", 21.5),
        ("count", 12),
    ]
    assert all(type(s.value) in (str, float, int) for s in got)
    await wait_until(lambda: conn.status.errors >= 1)
    assert conn.status.errors == 1 and "'twelve' is not a whole number" in conn.status.last_error
