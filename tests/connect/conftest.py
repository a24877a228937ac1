"""Fixtures for the connector tests that talk to MQTT: the machine's broker, a fresh topic prefix, and readers that
drain a connector's stream in the background."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import pytest

from tests.conftest import need, wait_until
from werk.connect.mqtt import MqttConnector, MqttConnectorConfig
from werk.core.lifecycle import cancel_within
from werk.core.model import Sample


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def system_broker() -> int:
    need(
        _reachable(1883),
        "no MQTT broker on 127.0.0.1:1883 (apt-get install mosquitto; service mosquitto start)",
    )
    return 1883


@pytest.fixture
def prefix() -> str:
    return f"werk-test/{uuid.uuid4().hex[:12]}"


def _config(port: int, **kw: Any) -> MqttConnectorConfig:
    """Settings for a test's connector. The machine's broker is shared by every test run on the machine: each
    connector gets an id of its own and a clean session, so no session outlives its test (the defaults, a
    persistent session under a stable id, are tested against brokers of the tests' own)."""
    base: dict[str, Any] = {
        "type": "mqtt",
        "host": "127.0.0.1",
        "port": port,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.3,
        "timeout_s": 3.0,
        "client_id": f"werk-test-{uuid.uuid4().hex[:12]}",
        "persistent_session": False,
    }
    return MqttConnectorConfig(**(base | kw))


async def _publish(port: int, *messages: tuple[str, bytes | str], retain: bool = False, **kw: Any) -> None:
    async with aiomqtt.Client("127.0.0.1", port, **kw) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=retain)


class Reader:
    """Drains a connector's stream in the background so tests can publish while it listens."""

    def __init__(self, conn: MqttConnector) -> None:
        self.conn = conn
        self.samples: list[Sample] = []
        self.changed = asyncio.Event()
        self._stream = conn.stream()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self._stream:
            self.samples.extend(batch)
            self.changed.set()

    async def until(self, predicate: Callable[[list[Sample]], bool], timeout: float = 15) -> list[Sample]:
        async with asyncio.timeout(timeout):
            while not predicate(self.samples):
                self.changed.clear()
                await self.changed.wait()
        return self.samples

    async def close(self) -> None:
        # as the platform stops its connectors: one cancel can be lost under Python 3.11 (aiomqtt's wait_for), and
        # a test that failed mid-session then hung in its teardown, past pytest's timeout
        stuck = await cancel_within([self._task], timeout=10)
        assert not stuck, f"the stream of connector {self.conn.name!r} did not stop within 10 s of its cancel"
        await self._stream.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def readers() -> AsyncIterator[list[Reader]]:
    made: list[Reader] = []
    yield made
    for r in made:
        await r.close()


async def _first_failure(conn: MqttConnector) -> str:
    """Let the connector try until it has failed once; its last error."""
    reader = Reader(conn)
    try:
        await wait_until(lambda: conn.status.errors >= 1, timeout=10)
    finally:
        await reader.close()
    assert not conn.status.connected
    return conn.status.last_error


async def _listen(readers: list[Reader], conn: MqttConnector) -> Reader:
    reader = Reader(conn)
    readers.append(reader)
    await wait_until(lambda: conn.status.connected or reader._task.done(), timeout=10)
    assert conn.status.connected, conn.status.last_error
    return reader
