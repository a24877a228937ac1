"""The OPC UA connector with thousands of monitored items, and with bindings named by browse path."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua import Server, ua

from tests.conftest import free_port, plant_config
from werk.connect import build_connectors
from werk.connect.opcua import OpcUaConnector, OpcUaConnectorConfig
from werk.sim.opcua_server import SimOpcUaServer

N_ITEMS = 5000
PER_CALL_LIMIT = 400  # the server's MaxMonitoredItemsPerCall, below the connector's own batch size


async def _collect_paths(conn: OpcUaConnector, want: set[str], timeout: float) -> set[str]:
    seen: set[str] = set()
    stream = conn.stream()
    try:
        async with asyncio.timeout(timeout):
            async for batch in stream:
                seen.update(s.path for s in batch)
                if want <= seen:
                    break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator in fact
    return seen


async def test_five_thousand_items_subscribe_in_batches_and_all_report() -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/scale"
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:werk:test:scale")
    folder = await server.nodes.objects.add_folder(ua.NodeId("Tags", ns), ua.QualifiedName("Tags", ns))
    for i in range(N_ITEMS):
        await folder.add_variable(ua.NodeId(f"t{i}", ns), ua.QualifiedName(f"t{i}", ns), float(i))
    limit = server.get_node(
        ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall)
    )
    await limit.write_value(ua.Variant(PER_CALL_LIMIT, ua.VariantType.UInt32))
    await server.start()
    try:
        cfg = OpcUaConnectorConfig(
            type="opcua",
            endpoint=endpoint,
            publishing_interval_ms=100,
            monitored_items_per_call=1000,
            sampling_interval_ms=100,
            queue_size=2,
        )
        bindings = {f"nsu=urn:werk:test:scale;s=t{i}": f"acme/s/a/l/c/m/t{i}" for i in range(N_ITEMS)}
        conn = OpcUaConnector("scale", cfg, bindings)
        seen = await _collect_paths(conn, set(bindings.values()), timeout=15)
        assert seen == set(bindings.values())
        assert conn.monitored == N_ITEMS and not conn.status.bad_bindings
        assert conn.monitor_calls == -(-N_ITEMS // PER_CALL_LIMIT)  # the server's limit was honoured
    finally:
        await server.stop()


async def test_browse_paths_resolve_and_a_bad_one_is_reported_for_its_binding(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    base = next(c for c in build_connectors(config) if isinstance(c, OpcUaConnector))
    sim = SimOpcUaServer(config)
    await sim.start()
    try:
        ns = sim.ns
        bindings = {
            f"browse:Objects/{ns}:Machines/{ns}:cnc-1/{ns}:Monitoring/{ns}:Load": "acme/x/y/z/c/cnc-1/load",
            f"browse:/Objects/{ns}:Machines/{ns}:cnc-1/{ns}:EnergyMeter/{ns}:ActivePower": "acme/x/y/z/c/cnc-1/p",
            f"browse:/Objects/{ns}:Machines/{ns}:cnc-1/{ns}:Monitoring/{ns}:NoSuchThing": "acme/x/y/z/c/cnc-1/ghost",
            "browse:/Objects/<<bad": "acme/x/y/z/c/cnc-1/malformed",
        }
        conn = OpcUaConnector("browse", base.config, bindings)
        good = {"acme/x/y/z/c/cnc-1/load", "acme/x/y/z/c/cnc-1/p"}
        seen = await _collect_paths(conn, good, timeout=15)
        assert seen == good
        assert set(conn.status.bad_bindings) == {"acme/x/y/z/c/cnc-1/ghost", "acme/x/y/z/c/cnc-1/malformed"}
        assert "BadNoMatch" in conn.status.bad_bindings["acme/x/y/z/c/cnc-1/ghost"]
        assert "NoSuchThing" in conn.status.bad_bindings["acme/x/y/z/c/cnc-1/ghost"]
    finally:
        await sim.stop()


def test_browse_root_from_the_plant_file_prefixes_the_signal() -> None:
    """A binding's ``root`` holds the common part of the browse path; the signal adds the rest."""
    from werk.connect.opcua import SPEC

    assert (
        SPEC.address("browse:/Objects/2:Machines/2:cnc-1", "/2:Monitoring/2:Load")
        == "browse:/Objects/2:Machines/2:cnc-1/2:Monitoring/2:Load"
    )
