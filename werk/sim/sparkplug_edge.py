"""The virtual factory's environment sensors: a Sparkplug B edge node (Sparkplug 3.0) on an MQTT broker.

Per hall it reports air temperature (degC) and relative humidity (%): a daily swing, plus the heat the machines in
the plant put into the air (their summed electrical power). NBIRTH carries every metric with its alias and a
bdSeq; NDATA then sends values by alias with ``seq`` counting 0..255; an NCMD ``Node Control/Rebirth`` is answered
with a new NBIRTH (Sparkplug 3.0, 6.4.x). The broker is not werk's: when none is reachable the node keeps trying,
and nothing else in the simulator waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random

import aiomqtt

from werk.connect import sparkplug_b_pb2 as pb
from werk.core.lifecycle import cancel_within
from werk.sim.config import SimSparkplugConfig
from werk.sim.factory import Factory

log = logging.getLogger(__name__)
PERIOD_S = 1.0
NAMESPACE = "spBv1.0"


class SimSparkplugEdge:
    def __init__(self, factory: Factory, config: SimSparkplugConfig) -> None:
        self.factory = factory
        self.config = config
        self.metrics = [f"{h}/{q}" for h in config.halls for q in ("temperature", "humidity")]
        self.rng = random.Random(f"env:{factory.sim.seed}")
        self.seq = 0
        self.bdseq = 0
        self.connected = False
        self._task: asyncio.Task[None] | None = None
        self._rebirth = asyncio.Event()

    def topic(self, kind: str) -> str:
        return f"{NAMESPACE}/{self.config.group}/{kind}/{self.config.edge_node}"

    def values(self) -> dict[str, float]:
        """Current readings: deterministic in the simulator's time, plus a little seeded noise."""
        day = 2 * math.pi * (self.factory.sim_seconds % 86_400) / 86_400
        heat_kw = sum(float(a.model.values().get("power", 0.0)) for a in self.factory.assets.values())
        out = {}
        for i, hall in enumerate(self.config.halls):
            temp = 19.0 + 3.0 * math.sin(day - 1.8) + heat_kw / 60.0 + 0.5 * i + self.rng.gauss(0, 0.05)
            out[f"{hall}/temperature"] = round(temp, 2)
            out[f"{hall}/humidity"] = round(50.0 - 8.0 * math.sin(day - 1.8) + self.rng.gauss(0, 0.3), 1)
        return out

    def _payload(self, metrics: list[pb.Payload.Metric]) -> bytes:
        p = pb.Payload(timestamp=int(self.factory.now.timestamp() * 1000), seq=self.seq)
        self.seq = (self.seq + 1) % 256
        p.metrics.extend(metrics)
        return p.SerializeToString()

    def birth(self) -> bytes:
        self.seq = 0
        ms = [pb.Payload.Metric(name="bdSeq", datatype=pb.Int64, long_value=self.bdseq)]
        ms.append(pb.Payload.Metric(name="Node Control/Rebirth", datatype=pb.Boolean, boolean_value=False))
        for alias, (name, value) in enumerate(self.values().items(), start=1):
            ms.append(pb.Payload.Metric(name=name, alias=alias, datatype=pb.Double, double_value=value))
        return self._payload(ms)

    def data(self) -> bytes:
        ms = [
            pb.Payload.Metric(alias=alias, datatype=pb.Double, double_value=value)
            for alias, value in enumerate(self.values().values(), start=1)
        ]
        return self._payload(ms)

    def death(self) -> bytes:
        p = pb.Payload(timestamp=int(self.factory.now.timestamp() * 1000))
        p.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=self.bdseq)
        return p.SerializeToString()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="werk-sim-sparkplug")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_within([self._task])
            self._task = None

    async def _run(self) -> None:
        delay = 1.0
        while True:
            will = aiomqtt.Will(self.topic("NDEATH"), self.death(), qos=1)
            try:
                async with aiomqtt.Client(
                    self.config.host,
                    self.config.port,
                    identifier=f"werk-sim-{self.config.edge_node}",
                    will=will,
                ) as client:
                    await client.subscribe(self.topic("NCMD"), qos=1)
                    await client.publish(self.topic("NBIRTH"), self.birth(), qos=1)
                    self.connected, delay = True, 1.0
                    listener = asyncio.create_task(self._commands(client))
                    try:
                        while True:
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._rebirth.wait(), PERIOD_S)
                            if self._rebirth.is_set():
                                self._rebirth.clear()
                                await client.publish(self.topic("NBIRTH"), self.birth(), qos=1)
                            else:
                                await client.publish(self.topic("NDATA"), self.data(), qos=1)
                    finally:
                        listener.cancel()
                        await asyncio.gather(listener, return_exceptions=True)
            except aiomqtt.MqttError as exc:
                log.info(
                    "sim.sparkplug.offline broker=%s:%d error=%s", self.config.host, self.config.port, exc
                )
            finally:
                self.connected = False
            self.bdseq = (self.bdseq + 1) % 256
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                cmd = pb.Payload.FromString(bytes(message.payload))
            except Exception:
                continue
            if any(m.name == "Node Control/Rebirth" and m.boolean_value for m in cmd.metrics):
                self._rebirth.set()
