"""The virtual factory's settings: ``sim:`` at the top of the plant file and on each simulated asset."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from werk.config.model import Name, StrictModel

SimModel = Literal["cnc", "lathe", "robot", "press", "assembly", "compressor"]


class SimAssetConfig(StrictModel):
    """How the simulator plays this asset. Times are in seconds of simulated time."""

    model: SimModel
    """The kind of machine it plays, which sets its signals and behaviour."""
    cycle_s: float = Field(default=30.0, gt=0)
    """Its cycle time in seconds."""
    scrap_rate: float = Field(default=0.02, ge=0, le=1)
    """The share of parts it scraps, 0..1."""
    wear_per_cycle: float = Field(default=0.002, ge=0, le=1)
    """Wear each cycle adds, 0..1; vibration rises with wear until the machine breaks at 1."""
    repair_s: float = Field(default=900.0, gt=0)
    """How long a repair takes, in seconds."""
    rated_power_kw: float = Field(default=15.0, gt=0)
    """Its power draw while running, in kW; other states draw a share of it."""
    products: dict[str, float] = Field(default_factory=dict)
    """Product code -> cycle time (s) on this machine; a changeover switches to the next product in turn."""


class SimSparkplugConfig(StrictModel):
    """The simulator's environment sensors as a Sparkplug B edge node on an MQTT broker (not run by werk)."""

    host: str = "127.0.0.1"
    """The broker's host."""
    port: int = Field(default=1883, ge=1, le=65535)
    """The broker's port."""
    group: str = Field(default="acme", pattern=r"^[^/+#]+$")
    """The Sparkplug group id it publishes under."""
    edge_node: str = Field(default="env-gateway", pattern=r"^[^/+#]+$")
    """Its edge node id."""
    halls: list[Name] = Field(default_factory=lambda: ["hall-1"], min_length=1)
    """The halls whose temperature and humidity it reports, each as metrics ``<hall>/temperature`` and
    ``<hall>/humidity``."""


class SimConfig(StrictModel):
    """The simulator's own settings: a seed makes a run repeatable; acceleration runs simulated time faster."""

    seed: int = 42
    """The random seed: the same seed plays the same run."""
    acceleration: float = Field(default=1.0, gt=0, le=10_000)
    """Simulated seconds per real second."""
    tick_s: float = Field(default=0.5, gt=0, le=60)
    """Simulated seconds per step."""
    endpoint: str = Field(default="opc.tcp://127.0.0.1:4840/werk/sim", pattern=r"^opc\.tcp://")
    """The OPC UA server's endpoint."""
    namespace: str = "urn:werk:sim"
    """The namespace URI of its nodes (``nsu=urn:werk:sim;s=<asset>/...``)."""
    pki_dir: str | None = None
    """Offer secure endpoints too (Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss; Sign and
    SignAndEncrypt) besides None, with a server certificate made in ``<pki_dir>/own`` on first start."""
    sparkplug: SimSparkplugConfig | None = None
    """Also run environment sensors as a Sparkplug B edge node (needs a broker)."""
    shdr_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve ``shdr_asset`` as an MTConnect adapter (SHDR over TCP) on 127.0.0.1 at this port."""
    shdr_asset: str | None = None
    """The simulated asset served as an MTConnect adapter on ``shdr_port``."""
    modbus_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve each machine's energy meter over Modbus TCP on 127.0.0.1 at this port (unit = the asset's position,
    from 1): holding registers 0-1 active power (float32, kW), 2-5 active energy (float64, kWh), big-endian."""
