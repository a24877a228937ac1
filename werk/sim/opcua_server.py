"""The virtual factory's OPC UA server (asyncua), laid out like OPC UA for Machinery (OPC 40001-1).

Objects/Machines/<asset>/
    Identification/{Manufacturer, Model, SerialNumber}       (DI/Machinery MachineIdentificationType names)
    MachineryItemState/CurrentState                            (NotAvailable | OutOfService | Executing | NotExecuting)
    MachineryOperationMode/CurrentState                        (None | Maintenance | Setup | Processing)
    Monitoring/{State, CycleCount, GoodParts, ScrapParts, Load, Temperature, Vibration, SpindleSpeed, ...}
    EnergyMeter/{ActivePower, ActiveEnergy}

"Monitoring" is named as in OPC 40501 (Machine Tools); "EnergyMeter" is werk's own. Machinery hangs the two state
machines under MachineryBuildingBlocks and references them from the machine (HasAddIn); we place them directly.

NodeIds are strings in our namespace, equal to the browse path below Machines (``cnc-1/Monitoring/Load``), so a
plant file can name them without browsing. The companion-spec types themselves are not instantiated: importing the
DI and Machinery NodeSets costs seconds at every start for type definitions no werk client reads. CurrentState is a
String rather than LocalizedText for the same reason. Values are read-only: the simulator serves, nobody writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from werk.config.model import WerkConfig
from werk.core.lifecycle import cancel_within, stop_within
from werk.errors import WerkError
from werk.sim.factory import Factory
from werk.sim.spec import sim_of

log = logging.getLogger(__name__)

# werk signal name -> (folder, browse name, OPC UA type)
NODE_LAYOUT: dict[str, tuple[str, str, ua.VariantType]] = {
    "item_state": ("MachineryItemState", "CurrentState", ua.VariantType.String),
    "operation_mode": ("MachineryOperationMode", "CurrentState", ua.VariantType.String),
    "state": ("Monitoring", "State", ua.VariantType.String),
    "product": ("Monitoring", "ProductId", ua.VariantType.String),
    "cycle_count": ("Monitoring", "CycleCount", ua.VariantType.UInt32),
    "good_count": ("Monitoring", "GoodParts", ua.VariantType.UInt32),
    "scrap_count": ("Monitoring", "ScrapParts", ua.VariantType.UInt32),
    "load": ("Monitoring", "Load", ua.VariantType.Double),
    "temperature": ("Monitoring", "Temperature", ua.VariantType.Double),
    "vibration": ("Monitoring", "Vibration", ua.VariantType.Double),
    "spindle_speed": ("Monitoring", "SpindleSpeed", ua.VariantType.Double),
    "force": ("Monitoring", "Force", ua.VariantType.Double),
    "pressure": ("Monitoring", "Pressure", ua.VariantType.Double),
    "power": ("EnergyMeter", "ActivePower", ua.VariantType.Double),
    "energy": ("EnergyMeter", "ActiveEnergy", ua.VariantType.Double),
    "feed_override": ("Setpoints", "FeedOverride", ua.VariantType.Double),
}
#: signals a client may write; the simulator reads them back before every tick (percent, clamped to the range,
#: which each node states as its EURange property)
WRITABLE: dict[str, tuple[float, float]] = {"feed_override": (10.0, 150.0)}


def node_name(asset: str, signal: str) -> str:
    """The string NodeId identifier of an asset's signal (without namespace)."""
    folder, browse, _ = NODE_LAYOUT[signal]
    return f"{asset}/{folder}/{browse}"


class SimOpcUaServer:
    """Runs a Factory and serves it. ``start()`` returns once the endpoint accepts connections."""

    def __init__(self, config: WerkConfig, *, log_limit: int = 0, start: datetime | None = None) -> None:
        sim = sim_of(config)
        if sim is None:
            raise WerkError("this plant file has no 'sim' section: nothing to simulate")
        self.config = config
        self.sim = sim
        self.factory = Factory(config, start or datetime.now(UTC), log_limit=log_limit)
        self.server = Server()
        self.ns = 0
        self._nodes: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType]] = {}
        self._writable: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._fixed_start = start is not None
        self.modbus: Any = None
        self.shdr: Any = None
        self.sparkplug: Any = None
        self.ticks_served = 0

    @property
    def endpoint(self) -> str:
        return self.sim.endpoint

    def describe(self) -> str:
        """One line for the console: what runs where."""
        parts = [f"{len(self.factory.assets)} assets on {self.sim.endpoint}"]
        if self.sim.modbus_port is not None:
            parts.append(f"energy meters on modbus://127.0.0.1:{self.sim.modbus_port}")
        if self.sim.shdr_port is not None:
            parts.append(f"{self.sim.shdr_asset} as an MTConnect adapter on 127.0.0.1:{self.sim.shdr_port}")
        return ", ".join(parts) + f" (seed {self.sim.seed}, x{self.sim.acceleration:g})"

    async def _secure(self, pki: Path) -> None:
        """The secure endpoints and the server's own certificate (made on first start in ``pki/own``). Every client
        certificate is accepted: the simulator stands in for a machine, whose trust list is not what is tested."""
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        own = pki / "own"
        own.mkdir(parents=True, exist_ok=True)
        cert, key = own / "cert.der", own / "key.pem"
        uri = "urn:werk:sim:server"
        await setup_self_signed_certificate(
            key, cert, uri, socket.gethostname(), [ExtendedKeyUsageOID.SERVER_AUTH],
            {"organizationName": "werk", "commonName": "werk virtual factory"},
        )  # fmt: skip
        await self.server.set_application_uri(uri)
        await self.server.load_certificate(str(cert))
        await self.server.load_private_key(str(key))
        t = ua.SecurityPolicyType
        self.server.set_security_policy(
            [
                t.NoSecurity,
                t.Basic256Sha256_Sign, t.Basic256Sha256_SignAndEncrypt,
                t.Aes128Sha256RsaOaep_Sign, t.Aes128Sha256RsaOaep_SignAndEncrypt,
                t.Aes256Sha256RsaPss_Sign, t.Aes256Sha256RsaPss_SignAndEncrypt,
            ]
        )  # fmt: skip

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.sim.endpoint)
        self.server.set_server_name("werk virtual factory")
        if self.sim.pki_dir is None:
            self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            await self._secure(Path(self.sim.pki_dir))
        self.ns = await self.server.register_namespace(self.sim.namespace)
        await self._build_address_space()
        await self._write_all(self.factory.current(), self.factory.now)
        await self.server.start()
        if self.sim.modbus_port is not None:
            from werk.sim.modbus_server import SimModbusServer

            self.modbus = SimModbusServer(self.factory, self.sim.modbus_port)
            await self.modbus.start()
        if self.sim.shdr_port is not None and self.sim.shdr_asset is not None:
            from werk.sim.shdr_server import SimShdrAdapter

            self.shdr = SimShdrAdapter(self.factory, self.sim.shdr_asset, self.sim.shdr_port)
            await self.shdr.start()
        if self.sim.sparkplug is not None:
            from werk.sim.sparkplug_edge import SimSparkplugEdge

            self.sparkplug = SimSparkplugEdge(self.factory, self.sim.sparkplug)
            await self.sparkplug.start()
        if self.sim.follow_plan is not None:
            from werk.sim.plan_follower import follow

            self._follower = asyncio.create_task(
                follow(
                    self.factory,
                    self.sim.follow_plan,
                    token=os.environ.get(self.sim.follow_plan_token_env or "") or None,
                ),
                name="werk-sim-plan",
            )
        self._task = asyncio.create_task(self._run(), name="werk-sim")
        log.info("sim.started endpoint=%s assets=%d", self.sim.endpoint, len(self.factory.assets))

    async def pause(self) -> None:
        """Stop ticking but keep serving the last values (tests compare what was served with what was stored)."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        if self._follower is not None:
            await cancel_within([self._follower])
            self._follower = None
        if self._task:
            await cancel_within([self._task])
            self._task = None
        if self.modbus is not None:
            await stop_within("sim.modbus", self.modbus.stop())
            self.modbus = None
        if self.shdr is not None:
            await stop_within("sim.shdr", self.shdr.stop())
            self.shdr = None
        if self.sparkplug is not None:
            await stop_within("sim.sparkplug", self.sparkplug.stop())
            self.sparkplug = None
        await stop_within("sim.opcua", self.server.stop())

    async def _build_address_space(self) -> None:
        ns = self.ns
        objects = self.server.nodes.objects
        machines = await objects.add_folder(ua.NodeId("Machines", ns), ua.QualifiedName("Machines", ns))
        for a in self.factory.assets.values():
            obj = await machines.add_object(ua.NodeId(a.name, ns), ua.QualifiedName(a.name, ns))
            ident = await obj.add_object(
                ua.NodeId(f"{a.name}/Identification", ns), ua.QualifiedName("Identification", ns)
            )
            for browse, val in (
                ("Manufacturer", a.manufacturer),
                ("Model", a.model_name),
                ("SerialNumber", a.serial_number),
            ):
                await ident.add_variable(
                    ua.NodeId(f"{a.name}/Identification/{browse}", ns), ua.QualifiedName(browse, ns), val
                )
            folders: dict[str, object] = {}
            for sig in a.signals:
                folder, browse, vtype = NODE_LAYOUT[sig]
                if folder not in folders:
                    folders[folder] = await obj.add_object(
                        ua.NodeId(f"{a.name}/{folder}", ns), ua.QualifiedName(folder, ns)
                    )
                parent = folders[folder]
                nid = ua.NodeId(node_name(a.name, sig), ns)
                initial = ua.Variant("" if vtype == ua.VariantType.String else 0, vtype)
                var = await parent.add_variable(nid, ua.QualifiedName(browse, ns), initial)  # type: ignore[attr-defined]
                self._nodes[(a.name, sig)] = (nid, vtype)
                if sig in WRITABLE:
                    await var.set_writable()
                    self._writable.append((a.name, sig))
                    # what the machine takes, as an AnalogItem says it (OPC 10000-8, 5.3.2.3)
                    low, high = WRITABLE[sig]
                    await var.add_property(
                        ua.NodeId(f"{nid.Identifier}/EURange", ns),
                        ua.QualifiedName("EURange", 0),
                        ua.Range(Low=low, High=high),
                    )

    def _read_setpoints(self) -> None:
        """What clients wrote to the writable nodes becomes the machines' setpoints for the next tick."""
        for asset, sig in self._writable:
            nid, _ = self._nodes[(asset, sig)]
            value = self.server.read_attribute_value(nid).Value.Value
            if isinstance(value, int | float):
                low, high = WRITABLE[sig]
                setattr(self.factory.assets[asset].model, sig, min(high, max(low, float(value))))

    async def _write_all(self, changes: list[tuple[str, str, float | int | str]], ts: datetime) -> None:
        for asset, sig, val in changes:
            nid, vtype = self._nodes[(asset, sig)]
            dv = ua.DataValue(ua.Variant(val, vtype), SourceTimestamp=ts, ServerTimestamp=ts)
            await self.server.write_attribute_value(nid, dv)

    async def _run(self) -> None:
        """Tick on schedule; when behind (a slow machine, a debugger), catch up without sleeping rather than drift."""
        period = self.sim.tick_s / self.sim.acceleration
        t0 = time.monotonic()
        if not self._fixed_start and self.factory.ticks == 0:
            self.factory.start = datetime.now(UTC)  # align stamps with the wall clock once serving begins
        while True:
            due = t0 + (self.factory.ticks + 1) * period
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._read_setpoints()
            changes = self.factory.step()
            await self._write_all(changes, self.factory.now)
            if self.shdr is not None:
                self.shdr.tick(self.factory.now)
            self.ticks_served += 1
