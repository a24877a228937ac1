"""A Mosquitto broker killed (SIGKILL) while a publisher sends QoS 1 values and restarted on the same port from its
persistence file: which of the values the broker acknowledged reached werk's MQTT connector.

Shared by the test that holds werk's defaults to losing none (``test_mqtt_connector.py``) and the benchmark that
sets them beside a clean session under a random id (``benchmarks/mqtt_broker_restart.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from tests.conftest import wait_until
from tests.connect.test_mqtt_connector import Mosquitto
from werk.connect import Bindings
from werk.connect.mqtt import MqttConnector, MqttConnectorConfig
from werk.core.lifecycle import cancel_within
from werk.core.model import Quality

TOPIC = "line-1/press-1/force"
PATH = "acme/test/press-shop/line-1/cell-1/press-1/force"
T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)


class CrashSafeMosquitto(Mosquitto):
    """Saves its sessions and queued messages to its persistence file after every change (``autosave_on_changes``
    with ``autosave_interval 1``), so a SIGKILL loses nothing it had acknowledged; by default Mosquitto saves every
    30 minutes and on a clean stop. It logs only errors: a save is logged each time, and nobody reads the pipe
    its log goes to, which would fill and stop the broker."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(
            tmp_path,
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {tmp_path}/",
            "autosave_on_changes true",
            "autosave_interval 1",
            "log_type error",
        )


@dataclass
class Outcome:
    """What the publisher had acknowledged and what werk received of it."""

    sent: int
    acknowledged: set[int] = field(default_factory=set)
    received: list[int] = field(default_factory=list)
    publisher_retries: int = 0

    @property
    def lost(self) -> list[int]:
        """Values the broker acknowledged that werk never received."""
        return sorted(self.acknowledged - set(self.received))


async def kill_and_restart(
    tmp_path: Path,
    brokers: list[Mosquitto],
    settings: dict[str, Any] | None = None,
    *,
    values: int = 1800,
    kill_after: int = 600,
    down_s: float = 1.0,
    every_s: float = 0.002,
) -> Outcome:
    """Publish ``values`` QoS 1 values (one every ``every_s``), kill the broker after ``kill_after`` of them, start it
    again ``down_s`` later, and wait until werk has every acknowledged value or 20 s have passed without progress.
    ``settings`` override the MQTT connector's (None: werk's defaults)."""
    broker = CrashSafeMosquitto(tmp_path)
    brokers.append(broker)
    await broker.start()
    cfg = MqttConnectorConfig(type="mqtt", host="127.0.0.1", port=broker.port, **(settings or {}))
    conn = MqttConnector("line", cfg, Bindings({TOPIC: PATH}, plant="acme-test"))
    outcome = Outcome(sent=values)

    async def read() -> None:
        async for batch in conn.stream():
            outcome.received.extend(int(s.value) for s in batch if s.quality is not Quality.BAD)

    reader = asyncio.create_task(read())
    restart: asyncio.Task[None] | None = None
    try:
        await wait_until(lambda: conn.status.connected, timeout=10)
        i = 0
        while i < values:
            try:
                async with aiomqtt.Client("127.0.0.1", broker.port, timeout=2.0) as client:
                    while i < values:
                        ts = T0 + timedelta(seconds=i)
                        body = {"value": i, "ts": ts.isoformat().replace("+00:00", "Z")}
                        await client.publish(TOPIC, json.dumps(body), qos=1)
                        outcome.acknowledged.add(i)
                        i += 1
                        if i == kill_after:
                            broker.kill()
                            restart = asyncio.create_task(_start_later(broker, down_s))
                        await asyncio.sleep(every_s)
            except aiomqtt.MqttError:
                outcome.publisher_retries += 1
                await asyncio.sleep(0.05)
        await _settle(outcome)
    finally:
        if restart is not None:
            with contextlib.suppress(Exception):
                await restart
        await cancel_within([reader])
    return outcome


async def _start_later(broker: Mosquitto, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await broker.start()


async def _settle(outcome: Outcome, quiet_s: float = 20.0) -> None:
    """Until werk has every acknowledged value, or nothing new arrived for ``quiet_s``."""
    seen, since = -1, asyncio.get_running_loop().time()
    while not outcome.acknowledged <= set(outcome.received):
        now = asyncio.get_running_loop().time()
        if len(outcome.received) != seen:
            seen, since = len(outcome.received), now
        elif now - since > quiet_s:
            return
        await asyncio.sleep(0.1)
