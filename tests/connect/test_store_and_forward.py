"""Store-and-forward end to end: werk's publisher (on-disk outbox) -> a Mosquitto broker that is stopped and started
mid-stream -> werk's MQTT connector (persistent session). Every sample arrives, once per identity, in order."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import wait_until
from tests.connect.conftest import Reader, _config
from tests.connect.test_mqtt_connector import Mosquitto, own_brokers  # noqa: F401
from werk.connect.mqtt import MqttConnector, MqttPublisher
from werk.connect.outbox import SqliteOutbox
from werk.core.model import Quality, Sample

PATH = "acme/s/a/l/c/edge-1/flow"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


class PersistentMosquitto(Mosquitto):
    """Saves its sessions and queued messages to disk on a graceful stop, like a production broker."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(
            tmp_path, "allow_anonymous true", "persistence true", f"persistence_location {tmp_path}/"
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None


def test_outbox_is_ordered_bounded_and_survives_reopening(tmp_path: Path) -> None:
    box = SqliteOutbox(tmp_path / "o.db", max_items=5)
    box.push([(f"t/{i}", bytes([i])) for i in range(4)])
    box.pop(1)
    box.push([(f"t/{i}", bytes([i])) for i in range(4, 8)])  # 7 queued > 5: the two oldest give way
    assert len(box) == 5 and box.dropped == 2
    box.close()
    again = SqliteOutbox(tmp_path / "o.db", max_items=5)
    assert [t for t, _ in again.peek(10)] == ["t/3", "t/4", "t/5", "t/6", "t/7"]
    assert again.dropped == 2  # the loss is still reported after a restart
    again.pop(2)
    assert [t for t, _ in again.peek(1)] == ["t/5"]


async def test_broker_restart_mid_stream_loses_nothing_and_keeps_order(
    tmp_path: Path,
    own_brokers: list[Mosquitto],  # noqa: F811
    readers: list[Reader],
) -> None:
    broker = PersistentMosquitto(tmp_path)
    own_brokers.append(broker)
    await broker.start()
    sub_cfg = _config(broker.port).model_copy(
        update={"client_id": "werk-sf-test", "persistent_session": True, "qos": 1, "reconnect_max_s": 0.5}
    )
    conn = MqttConnector("plant", sub_cfg, {f"uns/{PATH}": PATH})
    reader = Reader(conn)
    readers.append(reader)
    await wait_until(lambda: conn.status.connected, timeout=10)
    pub_cfg = _config(broker.port).model_copy(update={"qos": 1, "reconnect_max_s": 0.5})
    outbox = SqliteOutbox(tmp_path / "outbox.db")
    n = 300
    sent = [Sample(PATH, T0 + timedelta(seconds=i), float(i)) for i in range(n)]
    async with MqttPublisher("edge", pub_cfg, "uns", outbox=outbox, drain_s=30) as pub:
        await wait_until(lambda: pub.status.connected, timeout=10)
        for i, s in enumerate(sent):
            pub.publish([s])
            if i == n // 3:
                broker.stop()  # mid-stream: the rest goes to the outbox on disk
            if i == 2 * n // 3:
                assert len(outbox) > 0, "nothing was kept while the broker was away"
                await broker.start()
            await asyncio.sleep(0.002)
        async with asyncio.timeout(30):
            await pub.drain()
    await reader.until(
        lambda g: {s.ts for s in g if s.quality is not Quality.BAD} >= {s.ts for s in sent}, timeout=30
    )
    good = [s for s in reader.samples if s.quality is not Quality.BAD]
    first_seen: dict[datetime, Sample] = {}
    for s in good:
        first_seen.setdefault(s.ts, s)
    assert [s.value for s in first_seen.values()] == [s.value for s in sent]  # all of them, in order
    assert outbox.dropped == 0 and len(outbox) == 0
    assert pub.status.reconnects >= 1
