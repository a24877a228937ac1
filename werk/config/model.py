"""The plant file as pydantic models: the ISA-95 tree, connectors with their signal bindings, storage, server, apps.

Every model forbids unknown keys, so a typo ("retension_days") is an error with its line, not a silent default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from werk.core.uns import validate_segment
from werk.errors import UnsPathError

Name = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_names(value: dict[str, object], level: str) -> None:
    for name in value:
        try:
            validate_segment(str(name), level)
        except UnsPathError as exc:
            raise ValueError(str(exc)) from None


# --- connectors -------------------------------------------------------------------------------------------------


class OpcUaConnectorConfig(_Strict):
    """An OPC UA server to subscribe to. One client session per connector, shared by every asset bound to it."""

    type: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    publishing_interval_ms: int = Field(default=200, ge=10, le=60_000)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    timeout_s: float = Field(default=4.0, gt=0)


ConnectorConfig = Annotated[OpcUaConnectorConfig, Field(discriminator="type")]


class SourceBinding(_Strict):
    """Where an asset's signals come from: a connector, and per signal an address in that connector's terms.

    For OPC UA the address is a NodeId (``ns=2;s=...``, ``nsu=URI;s=...``, ``i=...``); an address that is not a
    full NodeId is appended to ``root``, which keeps long node names out of every line.
    """

    connector: Name
    root: str = ""
    signals: dict[str, str] = Field(min_length=1)

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, v: dict[str, str]) -> dict[str, str]:
        _check_names(dict(v), "signal")
        return v


# --- the virtual factory --------------------------------------------------------------------------------------

SimModel = Literal["cnc", "lathe", "robot", "press", "assembly", "compressor"]


class SimAssetConfig(_Strict):
    """How the simulator plays this asset. Times are in seconds of simulated time."""

    model: SimModel
    cycle_s: float = Field(default=30.0, gt=0)
    scrap_rate: float = Field(default=0.02, ge=0, le=1)
    wear_per_cycle: float = Field(default=0.002, ge=0, le=1)
    repair_s: float = Field(default=900.0, gt=0)
    rated_power_kw: float = Field(default=15.0, gt=0)


class SimConfig(_Strict):
    """The simulator's own settings: a seed makes a run repeatable; acceleration runs simulated time faster."""

    seed: int = 42
    acceleration: float = Field(default=1.0, gt=0, le=10_000)
    tick_s: float = Field(default=0.5, gt=0, le=60)
    endpoint: str = Field(default="opc.tcp://127.0.0.1:4840/werk/sim", pattern=r"^opc\.tcp://")
    namespace: str = "urn:werk:sim"


# --- the ISA-95 tree --------------------------------------------------------------------------------------------


class AssetConfig(_Strict):
    kind: str = Field(min_length=1)
    description: str = ""
    manufacturer: str = ""
    model_name: str = ""
    serial_number: str = ""
    aas_id: str | None = None
    ideal_cycle_s: float | None = Field(default=None, gt=0)
    source: SourceBinding | None = None
    sim: SimAssetConfig | None = None


class CellConfig(_Strict):
    assets: dict[str, AssetConfig] = Field(min_length=1)

    @field_validator("assets")
    @classmethod
    def _names(cls, v: dict[str, AssetConfig]) -> dict[str, AssetConfig]:
        _check_names(dict(v), "asset")
        return v


class LineConfig(_Strict):
    cells: dict[str, CellConfig] = Field(min_length=1)

    @field_validator("cells")
    @classmethod
    def _names(cls, v: dict[str, CellConfig]) -> dict[str, CellConfig]:
        _check_names(dict(v), "cell")
        return v


class AreaConfig(_Strict):
    lines: dict[str, LineConfig] = Field(min_length=1)

    @field_validator("lines")
    @classmethod
    def _names(cls, v: dict[str, LineConfig]) -> dict[str, LineConfig]:
        _check_names(dict(v), "line")
        return v


class SiteConfig(_Strict):
    areas: dict[str, AreaConfig] = Field(min_length=1)

    @field_validator("areas")
    @classmethod
    def _names(cls, v: dict[str, AreaConfig]) -> dict[str, AreaConfig]:
        _check_names(dict(v), "area")
        return v


class PlantConfig(_Strict):
    enterprise: Name
    timezone: str = "UTC"
    sites: dict[str, SiteConfig] = Field(min_length=1)

    @field_validator("enterprise")
    @classmethod
    def _enterprise(cls, v: str) -> str:
        _check_names({v: None}, "enterprise")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r} (e.g. 'Europe/Berlin', 'UTC')") from None
        return v

    @field_validator("sites")
    @classmethod
    def _names(cls, v: dict[str, SiteConfig]) -> dict[str, SiteConfig]:
        _check_names(dict(v), "site")
        return v


# --- platform services ------------------------------------------------------------------------------------------


class HistorianConfig(_Strict):
    """Where samples and events are kept. Retention is on by default: a historian that grows forever fills disks."""

    backend: Literal["sqlite"] = "sqlite"
    path: str = "werk-data/werk.db"
    retention_days: float = Field(default=30.0, gt=0)
    batch_max: int = Field(default=5000, ge=1, le=1_000_000)
    flush_interval_ms: int = Field(default=200, ge=1, le=60_000)


class BusConfig(_Strict):
    backend: Literal["memory"] = "memory"
    queue_batches: int = Field(default=256, ge=1, le=1_000_000)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class MachineStateAppConfig(_Strict):
    """Settings of the machine-state app; how often it recomputes live KPIs (seconds)."""

    enabled: bool = True
    kpi_interval_s: float = Field(default=2.0, gt=0)


class AppsConfig(_Strict):
    machine_state: MachineStateAppConfig = MachineStateAppConfig()


class WerkConfig(_Strict):
    plant: PlantConfig
    connectors: dict[str, ConnectorConfig] = Field(default_factory=dict)
    historian: HistorianConfig = HistorianConfig()
    bus: BusConfig = BusConfig()
    server: ServerConfig = ServerConfig()
    sim: SimConfig | None = None
    apps: AppsConfig = AppsConfig()

    def assets(self) -> Iterator[AssetRef]:
        p = self.plant
        for site_name, site in p.sites.items():
            for area_name, area in site.areas.items():
                for line_name, line in area.lines.items():
                    for cell_name, cell in line.cells.items():
                        for name, asset in cell.assets.items():
                            path = "/".join((p.enterprise, site_name, area_name, line_name, cell_name, name))
                            loc: tuple[str, ...] = ("plant", "sites", site_name, "areas", area_name)
                            loc += ("lines", line_name, "cells", cell_name, "assets", name)
                            yield AssetRef(
                                name=name,
                                path=path,
                                aas_id=asset.aas_id or f"urn:werk:{p.enterprise}:asset:{name}",
                                config=asset,
                                loc=loc,
                            )

    def asset(self, name: str) -> AssetRef:
        for ref in self.assets():
            if ref.name == name:
                return ref
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class AssetRef:
    """An asset as the rest of werk sees it: its short name (unique in the plant), its UNS path and its AAS id."""

    name: str
    path: str
    aas_id: str
    config: AssetConfig
    loc: tuple[str, ...]

    def signal_path(self, signal: str) -> str:
        return f"{self.path}/{signal}"
