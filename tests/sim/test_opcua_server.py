"""The simulator's OPC UA server, read by a plain asyncua client over loopback."""

from __future__ import annotations

import re
from pathlib import Path

from asyncua import Client

from tests.conftest import plant_config, shared_data
from werk.sim.opcua_server import NODE_LAYOUT, SimOpcUaServer


def test_machinery_names_come_from_the_companion_spec() -> None:
    """Folder and variable names we borrow from OPC 40001-1 / DI exist in the official NodeSets."""
    names: set[str] = set()
    for xml in (
        "Machinery/Opc.Ua.Machinery.NodeSet2.xml",
        "Machinery/Opc.Ua.Machinery.Examples.NodeSet2.xml",
        "DI/Opc.Ua.Di.NodeSet2.xml",
    ):
        text = shared_data("opcua", *xml.split("/")).read_text(encoding="utf-8")
        names |= set(re.findall(r'BrowseName="(?:\d+:)?([A-Za-z]+)"', text))
    borrowed = {
        "Machines",
        "Identification",
        "MachineryItemState",
        "MachineryOperationMode",
        "CurrentState",
        "Manufacturer",
        "Model",
        "SerialNumber",
        "Executing",
        "NotExecuting",
        "OutOfService",
        "Processing",
        "Setup",
        "Maintenance",
    }
    assert borrowed <= names, borrowed - names
    # werk's own folders: Monitoring (named as in OPC 40501 Machine Tools, not in these NodeSets), EnergyMeter, and
    # Setpoints (what a client may write: the feed override)
    assert {folder for folder, _, _ in NODE_LAYOUT.values()} - names == {
        "Monitoring",
        "EnergyMeter",
        "Setpoints",
    }


async def test_server_serves_identification_and_live_values(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    sim = SimOpcUaServer(config)
    await sim.start()
    try:
        async with Client(config.section("sim").endpoint) as client:  # type: ignore[union-attr]
            ns = await client.get_namespace_index("urn:werk:sim")
            maker = await client.get_node(f"ns={ns};s=cnc-1/Identification/Manufacturer").read_value()
            state = await client.get_node(f"ns={ns};s=cnc-1/MachineryItemState/CurrentState").read_value()
            machines = client.nodes.objects
            children = await (await machines.get_child([f"{ns}:Machines"])).get_children()
            names = sorted([(await c.read_browse_name()).Name for c in children])
            counter = client.get_node(f"ns={ns};s=press-1/Monitoring/CycleCount")
            first = await counter.read_value()
            await _wait_for_change(counter, first)
        assert maker == config.asset("cnc-1").config.manufacturer == "Example Machine Tools GmbH"
        assert state in {"Executing", "NotExecuting", "OutOfService", "NotAvailable"}
        assert names == sorted(sim.factory.assets)
    finally:
        await sim.stop()


async def _wait_for_change(node: object, first: int) -> None:
    import asyncio

    async with asyncio.timeout(20):
        while await node.read_value() == first:  # type: ignore[attr-defined]
            await asyncio.sleep(0.1)
