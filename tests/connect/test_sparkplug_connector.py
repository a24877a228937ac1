"""The Sparkplug B host application against the machine's Mosquitto broker on 127.0.0.1:1883.

An edge-node simulator in this file publishes real protobuf payloads (built with the official runtime from the
committed bindings) on a fresh group id per test, and watches for the host's rebirth requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
from google.protobuf.descriptor import Descriptor
from pydantic import ValidationError

from tests.conftest import free_port, shared_data, wait_until
from tests.connect.conftest import Reader, _listen
from werk.connect import sparkplug_b_pb2 as pb
from werk.connect.base import WritableConnector
from werk.connect.sparkplug import (
    MetricAddress,
    PayloadError,
    SparkplugConfig,
    SparkplugConnector,
    Topic,
    command_payload,
    metric_value,
    parse_address,
    parse_topic,
    rebirth_request,
)
from werk.core.model import Quality
from werk.errors import ConnectorError

P = "acme/berlin/press-shop/line-1/cell-1/"
T0 = datetime(2026, 3, 4, 5, 6, 7, 250000, UTC)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


# --- pure parts ----------------------------------------------------------------------------------------------


def test_addresses_and_topics() -> None:
    assert parse_address("G1/edge-7/press-1/Hydraulics/Force") == MetricAddress(
        "G1", "edge-7", "press-1", "Hydraulics/Force"
    )
    assert parse_address("G1/edge-7//Properties/Temp") == MetricAddress(
        "G1", "edge-7", None, "Properties/Temp"
    )
    for bad in ("G1/edge-7/Force", "/edge/dev/m", "G1/edge/dev/", "G+/edge/dev/m"):
        with pytest.raises(ConnectorError):
            parse_address(bad)
    assert parse_topic("spBv1.0/G1/NDATA/edge-7") == Topic("G1", "NDATA", "edge-7")
    assert parse_topic("spBv1.0/G1/DDATA/edge-7/press-1") == Topic("G1", "DDATA", "edge-7", "press-1")
    for other in (
        "spBv1.0/STATE/werk",
        "spBv1.0/G1/NDATA/edge/dev",
        "spBv1.0/G1/DDATA/edge",
        "spAv1.0/G/NDATA/e",
    ):
        assert parse_topic(other) is None


def test_committed_bindings_match_the_shared_proto() -> None:
    """Every message field and enum value of eclipse/tahu's sparkplug_b.proto, by name and number, and no more."""
    text = shared_data("sparkplug", "sparkplug_b.proto").read_text()
    text = re.sub(r"//[^\n]*", "", text)
    in_proto = set(re.findall(r"(\w+)\s*=\s*(\d+)\s*;", text))

    def fields(d: Descriptor) -> set[tuple[str, str]]:
        out = {(f.name, str(f.number)) for f in d.fields}
        for nested in d.nested_types:
            out |= fields(nested)
        return out

    in_bindings = fields(pb.Payload.DESCRIPTOR) | {
        (v.name, str(v.number)) for v in pb.DataType.DESCRIPTOR.values
    }
    assert in_bindings == in_proto
    assert pb.DESCRIPTOR.package == "org.eclipse.tahu.protobuf"


def test_config_refuses_ids_with_topic_separators() -> None:
    for bad in ({"host_id": "a/b"}, {"host_id": "h", "groups": ["g+"]}, {"host_id": ""}):
        with pytest.raises(ValidationError):
            SparkplugConfig(type="sparkplug", **bad)
    assert SparkplugConfig(type="sparkplug", host_id="werk").primary


def _metric(datatype: int, **value: Any) -> pb.Payload.Metric:
    return pb.Payload.Metric(name="m", datatype=datatype, **value)


def test_metric_values_follow_their_datatype() -> None:
    assert metric_value(_metric(pb.Int8, int_value=0xFF), pb.Int8) == -1
    assert metric_value(_metric(pb.Int16, int_value=0x8000), pb.Int16) == -32768
    assert metric_value(_metric(pb.Int32, int_value=2**32 - 5), pb.Int32) == -5
    assert metric_value(_metric(pb.Int64, long_value=2**64 - 2), pb.Int64) == -2
    assert metric_value(_metric(pb.UInt64, long_value=2**64 - 1), pb.UInt64) == 2**64 - 1
    assert metric_value(_metric(pb.Float, float_value=1.5), pb.Float) == 1.5
    assert metric_value(_metric(pb.Boolean, boolean_value=False), pb.Boolean) is False
    assert metric_value(_metric(pb.Text, string_value="hi"), pb.Text) == "hi"
    assert metric_value(_metric(pb.DateTime, long_value=_ms(T0)), pb.DateTime) == "2026-03-04T05:06:07.250Z"
    with pytest.raises(PayloadError, match="Float in string_value, expected float_value"):
        metric_value(_metric(pb.Float, string_value="1.5"), pb.Float)
    with pytest.raises(PayloadError, match="DataSet is not mapped"):
        metric_value(_metric(pb.DataSet), pb.DataSet)


def test_command_payloads_round_trip_through_metric_value_and_refuse_what_does_not_fit() -> None:
    cases: list[tuple[int, Any]] = [
        (pb.Int8, -128),
        (pb.Int16, 32767),
        (pb.Int32, -5),
        (pb.Int64, -(2**63)),
        (pb.UInt8, 255),
        (pb.UInt32, 2**32 - 1),
        (pb.UInt64, 2**64 - 1),
        (pb.Float, 1.5),
        (pb.Double, -0.1),
        (pb.Boolean, False),
        (pb.String, "auto"),
        (pb.Text, "a long note"),
        (pb.DateTime, "2026-03-04T05:06:07.250Z"),
        (pb.UInt16, 65535),
        (pb.UUID, "9b2f6c1e-0d7a-4f3e-9c1a-2b3c4d5e6f70"),
    ]
    fields = {
        pb.Int64: "long_value",
        pb.UInt64: "long_value",
        pb.DateTime: "long_value",  # UInt32 is uint32, int_value (6.4.16)
    }
    fields |= {pb.Float: "float_value", pb.Double: "double_value", pb.Boolean: "boolean_value"}
    for datatype, value in cases:
        payload = pb.Payload.FromString(command_payload("Setpoint", datatype, value, _ms(T0)))
        (metric,) = payload.metrics
        assert (metric.name, payload.timestamp) == ("Setpoint", _ms(T0))
        # no alias (none given), no seq (commands have none), no datatype (the BIRTH declared it)
        assert not {"alias", "datatype"} & {f.name for f, _ in metric.ListFields()} and not payload.HasField(
            "seq"
        )
        expected = fields.get(
            datatype, "string_value" if datatype in (pb.String, pb.Text, pb.UUID) else "int_value"
        )
        assert metric.WhichOneof("value") == expected, pb.DataType.Name(datatype)
        assert metric_value(metric, datatype) == value, pb.DataType.Name(datatype)
    assert (
        metric_value(pb.Payload.FromString(command_payload("F", pb.Float, 3, 0)).metrics[0], pb.Float) == 3.0
    )
    # a whole float is the integer it equals (a scaled binding or an xs:double property sends one)
    assert (
        metric_value(pb.Payload.FromString(command_payload("I", pb.Int32, 5.0, 0)).metrics[0], pb.Int32) == 5
    )
    # where the BIRTH gave an alias, the command carries the alias alone (tck-id-payloads-alias-data-cmd-requirement)
    (aliased,) = pb.Payload.FromString(command_payload("Setpoint", pb.Int32, 7, 0, alias=42)).metrics
    assert (aliased.HasField("name"), aliased.alias, aliased.int_value) == (False, 42, 7)
    refused = [
        (pb.Int8, 128, "outside Int8's range -128..127"),
        (pb.UInt16, -1, "outside UInt16's range 0..65535"),
        (pb.Int32, 1.5, "Int32 takes an integer"),
        (pb.Int32, True, "Int32 takes an integer"),
        (pb.Double, "fast", "Double takes a number"),
        (pb.Float, 1e39, "outside Float's range"),
        (pb.Double, math.nan, "Double takes a finite number"),
        (pb.Float, -math.inf, "Float takes a finite number"),
        (pb.Double, 10**400, "outside Double's range"),
        (pb.Int32, 5.5, "Int32 takes an integer"),
        (pb.DateTime, -1, "outside DateTime's range"),
        (pb.DateTime, 2**64, "outside DateTime's range"),
        (pb.DateTime, "1969-12-31T23:59:59Z", "outside DateTime's range"),
        (pb.Boolean, 1, "Boolean takes true or false"),
        (pb.String, 3, "String takes text"),
        (pb.DateTime, "yesterday", "not an ISO 8601"),
        (pb.DateTime, "2026-03-04T05:06:07", "no time zone"),
        (pb.DataSet, 1, "DataSet is not written"),
    ]
    for datatype, value, why in refused:
        with pytest.raises(ValueError, match=re.escape(why)):
            command_payload("X", datatype, value, 0)


def test_rebirth_request_is_a_boolean_node_control_metric() -> None:
    payload = pb.Payload.FromString(rebirth_request(_ms(T0)))
    (metric,) = payload.metrics
    assert (metric.name, metric.datatype, metric.boolean_value) == ("Node Control/Rebirth", pb.Boolean, True)
    assert payload.timestamp == _ms(T0)


# --- an edge node --------------------------------------------------------------------------------------------


class EdgeNode:
    """A Sparkplug edge node simulator: publishes NBIRTH/DBIRTH/NDATA/DDATA/NDEATH/DDEATH with its own seq and
    bdSeq, and collects the NCMDs sent to it."""

    def __init__(self, client: aiomqtt.Client, group: str, edge: str) -> None:
        self.client = client
        self.group = group
        self.edge = edge
        self.seq = 0
        self.bdseq = 0
        self.commands: list[pb.Payload] = []
        self.command_topics: list[str] = []
        self.command = asyncio.Event()

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"spBv1.0/{self.group}/{kind}/{self.edge}" + (f"/{device}" if device else "")

    def payload(
        self, metrics: list[pb.Payload.Metric], *, seq: int | None = None, ts: datetime = T0
    ) -> bytes:
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) % 256
        p = pb.Payload(timestamp=_ms(ts), seq=seq)
        p.metrics.extend(metrics)
        return p.SerializeToString()

    async def send(self, kind: str, raw: bytes, device: str | None = None) -> None:
        await self.client.publish(self.topic(kind, device), raw, qos=1)

    async def birth(self, metrics: list[pb.Payload.Metric]) -> None:
        self.seq = 0
        bdseq = pb.Payload.Metric(name="bdSeq", datatype=pb.Int64, long_value=self.bdseq)
        await self.send("NBIRTH", self.payload([bdseq, *metrics]))

    async def death(self, bdseq: int) -> None:
        p = pb.Payload(timestamp=_ms(T0))
        p.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=bdseq)
        await self.send("NDEATH", p.SerializeToString())

    async def watch(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.command_topics.append(message.topic.value)
            self.commands.append(pb.Payload.FromString(message.payload))
            self.command.set()

    async def command_after(self, n: int, timeout: float = 10) -> pb.Payload:
        """The first command after the ``n`` already received (take ``n`` before causing it)."""
        async with asyncio.timeout(timeout):
            while len(self.commands) <= n:
                self.command.clear()
                await self.command.wait()
        return self.commands[n]


def M(
    name: str | None, datatype: int | None = None, alias: int | None = None, **value: Any
) -> pb.Payload.Metric:
    m = pb.Payload.Metric(**value)
    if name is not None:
        m.name = name
    if datatype is not None:
        m.datatype = datatype
    if alias is not None:
        m.alias = alias
    return m


@pytest.fixture
async def edge(system_broker: int) -> AsyncIterator[EdgeNode]:
    group = f"werk-test-{uuid.uuid4().hex[:10]}"
    async with aiomqtt.Client("127.0.0.1", system_broker) as client:
        node = EdgeNode(client, group, "edge-1")
        await client.subscribe([(node.topic("NCMD"), 1), (node.topic("DCMD", "+"), 1)])
        watcher = asyncio.create_task(node.watch())
        try:
            yield node
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


def _config(port: int, group: str, **kw: Any) -> SparkplugConfig:
    base: dict[str, Any] = {
        "type": "sparkplug",
        "port": port,
        "host_id": f"werk-test-{uuid.uuid4().hex[:10]}",
        "groups": [group],
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.3,
        "rebirth_interval_s": 0,
    }
    return SparkplugConfig(**(base | kw))


async def _retained(port: int, topic: str) -> dict[str, Any]:
    async with aiomqtt.Client("127.0.0.1", port) as late:
        await late.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            msg = await anext(late.messages)
    assert msg.retain and isinstance(msg.payload, bytes)
    doc: dict[str, Any] = json.loads(msg.payload)
    return doc


# --- against the broker --------------------------------------------------------------------------------------


async def test_state_is_published_retained_and_offline_when_leaving(
    system_broker: int, edge: EdgeNode
) -> None:
    conn = SparkplugConnector("host", _config(system_broker, edge.group), {})
    assert conn.state_topic == f"spBv1.0/STATE/{conn.config.host_id}"
    reader = Reader(conn)  # type: ignore[arg-type]  # any connector will do
    try:
        await wait_until(lambda: conn.status.connected, timeout=10)
        before = datetime.now(UTC) - timedelta(seconds=5)
        online = await _retained(system_broker, conn.state_topic)
        assert online["online"] is True and isinstance(online["timestamp"], int)
        assert _ms(before) <= online["timestamp"] <= _ms(datetime.now(UTC))
    finally:
        await reader.close()
    try:
        offline = await _retained(system_broker, conn.state_topic)
        assert offline == {
            "online": False,
            "timestamp": online["timestamp"],
        }  # the will's stamp is the birth's
    finally:
        async with aiomqtt.Client("127.0.0.1", system_broker) as c:  # no retained litter on the shared broker
            await c.publish(conn.state_topic, b"", qos=1, retain=True)


async def test_births_data_and_deaths_become_samples(
    edge: EdgeNode, readers: list[Reader], system_broker: int
) -> None:
    g, e = edge.group, edge.edge
    bindings = {
        f"{g}/{e}//Temperature": P + "edge/temperature",
        f"{g}/{e}/press-1/Hydraulics/Force": P + "press-1/force",
        f"{g}/{e}/press-1/Count": P + "press-1/count",
        f"{g}/{e}/press-1/Running": P + "press-1/running",
        f"{g}/{e}/press-1/Mode": P + "press-1/mode",
        f"{g}/{e}/press-1/Total": P + "press-1/total",
        f"{g}/{e}/press-1/Never": P + "press-1/never",
        "other-group/edge-1/press-1/X": P + "other",
    }
    conn = SparkplugConnector("host", _config(system_broker, g), bindings)
    reader = await _listen(readers, conn)
    edge.bdseq = 3
    await edge.birth(
        [M("Temperature", pb.Double, 1, double_value=20.5), M("Unbound", pb.Int32, 2, int_value=1)]
    )
    await edge.send(
        "DBIRTH",
        edge.payload(
            [
                M("Hydraulics/Force", pb.Float, 10, float_value=120.5),
                M("Count", pb.Int32, 11, int_value=2**32 - 5),
                M("Running", pb.Boolean, 12, boolean_value=True),
                M("Mode", pb.String, 13, string_value="auto"),
                M("Total", pb.UInt64, 14, long_value=2**40),
                M("Never", pb.Int16, 15, is_null=True),
            ]
        ),
        "press-1",
    )
    got = await reader.until(lambda g_: len(g_) >= 6)
    assert {s.path.removeprefix(P): s.value for s in got} == {
        "edge/temperature": 20.5,
        "press-1/force": 120.5,
        "press-1/count": -5,
        "press-1/running": True,
        "press-1/mode": "auto",
        "press-1/total": 2**40,
    }
    assert all(s.ts == T0 and s.quality is Quality.GOOD for s in got)
    # data by alias only, stamped per metric or by the payload
    t1 = T0 + timedelta(seconds=1)
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=21.25, timestamp=_ms(t1))]))
    await edge.send(
        "DDATA",
        edge.payload([M(None, alias=11, int_value=7), M(None, alias=12, boolean_value=False)], ts=t1),
        "press-1",
    )
    got = await reader.until(lambda g_: len(g_) >= 9)
    assert [(s.path.removeprefix(P), s.value, s.ts) for s in got[6:]] == [
        ("edge/temperature", 21.25, t1),
        ("press-1/count", 7, t1),
        ("press-1/running", False, t1),
    ]
    # DDEATH: the device's signals go BAD with their last values
    await edge.send("DDEATH", edge.payload([]), "press-1")
    got = await reader.until(lambda g_: len(g_) >= 14)
    assert {(s.path.removeprefix(P), s.value) for s in got[9:] if s.quality is Quality.BAD} == {
        ("press-1/force", 120.5),
        ("press-1/count", 7),
        ("press-1/running", False),
        ("press-1/mode", "auto"),
        ("press-1/total", 2**40),
    }
    # an NDEATH of an older session (its bdSeq is not the NBIRTH's) changes nothing; the right one does
    await edge.death(2)
    await wait_until(lambda: conn.stale_deaths == 1)
    await edge.death(3)
    got = await reader.until(lambda g_: len(g_) >= 15)
    assert (got[14].path, got[14].value, got[14].quality) == (P + "edge/temperature", 21.25, Quality.BAD)
    assert conn.status.errors == 0 and conn.seq_gaps == 0 and edge.commands == []
    assert set(conn.status.bad_bindings) == {P + "other"}  # a group the connector does not follow
    # data after the node's death and before a new birth is out of the protocol: an error, and a rebirth request
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=22.0)]))
    cmd = await edge.command_after(0)
    assert [m.name for m in cmd.metrics] == ["Node Control/Rebirth"]
    assert conn.status.errors == 1 and "after its NDEATH" in (conn.status.last_error or "")
    assert conn.births_missed == 0


async def test_seq_gap_unknown_alias_and_unknown_node_request_rebirth(
    edge: EdgeNode, readers: list[Reader], system_broker: int
) -> None:
    g, e = edge.group, edge.edge
    conn = SparkplugConnector("host", _config(system_broker, g), {f"{g}/{e}//Speed": P + "speed"})
    reader = await _listen(readers, conn)
    # data from a node whose birth the host never saw
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=1.0)], seq=17))
    cmd = await edge.command_after(0)
    assert [(m.name, m.boolean_value) for m in cmd.metrics] == [("Node Control/Rebirth", True)]
    # a host that joins late sees this on every start: normal, so skipped without an error, also for the data
    # that comes after the rebirth request and before the birth it asked for
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=1.0)], seq=18))
    await edge.command_after(1)  # asked again (this test allows a request at any interval)
    assert conn.births_missed == 2 and conn.rebirths == 2
    assert conn.status.errors == 0, conn.status.last_error
    # a node that leaves three requests unanswered is a fault somebody should see
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=1.0)], seq=19))
    await edge.command_after(2)
    assert conn.births_missed == 3 and conn.rebirths == 3
    assert conn.status.errors == 1 and "no NBIRTH after 3 rebirth requests" in (conn.status.last_error or "")
    await edge.birth([M("Speed", pb.Double, 1, double_value=1.0)])
    await reader.until(lambda g_: len(g_) >= 1)
    # seq jumps from 0 to 5 (wrapping is fine: 255 -> 0 is no gap, tested by the count below)
    await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=2.0)], seq=5))
    await edge.command_after(3)
    assert conn.seq_gaps == 1 and conn.rebirths == 4
    got = await reader.until(lambda g_: len(g_) >= 2)
    assert got[-1].value == 2.0  # the values of a gapped message are still good values
    # an alias no BIRTH defined
    await edge.send("NDATA", edge.payload([M(None, alias=99, double_value=3.0)], seq=6))
    await edge.command_after(4)
    assert conn.rebirths == 5 and "unknown alias 99" in (conn.status.last_error or "")
    # wrap-around 255 -> 0 is in order
    for seq in (7, *range(8, 256), 0):
        await edge.send("NDATA", edge.payload([M(None, alias=1, double_value=float(seq))], seq=seq))
    got = await reader.until(lambda g_: g_[-1].value == 0.0 and len(g_) >= 252)
    assert conn.seq_gaps == 1 and conn.rebirths == 5


async def test_writes_go_to_the_metric_as_typed_commands_once_it_is_born(
    edge: EdgeNode, readers: list[Reader], system_broker: int
) -> None:
    g, e = edge.group, edge.edge
    bindings = {
        f"{g}/{e}//Line Speed": P + "speed",
        f"{g}/{e}/press-1/Count Preset": P + "press-1/preset",
        f"{g}/{e}/press-1/Mode": P + "press-1/mode",
    }
    conn = SparkplugConnector("host", _config(system_broker, g), bindings)
    assert isinstance(conn, WritableConnector)  # what the platform asks before it lets a write through
    with pytest.raises(ConnectorError, match="not connected"):
        await conn.write(P + "speed", 1.0)
    reader = await _listen(readers, conn)
    await wait_until(lambda: conn.status.connected)
    # before its birth the host knows neither the node nor the metric's type: nothing is sent
    with pytest.raises(ConnectorError, match=f"{g}/{e} is not online"):
        await conn.write(P + "speed", 1.0)
    with pytest.raises(ConnectorError, match="not a signal of this connector"):
        await conn.write(P + "elsewhere", 1.0)
    await edge.birth([M("Line Speed", pb.Double, 1, double_value=10.0)])
    await reader.until(lambda g_: len(g_) >= 1)
    with pytest.raises(ConnectorError, match=f"{g}/{e}/press-1 is not online"):
        await conn.write(P + "press-1/preset", 500)
    await edge.send(
        "DBIRTH",
        edge.payload(
            [M("Count Preset", pb.Int32, 11, int_value=100), M("Mode", pb.String, 12, string_value="auto")]
        ),
        "press-1",
    )
    await reader.until(lambda g_: len(g_) >= 3)
    commands = len(edge.commands)

    await conn.write(P + "speed", 12.5)
    cmd = await edge.command_after(commands)
    assert edge.command_topics[commands] == f"spBv1.0/{g}/NCMD/{e}"
    # by the alias the BIRTH gave (1), the name left out, as the spec requires once aliases are in use
    assert [(m.name, m.alias, m.double_value) for m in cmd.metrics] == [("", 1, 12.5)]
    await conn.write(P + "press-1/preset", -5.0)  # a whole float, as an xs:double property sends it
    cmd = await edge.command_after(commands + 1)
    assert edge.command_topics[commands + 1] == f"spBv1.0/{g}/DCMD/{e}/press-1"
    (metric,) = cmd.metrics
    assert (metric.alias, metric_value(metric, pb.Int32)) == (11, -5)
    # a value the metric's BIRTH type cannot hold is refused here, not by the machine
    with pytest.raises(ConnectorError, match=r"does not fit .*'Mode': String takes text"):
        await conn.write(P + "press-1/mode", 3)
    with pytest.raises(ConnectorError, match="outside Int32's range"):
        await conn.write(P + "press-1/preset", 2**40)
    with pytest.raises(ConnectorError, match="Double takes a finite number"):
        await conn.write(P + "speed", math.nan)  # never a setpoint, whatever the API let through
    await conn.write(P + "press-1/mode", "manual")
    cmd = await edge.command_after(commands + 2)
    assert [(m.alias, m.string_value) for m in cmd.metrics] == [(12, "manual")]
    await asyncio.sleep(0.2)
    assert len(edge.commands) == commands + 3  # the refused writes sent nothing
    # a new DBIRTH that no longer declares Mode (and Count Preset by name only): Mode is not written on an old
    # BIRTH's word, Count Preset goes by its name now
    await edge.send("DBIRTH", edge.payload([M("Count Preset", pb.Int32, None, int_value=100)]), "press-1")
    await wait_until(lambda: ("press-1", "Mode") not in conn.nodes[(g, e)].datatypes)
    with pytest.raises(ConnectorError, match="declared no metric 'Mode'"):
        await conn.write(P + "press-1/mode", "auto")
    await conn.write(P + "press-1/preset", 7)
    cmd = await edge.command_after(commands + 3)
    assert [(m.name, m.HasField("alias"), m.int_value) for m in cmd.metrics] == [("Count Preset", False, 7)]
    # after the device's death its type no longer holds: refused until it is born again
    await edge.send("DDEATH", edge.payload([]), "press-1")
    await wait_until(lambda: "press-1" not in conn.nodes[(g, e)].devices)
    with pytest.raises(ConnectorError, match="is not online"):
        await conn.write(P + "press-1/mode", "auto")
    assert not any(device == "press-1" for device, _ in conn.nodes[(g, e)].datatypes)


async def test_malformed_payloads_are_counted_logged_and_skipped(
    edge: EdgeNode, readers: list[Reader], system_broker: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werk.connect.sparkplug")
    g, e = edge.group, edge.edge
    conn = SparkplugConnector("host", _config(system_broker, g), {f"{g}/{e}//Speed": P + "speed"})
    reader = await _listen(readers, conn)
    await edge.birth([M("Speed", pb.Float, 1, float_value=1.0)])
    await reader.until(lambda g_: len(g_) >= 1)
    good = edge.payload([M(None, alias=1, float_value=2.0)], seq=1)
    await edge.send("NDATA", good[: len(good) - 3])  # cut inside the metric: truncated protobuf
    await edge.send("NDATA", b"\xff\xff\xff")  # not protobuf at all
    await edge.send("NDATA", pb.Payload(timestamp=_ms(T0)).SerializeToString())  # no seq
    await edge.send("NDATA", edge.payload([M(None, pb.String, 1, string_value="x")]))  # not the born type
    await edge.send("NDATA", edge.payload([M(None, alias=1, string_value="fast")]))  # wrong value field
    await edge.send("NDATA", edge.payload([M(None, alias=1, float_value=4.0)]))
    got = await reader.until(lambda g_: len(g_) >= 2)
    assert [s.value for s in got] == [1.0, 4.0]
    st = conn.status
    assert st.errors == 5 and st.connected and st.reconnects == 0
    assert "metric 'Speed': Float in string_value, expected float_value" in st.last_error
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sparkplug.payload")]
    assert len(logged) == 1  # once per topic a minute; the rest are counted
    assert f"topic=spBv1.0/{g}/NDATA/{e}" in logged[0] and "not a Sparkplug B payload" in logged[0]
    assert conn.seq_gaps == 0 and edge.commands == []


class CuttableLink:
    """A TCP proxy from a free loopback port to the broker; ``cut()`` drops every connection without a word, as a
    pulled cable would, so the broker publishes the client's will."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.links: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttableLink:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        for w in self.links:
            w.transport.abort()
        self.links.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.links += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_lost_link_publishes_the_will_then_state_is_reborn(system_broker: int, edge: EdgeNode) -> None:
    async with CuttableLink(system_broker) as link, aiomqtt.Client("127.0.0.1", system_broker) as watcher:
        conn = SparkplugConnector("host", _config(link.port, edge.group), {})
        await watcher.subscribe(conn.state_topic, qos=1)
        reader = Reader(conn)  # type: ignore[arg-type]  # any connector will do
        states: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(15):
                async for msg in watcher.messages:
                    assert isinstance(msg.payload, bytes)
                    if not msg.payload:
                        continue
                    states.append(json.loads(msg.payload))
                    if len(states) == 1:
                        link.cut()  # the broker loses the host without a DISCONNECT: it sends the will
                    if len(states) == 3:
                        break
        finally:
            await reader.close()
            await watcher.publish(conn.state_topic, b"", qos=1, retain=True)
    birth, will, rebirth = states
    assert (birth["online"], will["online"], rebirth["online"]) == (True, False, True)
    assert will["timestamp"] == birth["timestamp"] < rebirth["timestamp"]
    assert conn.status.reconnects >= 1


async def test_auto_map_picks_up_devices_from_their_births(
    edge: EdgeNode, readers: list[Reader], system_broker: int
) -> None:
    """No binding names these metrics: one rule maps every device the edge node will ever announce."""
    g, e = edge.group, edge.edge
    rules = [
        {"address": f"{g}/{{edge}}//{{metric#}}", "path": P + "{edge}/{metric}"},
        {"address": f"{g}/{{edge}}/{{device}}/{{metric#}}", "path": P + "{device}/{metric}"},
    ]
    bound = {f"{g}/{e}/press-1/Count": P + "press-1/parts"}  # a binding still wins
    conn = SparkplugConnector("host", _config(system_broker, g, auto_map=rules), bound)
    reader = await _listen(readers, conn)
    await edge.birth(
        [
            M("Temperature", pb.Double, 1, double_value=20.5),
            M("Node Control/Rebirth", pb.Boolean, 2, boolean_value=False),
        ]
    )
    dataset = M("Recipe", pb.DataSet, 12)
    dataset.dataset_value.num_of_columns = 0
    await edge.send(
        "DBIRTH",
        edge.payload(
            [
                M("Hydraulics/Force", pb.Float, 10, float_value=120.5),
                M("Count", pb.Int32, 11, int_value=4),
                dataset,
            ]
        ),
        "press-1",
    )
    await edge.send("DBIRTH", edge.payload([M("Speed rpm", pb.Float, 20, float_value=3.0)]), "fan-1")
    got = await reader.until(lambda g_: len(g_) >= 3)
    assert {s.path.removeprefix(P): s.value for s in got} == {
        f"{e}/Temperature": 20.5,  # the edge node's own metric, by the first rule
        "press-1/Hydraulics/Force": 120.5,  # a '/' in the metric name is a level
        "press-1/parts": 4,
    }  # Node Control/* and the DataSet are not signals; 'Speed rpm' is no UNS segment:
    await wait_until(lambda: conn.status.errors == 1)
    assert "'Speed rpm' is not a valid UNS segment" in conn.status.last_error
    # data by alias after the birth reaches the mapped path; a DDEATH marks mapped signals BAD too
    await edge.send("DDATA", edge.payload([M(None, alias=10, float_value=99.0)]), "press-1")
    got = await reader.until(lambda g_: any(s.value == 99.0 for s in g_))
    assert got[-1].path == P + "press-1/Hydraulics/Force"
    await edge.send("DDEATH", edge.payload([]), "press-1")
    got = await reader.until(lambda g_: sum(s.quality is Quality.BAD for s in g_) >= 2)
    assert {(s.path.removeprefix(P), s.value) for s in got if s.quality is Quality.BAD} == {
        ("press-1/Hydraulics/Force", 99.0),
        ("press-1/parts", 4),
    }


def test_auto_map_rules_are_checked_with_the_plant_file() -> None:
    with pytest.raises(
        ValidationError,
        match=r"uses \{device\}, which the address template 'g/\{edge\}/\{x\}/\{metric#\}' does not capture",
    ):
        _config(1883, "g", auto_map=[{"address": "g/{edge}/{x}/{metric#}", "path": P + "{device}/{metric}"}])
    with pytest.raises(ValidationError, match="a Sparkplug metric is one signal"):
        _config(1883, "g", auto_map=[{"address": "g/{edge}/{d}/{m}", "path": P + "{d}/{field}"}])


async def test_a_null_metric_marks_its_signal_bad_with_the_last_value(
    edge: EdgeNode, readers: list[Reader], system_broker: int
) -> None:
    g, e = edge.group, edge.edge
    conn = SparkplugConnector("host", _config(system_broker, g), {f"{g}/{e}//Pressure": P + "pressure"})
    reader = await _listen(readers, conn)
    await edge.birth([M("Pressure", pb.Double, 1, double_value=6.5)])
    await reader.until(lambda g_: len(g_) >= 1)
    t1 = T0 + timedelta(seconds=1)
    await edge.send("NDATA", edge.payload([M(None, alias=1, is_null=True, timestamp=_ms(t1))]))
    got = await reader.until(lambda g_: len(g_) >= 2)
    assert (got[1].value, got[1].ts, got[1].quality) == (6.5, t1, Quality.BAD)  # not a good 6.5 going on
    assert conn.status.errors == 0
