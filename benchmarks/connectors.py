"""Connector throughput end to end, per protocol, beside a bare client of the same protocol.

    python benchmarks/connectors.py [--seconds 20] [--only mqtt,opcua,modbus] [--quick]

werk's figure: protocol -> connector -> MemoryBus -> HistorianWriter -> SQLite, samples committed per second over a
fixed window after a warm-up. The reference: the same source read by a bare client of the same library (aiomqtt,
asyncua, pymodbus) that only decodes and counts, no werk. Sources run in their own process, on loopback:

* MQTT: a publisher process sends JSON arrays of ``--mqtt-batch`` samples per message (werk's batch payload) to the
  Mosquitto broker on 127.0.0.1:1883 (the run stops when there is none). Goal: 100k samples/s.
* OPC UA: an asyncua server with ``--opcua-items`` variables, each changing once per second. Goal: all items at 1 Hz
  (werk commits at least 0.95 x items samples/s) with lag (receive time - source time) well under a second (printed,
  not judged: the test server's own writes take part of it).
* Modbus TCP: a pymodbus server with ``--modbus-registers`` holding registers, polled every 100 ms. Goal: every
  register every poll (at least 0.95 x registers x 10 samples/s).

``--quick``: 4 s windows after 1.5 s of warm-up, 2,000 OPC UA items.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from werk.bus import MemoryBus
from werk.connect.base import ConnectorStatus
from werk.connect.modbus import ModbusConnectorConfig
from werk.connect.mqtt import MqttConnectorConfig
from werk.connect.opcua import OpcUaConnectorConfig
from werk.core.model import Sample
from werk.runtime.historian_writer import HistorianWriter
from werk.runtime.spool import Spool
from werk.store import SQLiteHistorian

console = Console(width=150)
WARMUP_S = 3.0
MQTT_GOAL = 100_000.0  # samples/s
SHARE = 0.95  # of what the source offers, for "all items at 1 Hz" and "every register every poll"


@dataclass
class Result:
    protocol: str
    what: str
    werk: float = 0.0
    raw: float = 0.0
    lag_ms: list[float] = field(default_factory=list)
    note: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


# --- sources, each in its own process -------------------------------------------------------------------------


def mqtt_publisher(topics: int, batch: int, rate: float, seconds: float) -> None:
    """Publish ``rate`` samples/s as JSON arrays of ``batch`` objects, round-robin over the topics, paced so the
    publisher's own CPU stays small (a 2-core box would otherwise measure the publisher, not werk)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.max_queued_messages_set(5000)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    start = time.monotonic()
    end = start + seconds
    sent = 0
    offsets = [f"{i / 1000:.3f}" for i in range(batch)]
    while time.monotonic() < end:
        due = int((time.monotonic() - start) * rate / batch)  # messages that should be out by now
        while sent < due:
            ms = int(time.time() * 1000)
            # the item form of werk's batch payload; each stamp unique within the topic (microsecond steps)
            body = ",".join(f'{{"value":{sent % 977}.5,"ts":{ms}{o[1:]}}}' for o in offsets)
            client.publish(f"werkbench/t{sent % topics}", f"[{body}]", qos=0)
            sent += 1
        time.sleep(0.005)
    client.loop_stop()
    client.disconnect()


def opcua_server(port: int, items: int, seconds: float) -> None:
    from asyncua import Server, ua

    async def run() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace("urn:werk:bench")
        folder = await server.nodes.objects.add_folder(ua.NodeId("Tags", ns), ua.QualifiedName("Tags", ns))
        nodes = []
        for i in range(items):
            v = await folder.add_variable(ua.NodeId(f"t{i}", ns), ua.QualifiedName(f"t{i}", ns), 0.0)
            nodes.append(v.nodeid)
        await server.start()
        end = time.monotonic() + seconds
        k = 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            k += 1
            now = datetime.now(UTC)
            for i, nid in enumerate(nodes):
                dv = ua.DataValue(
                    ua.Variant(float(k * 100000 + i), ua.VariantType.Double), SourceTimestamp=now
                )
                await server.write_attribute_value(nid, dv)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        await server.stop()

    asyncio.run(run())


def modbus_server(port: int, registers: int, seconds: float) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def run() -> None:
        regs = [SimData(0, values=list(range(registers)), datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        server = ModbusTcpServer(
            [SimDevice(id=1, simdata=(bits, bits, regs, regs))], address=("127.0.0.1", port)
        )
        await server.serve_forever(background=True)
        await asyncio.sleep(seconds)
        await server.shutdown()  # type: ignore[no-untyped-call]

    asyncio.run(run())


# --- werk's path and the bare clients ---------------------------------------------------------------------------


async def werk_rate(
    stream: AsyncIterator[list[Sample]], seconds: float, db: Path, progress: Progress, label: str
) -> tuple[float, list[float]]:
    """Committed samples/s over ``seconds`` after the warm-up, and receive lag (ms) of a sample per batch."""
    hist = SQLiteHistorian(db)
    hist.open()
    bus = MemoryBus(queue_batches=256)
    writer = HistorianWriter(bus, hist, batch_max=20_000, flush_s=0.2)
    wtask = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    # as in production (runtime.platform): the connector reaches the bus through its store-and-forward spool
    status = ConnectorStatus(label, label, "bench")
    spool = Spool(bus, db.with_suffix(".spool.db"), status, max_samples=100_000_000)
    dtask = asyncio.create_task(spool.drain())
    lags: list[float] = []
    measuring = False

    async def pump() -> None:
        async for batch in stream:
            if measuring:
                lags.append((time.time() - batch[-1].ts.timestamp()) * 1000)
            await spool.offer(batch)

    ptask = asyncio.create_task(pump())
    job = progress.add_task(f"{label}: werk", total=WARMUP_S + seconds)
    t = time.monotonic()
    while time.monotonic() - t < WARMUP_S:
        await asyncio.sleep(0.2)
        progress.update(job, completed=time.monotonic() - t)
    measuring = True
    n0, t0 = writer.written, time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.2)
        progress.update(job, completed=time.monotonic() - t)
    rate = (writer.written - n0) / (time.monotonic() - t0)
    if status.spooled:  # the store did not keep up: a sustained rate must not hide a growing backlog
        progress.console.print(f"{label}: {status.spooled:,} samples still waiting on disk at the end")
    for task in (ptask, dtask, wtask):
        task.cancel()
    await asyncio.gather(ptask, dtask, wtask, return_exceptions=True)
    spool.close()
    hist.close()
    return rate, lags


async def _count_for(counter: Callable[[], int], seconds: float, progress: Progress, label: str) -> float:
    job = progress.add_task(f"{label}: bare client", total=WARMUP_S + seconds)
    t = time.monotonic()
    while time.monotonic() - t < WARMUP_S:
        await asyncio.sleep(0.2)
        progress.update(job, completed=time.monotonic() - t)
    n0, t0 = counter(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.2)
        progress.update(job, completed=time.monotonic() - t)
    return (counter() - n0) / (time.monotonic() - t0)


async def mqtt_raw(topics: int, seconds: float, progress: Progress) -> float:
    import aiomqtt

    count = 0

    async def read() -> None:
        nonlocal count
        async with aiomqtt.Client("127.0.0.1", 1883, max_queued_incoming_messages=100_000) as c:
            await c.subscribe("werkbench/#", qos=0)
            async for m in c.messages:
                count += len(json.loads(m.payload))

    task = asyncio.create_task(read())
    try:
        return await _count_for(lambda: count, seconds, progress, "mqtt")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def opcua_raw(endpoint: str, items: int, seconds: float, progress: Progress) -> float:
    from asyncua import Client, ua

    count = 0

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            nonlocal count
            count += 1

    async with Client(endpoint, timeout=30) as client:
        sub = await client.create_subscription(200, Handler())
        ns = await client.get_namespace_index("urn:werk:bench")
        nodes = [client.get_node(ua.NodeId(f"t{i}", ns)) for i in range(items)]
        for i in range(0, items, 1000):
            await sub.subscribe_data_change(nodes[i : i + 1000], queuesize=2)
        return await _count_for(lambda: count, seconds, progress, "opcua")


async def modbus_raw(port: int, registers: int, seconds: float, progress: Progress) -> float:
    from pymodbus.client import AsyncModbusTcpClient

    count = 0
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    if not await asyncio.wait_for(client.connect(), 10):
        raise RuntimeError(f"the Modbus test server on port {port} is not there")

    async def poll() -> None:
        nonlocal count
        while True:
            t = time.monotonic()
            for a in range(0, registers, 125):
                rr = await client.read_holding_registers(a, count=min(125, registers - a), device_id=1)
                count += len(rr.registers)
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - t)))

    task = asyncio.create_task(poll())
    try:
        return await _count_for(lambda: count, seconds, progress, "modbus")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()


# --- per protocol -----------------------------------------------------------------------------------------------


def _peer_lifetime(a: argparse.Namespace) -> float:
    """How long a peer process runs, well past both phases; each is killed when its protocol is done. A peer that
    left early on a loaded machine (a Modbus server) once left the bare client waiting for it forever."""
    return 4 * (WARMUP_S + a.seconds) + 120


def _spawn(target: Callable[..., None], *args: Any) -> mp.process.BaseProcess:
    p = mp.get_context("spawn").Process(target=target, args=args, daemon=True)
    p.start()
    return p


def bench_mqtt(a: argparse.Namespace, tmp: Path, progress: Progress) -> Result:
    from werk.connect.mqtt import MqttConnector

    res = Result("MQTT", f"{a.mqtt_rate:,.0f}/s offered, {a.mqtt_topics} topics, arrays of {a.mqtt_batch}")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 1883)) != 0:
            res.note = "skipped: no broker on 127.0.0.1:1883"
            return res
    pub = _spawn(mqtt_publisher, a.mqtt_topics, a.mqtt_batch, a.mqtt_rate, _peer_lifetime(a))
    try:
        cfg = MqttConnectorConfig(type="mqtt", qos=0)
        bindings = {f"werkbench/t{t}": f"bench/s/a/l/c/m{t % 100}/t{t}" for t in range(a.mqtt_topics)}
        conn = MqttConnector("bench", cfg, bindings)
        res.werk, res.lag_ms = asyncio.run(
            werk_rate(conn.stream(), a.seconds, tmp / "mqtt.db", progress, "mqtt")
        )
        res.raw = asyncio.run(mqtt_raw(a.mqtt_topics, a.seconds, progress))
        res.note = f"dropped {conn.status.dropped}, errors {conn.status.errors}"
    finally:
        pub.kill()
    return res


def bench_opcua(a: argparse.Namespace, tmp: Path, progress: Progress) -> Result:
    from werk.connect.opcua import OpcUaConnector

    res = Result("OPC UA", f"{a.opcua_items:,} items at 1 Hz (goal {a.opcua_items:,}/s)")
    port = _free_port()
    srv = _spawn(opcua_server, port, a.opcua_items, _peer_lifetime(a))
    try:
        _wait_port(port, 120)
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench"
        cfg = OpcUaConnectorConfig(
            type="opcua", endpoint=endpoint, publishing_interval_ms=200, queue_size=2, timeout_s=10
        )
        bindings = {
            f"nsu=urn:werk:bench;s=t{i}": f"bench/s/a/l/c/m{i % 100}/t{i}" for i in range(a.opcua_items)
        }
        conn = OpcUaConnector("bench", cfg, bindings)
        res.werk, res.lag_ms = asyncio.run(
            werk_rate(conn.stream(), a.seconds, tmp / "opcua.db", progress, "opcua")
        )
        res.raw = asyncio.run(opcua_raw(endpoint, a.opcua_items, a.seconds, progress))
        res.note = (
            f"monitored {conn.monitored:,} in {conn.monitor_calls} calls, dropped {conn.status.dropped}"
        )
    finally:
        srv.kill()
    return res


def bench_modbus(a: argparse.Namespace, tmp: Path, progress: Progress) -> Result:
    from werk.connect.modbus import ModbusConnector

    res = Result("Modbus TCP", f"{a.modbus_registers:,} holding registers every 100 ms")
    port = _free_port()
    srv = _spawn(modbus_server, port, a.modbus_registers, _peer_lifetime(a))
    try:
        _wait_port(port)
        cfg = ModbusConnectorConfig(type="modbus", port=port, poll_interval_ms=100)
        bindings = {f"hr:{i}": f"bench/s/a/l/c/m{i % 100}/r{i}" for i in range(a.modbus_registers)}
        conn = ModbusConnector("bench", cfg, bindings)
        res.werk, _lags = asyncio.run(
            werk_rate(conn.stream(), a.seconds, tmp / "modbus.db", progress, "modbus")
        )
        res.raw = asyncio.run(modbus_raw(port, a.modbus_registers, a.seconds, progress))
        res.note = f"goal {a.modbus_registers * 10:,}/s (every register every poll)"
    finally:
        srv.kill()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring window per protocol and client")
    ap.add_argument("--only", default="mqtt,opcua,modbus")
    ap.add_argument("--mqtt-topics", type=int, default=100)
    ap.add_argument("--mqtt-batch", type=int, default=1000)
    ap.add_argument("--mqtt-rate", type=float, default=150_000, help="samples/s the publisher offers")
    ap.add_argument("--opcua-items", type=int, default=10_000)
    ap.add_argument("--modbus-registers", type=int, default=1000)
    ap.add_argument(
        "--quick", action="store_true", help="4 s windows, 2,000 OPC UA items (a check, not a figure)"
    )
    a = ap.parse_args()
    global WARMUP_S
    if a.quick:
        a.seconds, a.opcua_items, WARMUP_S = 4.0, 2000, 1.5
        console.print(
            "quick run: 4 s windows after 1.5 s of warm-up, 2,000 OPC UA items (a check, not the figure of record)"
        )
    if "mqtt" in a.only.split(","):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", 1883)) != 0:
                sys.exit(
                    "connectors.py: no MQTT broker on 127.0.0.1:1883 (apt-get install mosquitto), or --only opcua,modbus"
                )
    benches = {"mqtt": bench_mqtt, "opcua": bench_opcua, "modbus": bench_modbus}
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        for name in a.only.split(","):
            results.append(benches[name](a, Path(tmpdir), progress))
    console.print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, window {a.seconds:.0f} s per run"
    )
    table = Table(title="connectors, end to end (protocol -> connector -> bus -> historian -> SQLite)")
    for col in (
        "protocol",
        "load",
        "werk samples/s",
        "bare client /s",
        "werk/bare",
        "lag p50/p99 ms",
        "note",
    ):
        table.add_column(col, justify="right" if "/" in col or "ms" in col else "left")
    for r in results:
        lag = "-"
        if r.lag_ms:
            q = statistics.quantiles(r.lag_ms, n=100) if len(r.lag_ms) > 1 else [r.lag_ms[0]] * 99
            lag = f"{statistics.median(r.lag_ms):,.0f} / {q[98]:,.0f}"
        ratio = f"{r.werk / r.raw:.2f}" if r.raw else "-"
        table.add_row(r.protocol, r.what, f"{r.werk:,.0f}", f"{r.raw:,.0f}", ratio, lag, r.note)
    console.print(table)
    goals, short = [], []
    for r in results:
        if r.protocol == "MQTT":
            goals.append(f"MQTT >= {MQTT_GOAL / 1000:g}k samples/s")
            if r.werk < MQTT_GOAL:
                short.append(f"MQTT {r.werk:,.0f}/s")
        elif r.protocol == "OPC UA":
            goals.append(f"OPC UA {a.opcua_items:,} items at 1 Hz")
            if r.werk < SHARE * a.opcua_items:
                short.append(f"OPC UA {r.werk:,.0f}/s")
        else:
            goals.append(f"Modbus {a.modbus_registers:,} registers every 100 ms")
            if r.werk < SHARE * a.modbus_registers * 10:
                short.append(f"Modbus {r.werk:,.0f}/s")
    what = f"goal {' and '.join(goals)}"
    print(f"{what}: not met ({', '.join(short)})" if short else f"{what}: met")


if __name__ == "__main__":
    main()
