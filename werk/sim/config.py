"""The virtual factory's settings: ``sim:`` at the top of the plant file and on each simulated asset."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from werk.config.model import Name, StrictModel

SimModel = Literal["cnc", "lathe", "robot", "press", "assembly", "compressor"]


class SimAssetConfig(StrictModel):
    """How the simulator plays this asset. Times are in seconds of simulated time."""

    model: SimModel
    cycle_s: float = Field(default=30.0, gt=0)
    scrap_rate: float = Field(default=0.02, ge=0, le=1)
    wear_per_cycle: float = Field(default=0.002, ge=0, le=1)
    repair_s: float = Field(default=900.0, gt=0)
    rated_power_kw: float = Field(default=15.0, gt=0)
    products: dict[str, float] = Field(default_factory=dict)
    """Product code -> cycle time (s) on this machine; a changeover switches to the next product in turn."""


class SimSparkplugConfig(StrictModel):
    """The simulator's environment sensors as a Sparkplug B edge node on an MQTT broker (not run by werk)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    group: str = Field(default="acme", pattern=r"^[^/+#]+$")
    edge_node: str = Field(default="env-gateway", pattern=r"^[^/+#]+$")
    halls: list[Name] = Field(default_factory=lambda: ["hall-1"], min_length=1)


class SimConfig(StrictModel):
    """The simulator's own settings: a seed makes a run repeatable; acceleration runs simulated time faster."""

    seed: int = 42
    acceleration: float = Field(default=1.0, gt=0, le=10_000)
    tick_s: float = Field(default=0.5, gt=0, le=60)
    endpoint: str = Field(default="opc.tcp://127.0.0.1:4840/werk/sim", pattern=r"^opc\.tcp://")
    namespace: str = "urn:werk:sim"
    sparkplug: SimSparkplugConfig | None = None
    shdr_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve ``shdr_asset`` as an MTConnect adapter (SHDR over TCP) on 127.0.0.1 at this port."""
    shdr_asset: str | None = None
    modbus_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve each machine's energy meter over Modbus TCP on 127.0.0.1 at this port (unit = the asset's position,
    from 1): holding registers 0-1 active power (float32, kW), 2-5 active energy (float64, kWh), big-endian."""
