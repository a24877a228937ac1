"""The OPC UA connector against the simulator's real server: subscribe, batch, lose the server, come back."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Server, ua

from tests.conftest import free_port, plant_config
from werk.connect import build_connectors
from werk.connect.opcua import OpcUaConnector, OpcUaConnectorConfig, resolve_node_id
from werk.core.model import Quality, Sample
from werk.errors import ConnectorError
from werk.sim.opcua_server import SimOpcUaServer


def test_namespace_uri_is_resolved_to_the_servers_index() -> None:
    nid = resolve_node_id(
        "nsu=urn:x;s=cnc-1/Monitoring/Load", ["http://opcfoundation.org/UA/", "urn:a", "urn:x"]
    )
    assert (nid.NamespaceIndex, nid.Identifier) == (2, "cnc-1/Monitoring/Load")
    with pytest.raises(ConnectorError, match="has no namespace 'urn:y'"):
        resolve_node_id("nsu=urn:y;s=a", ["urn:x"])
    with pytest.raises(ConnectorError, match="malformed"):
        resolve_node_id("ns=two;s=a", [])


async def _collect(stream: object, until: object, timeout: float = 20) -> list[Sample]:
    got: list[Sample] = []
    async with asyncio.timeout(timeout):
        async for batch in stream:  # type: ignore[attr-defined]
            got.extend(batch)
            if until(got):  # type: ignore[operator]
                return got
    return got


async def test_reconnects_after_server_restart_and_marks_bad_in_between(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    conn = next(c for c in build_connectors(config) if isinstance(c, OpcUaConnector))
    n_bound = len(conn.bindings)
    assert n_bound == sum(1 for r in config.assets() for c in r.config.bound_signals().values() if c == "sim")
    sim = SimOpcUaServer(config)
    await sim.start()
    stream = conn.stream()
    try:
        first = await _collect(stream, lambda g: {s.path for s in g} == set(conn.bindings.values()))
        assert all(s.quality is Quality.GOOD for s in first)
        assert conn.status.connected and not conn.status.bad_bindings
        await sim.stop()
        lost = await _collect(stream, lambda g: any(s.quality is Quality.BAD for s in g))
        bad = [s for s in lost if s.quality is Quality.BAD]
        assert {s.path for s in bad} == set(conn.bindings.values())
        assert not conn.status.connected and conn.status.errors >= 1
        sim = SimOpcUaServer(config)  # a new server process, same endpoint
        await sim.start()
        back = await _collect(stream, lambda g: any(s.quality is Quality.GOOD for s in g), timeout=30)
        assert any(s.quality is Quality.GOOD for s in back)
        assert conn.status.connected and conn.status.reconnects >= 1
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await sim.stop()


async def test_unknown_node_is_reported_per_binding_and_the_rest_flows(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    good = next(c for c in build_connectors(config) if isinstance(c, OpcUaConnector))
    bindings = dict(list(good.bindings.items())[:3])
    bindings["nsu=urn:werk:sim;s=cnc-1/Monitoring/NoSuchThing"] = "acme/x/y/z/c/cnc-1/ghost"
    bindings["nsu=urn:nobody;s=x"] = "acme/x/y/z/c/cnc-1/ghost2"
    conn = OpcUaConnector("t", good.config, bindings)
    sim = SimOpcUaServer(config)
    await sim.start()
    stream = conn.stream()
    try:
        got = await _collect(stream, lambda g: len({s.path for s in g}) >= 3)
        assert {s.path for s in got} == set(list(bindings.values())[:3])
        assert set(conn.status.bad_bindings) == {"acme/x/y/z/c/cnc-1/ghost", "acme/x/y/z/c/cnc-1/ghost2"}
        assert "BadNodeIdUnknown" in conn.status.bad_bindings["acme/x/y/z/c/cnc-1/ghost"]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await sim.stop()


# --- values of every kind, against a server of our own -------------------------------------------------------

NS = "urn:werk:test:values"
A = "acme/s/a/l/c/m/"
STARTED = datetime(2026, 3, 4, 5, 6, 7, 250000, UTC)


async def _values_server() -> tuple[Server, str, int]:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/values"
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(NS)
    objects = server.nodes.objects
    initial: dict[str, ua.Variant] = {
        "started": ua.Variant(STARTED, ua.VariantType.DateTime),
        "part_id": ua.Variant("0001", ua.VariantType.String),
        "raw": ua.Variant(b"\x00\x01\xfe", ua.VariantType.ByteString),
        "profile": ua.Variant([1.5, 2.0], ua.VariantType.Double),
        "flow": ua.Variant(1.5, ua.VariantType.Double),
        "total": ua.Variant(2**64 - 1, ua.VariantType.UInt64),
        "speed": ua.Variant(7, ua.VariantType.Int16),
        "pressure": ua.Variant(2.0, ua.VariantType.Double),
    }
    for name, variant in initial.items():
        var = await objects.add_variable(ua.NodeId(name, ns), ua.QualifiedName(name, ns), variant)
        await var.set_writable()
    # a range no value can be in (Low above High): no range, not a refusal of everything
    pressure = server.get_node(ua.NodeId("pressure", ns))
    await pressure.add_property(
        ua.NodeId("pressure/EURange", ns), ua.QualifiedName("EURange", 0), ua.Range(Low=5.0, High=1.0)
    )
    await server.start()
    return server, endpoint, ns


async def test_every_kind_of_value_becomes_a_werk_value_and_bad_data_is_marked_bad() -> None:
    server, endpoint, ns = await _values_server()
    cfg = OpcUaConnectorConfig(type="opcua", endpoint=endpoint, publishing_interval_ms=50)
    names = ("started", "part_id", "raw", "profile", "flow", "total", "speed", "pressure")
    conn = OpcUaConnector("values", cfg, {f"nsu={NS};s={n}": A + n for n in names})
    stream = conn.stream()
    try:
        first = await _collect(
            stream, lambda g: {s.path for s in g} >= {A + n for n in names if n != "total"}
        )
        got = {s.path.removeprefix(A): s.value for s in first}
        assert got == {
            "started": "2026-03-04T05:06:07.250000Z",  # a DateTime is an instant in werk's one text form
            "part_id": "0001",
            "raw": "AAH+",  # base64
            "profile": "[1.5,2.0]",
            "flow": 1.5,
            "speed": 7,
            "pressure": 2.0,
        }
        assert conn.status.errors == 1 and "beyond a 64-bit integer" in conn.status.last_error  # total
        # a value that is no value: NaN, and a Bad status that carries none, keep the last value, BAD
        flow = server.get_node(ua.NodeId("flow", ns))
        await flow.write_value(ua.DataValue(ua.Variant(math.nan, ua.VariantType.Double)))
        part = server.get_node(ua.NodeId("part_id", ns))
        await part.write_value(ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadCommunicationError)))
        more = await _collect(stream, lambda g: len({s.path for s in g if s.quality is Quality.BAD}) >= 2)
        bad = {s.path.removeprefix(A): s.value for s in more if s.quality is Quality.BAD}
        assert bad == {"flow": 1.5, "part_id": "0001"}
        assert conn.status.errors == 2 and "nan is not a number werk stores" in conn.status.last_error

        # writes: a value the node's type cannot hold is refused by the connector, by name
        with pytest.raises(ConnectorError, match="outside Int16's range"):
            await conn.write(A + "speed", 70_000)
        with pytest.raises(ConnectorError, match="not a whole number"):
            await conn.write(A + "speed", 7.5)
        assert await conn.write_limits(A + "speed") is None  # no EURange
        assert await conn.write_limits(A + "pressure") is None  # one that is no range
        await conn.write(A + "speed", 12.0)
        assert await server.get_node(ua.NodeId("speed", ns)).read_value() == 12
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await server.stop()


async def test_the_simulators_writable_nodes_give_their_eurange(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    conn = next(c for c in build_connectors(config) if isinstance(c, OpcUaConnector))
    path = config.asset("cnc-1").signal_path("feed_override")
    with pytest.raises(ConnectorError, match="not connected"):
        await conn.write_limits(path)
    sim = SimOpcUaServer(config)
    await sim.start()
    stream = conn.stream()
    try:
        await _collect(stream, lambda g: any(s.path == path for s in g))
        found = await conn.write_limits(path)
        assert found is not None
        limits, source = found
        assert (limits.min, limits.max, source) == (
            10.0,
            150.0,
            "EURange of ns=2;s=cnc-1/Setpoints/FeedOverride",
        )
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await sim.stop()


async def test_a_subscription_that_goes_silent_is_noticed_by_its_missing_keep_alives() -> None:
    """The server still answers reads, but its subscription publishes nothing, not even keep-alives (a server
    that lost it, a stuck publishing loop): werk rebuilds the session instead of showing stale values as good."""
    server, endpoint, _ns = await _values_server()
    cfg = OpcUaConnectorConfig(type="opcua", endpoint=endpoint, publishing_interval_ms=50, keepalive_s=0.3)
    conn = OpcUaConnector("values", cfg, {f"nsu={NS};s=flow": A + "flow"})
    stream = conn.stream()
    try:
        await _collect(stream, lambda g: any(s.path == A + "flow" for s in g))
        assert conn.keepalive_s == pytest.approx(0.3)
        for sub in list(server.iserver.subscription_service.subscriptions.values()):
            await sub.stop()  # the publishing loop ends; the session stays
        lost = await _collect(stream, lambda g: any(s.quality is Quality.BAD for s in g), timeout=10)
        assert [(s.path, s.value) for s in lost if s.quality is Quality.BAD] == [(A + "flow", 1.5)]
        assert "not even a keep-alive" in conn.status.last_error
        back = await _collect(stream, lambda g: any(s.quality is Quality.GOOD for s in g), timeout=10)
        assert back and conn.status.connected  # a new session, a new subscription
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await server.stop()
