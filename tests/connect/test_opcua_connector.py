"""The OPC UA connector against the simulator's real server: subscribe, batch, lose the server, come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import plant_config
from werk.connect import build_connectors
from werk.connect.opcua import OpcUaConnector, resolve_node_id
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
