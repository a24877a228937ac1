"""The plant file as pydantic models: the ISA-95 tree, connectors with their signal bindings, storage, server, apps.

Every model forbids unknown keys, so a typo ("retension_days") is an error with its line, not a silent default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from werk.core.topic_map import TemplateError, TopicRule
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
    sampling_interval_ms: float = Field(default=0.0, ge=-1, le=3_600_000)
    """Requested per monitored item (OPC UA Part 4, 5.13.1.2, 7.21): 0 = the fastest practical, -1 = the publishing
    interval."""
    queue_size: int = Field(default=10, ge=1, le=100_000)
    """Changes a server keeps per monitored item between publish responses (Part 4, 7.21); the oldest go first."""
    monitored_items_per_call: int = Field(default=1000, ge=1, le=100_000)
    """Items per CreateMonitoredItems request; lowered to the server's MaxMonitoredItemsPerCall when it says so."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    timeout_s: float = Field(default=4.0, gt=0)
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: str | None = None
    """The client's application instance certificate (DER or PEM); required with a security policy."""
    private_key: str | None = None
    """The certificate's private key (PEM or DER), unencrypted; required with a security policy."""
    server_certificate: str | None = None
    """The server certificate to trust; without it the one the server's endpoint offers is taken (trust on use)."""
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the user's password: it never sits in the plant file nor in a log."""

    @model_validator(mode="after")
    def _security(self) -> OpcUaConnectorConfig:
        if self.security_policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(f"security_policy {self.security_policy} needs certificate and private_key")
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env needs a username")
        return self


class MqttTlsConfig(_Strict):
    """TLS towards the broker. No ``ca_file`` means the system's trust store; a client certificate needs its key."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @model_validator(mode="after")
    def _cert_and_key(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return self


class MqttTopicRuleConfig(_Strict):
    """Topics of one shape feeding UNS paths of one shape (``werk.core.topic_map`` has the template language)."""

    topic: str = Field(min_length=1)
    path: str = Field(min_length=1)

    @model_validator(mode="after")
    def _compiles(self) -> MqttTopicRuleConfig:
        try:
            TopicRule.compile(self.topic, self.path)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return self


class MqttConnectorConfig(_Strict):
    """An MQTT broker whose topics carry JSON values; each bound topic feeds one UNS signal, and each ``map`` rule
    feeds every topic that matches it (an asset's exact binding wins over a rule for the same topic).

    The password is never part of the plant file in clear if it can be helped: ``password_env`` names an environment
    variable read at connect time. ``qos`` is the subscription's maximum QoS (MQTT 3.1.1 section 4.3).
    """

    type: Literal["mqtt"]
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: MqttTlsConfig | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    client_id: str | None = Field(default=None, min_length=1)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    qos: Literal[0, 1, 2] = 1
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)
    map: list[MqttTopicRuleConfig] = Field(default_factory=list)
    persistent_session: bool = False
    """Keep the session (MQTT 3.1.1 clean session = 0): the broker queues QoS 1/2 messages while werk is away
    and delivers them when it is back. Needs a fixed ``client_id``."""

    @model_validator(mode="after")
    def _one_password(self) -> MqttConnectorConfig:
        if self.persistent_session and self.client_id is None:
            raise ValueError("a persistent session needs a fixed client_id")
        if self.password is not None and self.password_env is not None:
            raise ValueError("give either password or password_env, not both")
        if (self.password is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a username")
        return self


class ModbusConnectorConfig(_Strict):
    """A Modbus TCP server (a device or a gateway) polled for register maps; ``unit`` is the default unit identifier.

    ``max_gap`` is how many unbound registers (or bits) a single read may span to join two bound ones: reading
    them costs bytes, saves a round trip; 0 reads only truly adjacent addresses together.
    """

    type: Literal["modbus"]
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255)
    poll_interval_ms: int = Field(default=1000, ge=10, le=3_600_000)
    max_gap: int = Field(default=0, ge=0, le=124)
    timeout_s: float = Field(default=2.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)


class MtconnectAgentConfig(_Strict):
    """An MTConnect agent's HTTP API (MTConnect Part 1 section 8): ``probe`` once, ``current``, then ``sample``.

    ``url`` is the agent's base address (``http://10.0.0.5:5000``); werk expects it on loopback or the plant LAN,
    so plain HTTP. ``device`` (name or uuid) scopes every request to one device; without it the agent's every
    device is read. Each ``sample`` asks for at most ``count`` observations; the next poll starts at once while the
    agent has more, otherwise after ``poll_interval_ms``.
    """

    type: Literal["mtconnect"]
    url: str = Field(pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    device: str | None = Field(default=None, min_length=1, pattern=r"^[^/?#]+$")
    poll_interval_ms: int = Field(default=1000, ge=10, le=3_600_000)
    count: int = Field(default=1000, ge=1, le=100_000)
    timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)


class ShdrConfig(_Strict):
    """An MTConnect adapter speaking SHDR over TCP (port 7878 by convention), read directly without an agent.

    ``heartbeat``: send ``* PING`` and, when the adapter answers ``* PONG <ms>``, ping at that period and declare
    the link dead after two periods without a byte. ``idle_timeout_s``: for adapters without heartbeats, how long
    silence is tolerated (None: forever; an adapter only sends changes).
    """

    type: Literal["shdr"]
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=7878, ge=1, le=65535)
    heartbeat: bool = True
    idle_timeout_s: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)


class SparkplugMapRuleConfig(_Strict):
    """Metrics whose address (``<group>/<edge node>/<device>/<metric name>``, the binding grammar; the device level
    is empty for an edge node's own metrics) matches ``address`` feed the UNS path ``path``. Same template language
    as MQTT ``map`` rules (``werk.core.topic_map``), e.g. ``address: "acme/{edge}/{device}/{metric#}"``."""

    address: str = Field(min_length=1)
    path: str = Field(min_length=1)

    @model_validator(mode="after")
    def _compiles(self) -> SparkplugMapRuleConfig:
        try:
            rule = TopicRule.compile(self.address, self.path)
        except TemplateError as exc:
            raise ValueError(str(exc).replace("topic template", "address template")) from None
        if rule.fields:
            raise ValueError("{field} is for JSON objects; a Sparkplug metric is one signal")
        return self


class SparkplugConfig(MqttConnectorConfig):
    """A Sparkplug B host application (Sparkplug 3.0) on an MQTT broker: the broker settings of ``mqtt`` plus
    ``host_id`` (its STATE topic ``spBv1.0/STATE/<host_id>``) and the groups to follow (none: every group).

    ``rebirth_interval_s`` is the least time between two rebirth requests to one edge node, so a node that keeps
    skipping sequence numbers is not flooded with NCMDs.
    """

    type: Literal["sparkplug"]  # type: ignore[assignment]  # the discriminator; everything else is MQTT's
    host_id: str = Field(min_length=1, pattern=r"^[^/+#]+$")
    groups: list[Annotated[str, Field(min_length=1, pattern=r"^[^/+#]+$")]] = Field(default_factory=list)
    primary: bool = True
    rebirth_interval_s: float = Field(default=5.0, ge=0)
    auto_map: list[SparkplugMapRuleConfig] = Field(default_factory=list)
    """Map the metrics no asset binds, by rule: devices that appear later are picked up from their births."""

    @model_validator(mode="after")
    def _clean_start(self) -> SparkplugConfig:
        if self.persistent_session:
            raise ValueError("a Sparkplug host application starts with a clean session (Sparkplug 3.0, 5.x)")
        if self.map:
            raise ValueError("map rules are for JSON topics; a Sparkplug host maps metrics with auto_map")
        return self


ConnectorConfig = Annotated[
    OpcUaConnectorConfig
    | MqttConnectorConfig
    | ModbusConnectorConfig
    | MtconnectAgentConfig
    | ShdrConfig
    | SparkplugConfig,
    Field(discriminator="type"),
]


class SourceBinding(_Strict):
    """Where an asset's signals come from: a connector, and per signal an address in that connector's terms.

    For OPC UA the address is a NodeId (``ns=2;s=...``, ``nsu=URI;s=...``, ``i=...``); an address that is not a
    full NodeId is appended to ``root``, which keeps long node names out of every line.
    """

    connector: Name
    root: str = ""
    signals: dict[str, str] = Field(min_length=1)
    writable: list[str] = Field(default_factory=list)
    """Signals werk may write back to the machine (a setpoint, an override), by a supervisor through the twin's
    API; every other signal is read-only. Writing needs a connector that can write (OPC UA, Modbus TCP,
    Sparkplug B)."""

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, v: dict[str, str]) -> dict[str, str]:
        _check_names(dict(v), "signal")
        return v

    @model_validator(mode="after")
    def _writable_are_bound(self) -> SourceBinding:
        unknown = [w for w in self.writable if w not in self.signals]
        if unknown:
            raise ValueError(f"writable names {unknown}, which this binding's signals do not list")
        return self


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
    products: dict[str, float] = Field(default_factory=dict)
    """Product code -> cycle time (s) on this machine; a changeover switches to the next product in turn."""


class SimSparkplugConfig(_Strict):
    """The simulator's environment sensors as a Sparkplug B edge node on an MQTT broker (not run by werk)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    group: str = Field(default="acme", pattern=r"^[^/+#]+$")
    edge_node: str = Field(default="env-gateway", pattern=r"^[^/+#]+$")
    halls: list[Name] = Field(default_factory=lambda: ["hall-1"], min_length=1)


class SimConfig(_Strict):
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


# --- the ISA-95 tree --------------------------------------------------------------------------------------------


WerkState = Literal[
    "running", "idle", "setup", "blocked", "starved", "planned_stop", "fault", "maintenance", "disconnected"
]


class StateRule(_Strict):
    """``signal op value`` holding for ``for_s`` seconds means the asset is in ``state`` (first match wins)."""

    signal: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float | bool | str
    for_s: float = Field(default=0.0, ge=0)
    state: WerkState


class StateMappingConfig(_Strict):
    """How an asset's state is derived from its signals.

    ``werk``: a signal already carrying werk state names; ``machinery``: OPC 40001-1 MachineryItemState;
    ``packml``: ISA-TR88.00.02 PackML state names; ``mtconnect``: the Execution DataItem; ``rules``: conditions on
    signals (e.g. load < 5 for 30 s means idle), ``default`` when none holds.
    """

    source: Literal["werk", "machinery", "packml", "mtconnect", "rules"] = "werk"
    signal: str | None = None
    rules: list[StateRule] = Field(default_factory=list)
    default: WerkState = "running"


class AddressConfig(_Strict):
    """The manufacturer's address, as the Digital Nameplate's AddressInformation (IDTA 02006-3-0, 02002) holds it."""

    street: str = ""
    zipcode: str = ""
    city: str = ""
    country_code: str = ""  # ISO 3166-1 alpha-2, e.g. DE


class AssetConfig(_Strict):
    kind: str = Field(min_length=1)
    description: str = ""
    manufacturer: str = ""
    model_name: str = ""
    serial_number: str = ""
    # what the IDTA Digital Nameplate and Technical Data templates require of an asset (werk check names gaps)
    uri_of_product: str = ""
    order_code: str = ""
    article_number: str = ""
    address: AddressConfig | None = None
    aas_id: str | None = None
    ideal_cycle_s: float | None = Field(default=None, gt=0)
    source: SourceBinding | list[SourceBinding] | None = None
    sim: SimAssetConfig | None = None
    states: StateMappingConfig | None = None
    production: bool = True
    """A work unit that produces (ISO 22400): it has states, stops and OEE. False for sensors and utilities whose
    signals are only recorded (a hall's climate, a gas meter)."""

    def bindings(self) -> list[SourceBinding]:
        """Where the asset's signals come from: one binding, or several (a machine's controller over OPC UA and
        its energy meter over Modbus)."""
        if self.source is None:
            return []
        return list(self.source) if isinstance(self.source, list) else [self.source]

    def bound_signals(self) -> dict[str, str]:
        """Signal name -> connector name, over every binding."""
        return {sig: b.connector for b in self.bindings() for sig in b.signals}


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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAY_NAMES: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(v: object) -> str:
    """'06:00' -> '06:00'. YAML 1.1 reads an unquoted 06:00 as the base-60 integer 360; take that back too."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 24 * 60:
        return f"{v // 60:02d}:{v % 60:02d}"
    if isinstance(v, str):
        hh, sep, mm = v.partition(":")
        if sep and hh.isdigit() and mm.isdigit() and int(hh) <= 24 and int(mm) < 60:
            return f"{int(hh):02d}:{int(mm):02d}"
    raise ValueError(f"expected a clock time like '06:00', got {v!r}")


Clock = Annotated[str, BeforeValidator(_clock)]


class ShiftConfig(_Strict):
    """A recurring shift in the plant's local time; ``end`` at or before ``start`` ends the next day."""

    name: Name
    start: Clock
    end: Clock
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAY_NAMES))
    breaks: list[tuple[Clock, Clock]] = Field(default_factory=list)


class PlannedDowntimeConfig(_Strict):
    """Planned non-production for the whole plant (inventory day, works meeting): counted as PDOT."""

    start: datetime
    end: datetime
    reason: str = "planned-stop"

    @model_validator(mode="after")
    def _order(self) -> PlannedDowntimeConfig:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a timezone offset, e.g. 2026-12-24T12:00:00+01:00")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PlantConfig(_Strict):
    enterprise: Name
    timezone: str = "UTC"
    sites: dict[str, SiteConfig] = Field(min_length=1)
    shifts: list[ShiftConfig] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)
    planned_downtime: list[PlannedDowntimeConfig] = Field(default_factory=list)
    grid_co2_kg_per_kwh: float = Field(default=0.38, ge=0)
    """Emission factor of the electricity the plant draws, kg CO2e per kWh, for the use-phase carbon footprint in
    the twin (IDTA 02023). Default: Germany's grid mix, about 0.38 kg CO2e/kWh in 2023/2024 (Umweltbundesamt,
    "Entwicklung der spezifischen Treibhausgas-Emissionen des deutschen Strommix"); set your supplier's figure."""

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


class SpoolConfig(_Strict):
    """Store-and-forward between each connector and the bus (``werk.runtime.spool``): what the bus cannot take yet
    waits on disk, per connector, up to ``max_samples`` (then the oldest go, counted). ``dir`` defaults to a folder
    beside the historian file."""

    enabled: bool = True
    dir: str | None = None
    max_samples: int = Field(default=1_000_000, ge=1000, le=1_000_000_000)


class BusConfig(_Strict):
    backend: Literal["memory"] = "memory"
    queue_batches: int = Field(default=256, ge=1, le=1_000_000)


Role = Literal["viewer", "operator", "supervisor", "admin"]
ROLE_RANK = {"viewer": 0, "operator": 1, "supervisor": 2, "admin": 3}


class UserConfig(_Strict):
    """A person or system allowed to write. The token itself is never in the file: only its SHA-256 (hex), or the
    name of an environment variable that holds it."""

    name: Name
    role: Role
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    token_env: str | None = None


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    users: list[UserConfig] = Field(default_factory=list)
    # the event loop everything runs on (werk.runtime.event_loop): auto = uvloop where installed, else asyncio's
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    # addresses whose X-Forwarded-For/-Proto werk believes: a reverse proxy's ("127.0.0.1" when it runs on this box,
    # "*" for any). None by default: the client's own address and scheme count (werk.api.http_server)
    forwarded_allow_ips: list[str] = Field(default_factory=list)
    # processes answering the port (Linux): the primary runs the platform; each further one answers the AAS API's
    # busiest reads and value writes from its own copy of the twin and hands everything else to the primary
    # (werk.api.workers). 1: the primary alone
    workers: int = Field(default=1, ge=1, le=64)
    # the largest request body werk reads (bytes); larger ones are answered 413 before they are read through
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # the same for the routes that take files (AASX packages, attachments, AAS environment imports)
    max_upload_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)


class MachineStateAppConfig(_Strict):
    """Settings of the machine-state app; how often it recomputes live KPIs (seconds)."""

    enabled: bool = True
    kpi_interval_s: float = Field(default=2.0, gt=0)


class ReasonConfig(_Strict):
    """A downtime reason; ``planned`` ones count as planned down time (PDOT), not against availability."""

    label: str = ""
    planned: bool = False
    children: dict[str, ReasonConfig] = Field(default_factory=dict)


DEFAULT_REASONS: dict[str, ReasonConfig] = {
    "mechanical": ReasonConfig(
        label="Mechanical failure",
        children={
            "spindle": ReasonConfig(label="Spindle"),
            "tooling": ReasonConfig(label="Tool breakage"),
            "hydraulics": ReasonConfig(label="Hydraulics"),
        },
    ),
    "electrical": ReasonConfig(label="Electrical / control failure"),
    "material": ReasonConfig(label="Material problem"),
    "quality": ReasonConfig(label="Quality check / adjustment"),
    "operator": ReasonConfig(label="No operator"),
    "changeover": ReasonConfig(label="Changeover / setup"),
    "starved": ReasonConfig(label="Starved (no material from upstream)"),
    "blocked": ReasonConfig(label="Blocked (downstream full)"),
    "maintenance": ReasonConfig(label="Maintenance"),
    "micro-stop": ReasonConfig(label="Micro-stop"),
    "planned-stop": ReasonConfig(label="Planned stop", planned=True),
    "no-orders": ReasonConfig(label="No orders", planned=True),
    "planned-maintenance": ReasonConfig(label="Planned maintenance", planned=True),
}


class OeeAppConfig(_Strict):
    """Downtime and OEE: micro-stop threshold, when a stop without a reason is "unqualified", the reason tree."""

    enabled: bool = True
    micro_stop_s: float = Field(default=120.0, ge=0)
    unqualified_after_s: float = Field(default=300.0, ge=0)
    kpi_interval_s: float = Field(default=2.0, gt=0)
    reasons: dict[str, ReasonConfig] = Field(default_factory=lambda: dict(DEFAULT_REASONS))

    def reason_index(self) -> dict[str, ReasonConfig]:
        """Every reason code in the tree (codes are unique across levels)."""
        out: dict[str, ReasonConfig] = {}
        stack = list(self.reasons.items())
        while stack:
            code, r = stack.pop()
            out[code] = r
            stack.extend(r.children.items())
        return out


class MaintenanceAppConfig(_Strict):
    """Predictive maintenance: a healthy baseline per asset, RUL models from files, warnings become work orders.

    ``baseline_cycles``: per-cycle rows that make an asset's healthy baseline (the first ones werk sees, or a period
    a supervisor marks); ``anomaly_cycles``: consecutive cycles above the threshold before a warning;
    ``rul_warning_cycles``: warn when fewer cycles than this are predicted to remain.
    """

    enabled: bool = True
    models_dir: str = "werk-data/models"
    signals: list[str] = Field(
        default_factory=lambda: ["load", "temperature", "vibration", "power"], min_length=1
    )
    baseline_cycles: int = Field(default=30, ge=2)
    anomaly_cycles: int = Field(default=3, ge=1)
    rul_warning_cycles: float = Field(default=25.0, ge=0)
    auto_train: bool = (
        True  # simulated assets without a model file get one trained in the background at start
    )
    train_lives: int = Field(default=30, ge=5, le=10_000)


class AppsConfig(_Strict):
    machine_state: MachineStateAppConfig = MachineStateAppConfig()
    oee: OeeAppConfig = OeeAppConfig()
    maintenance: MaintenanceAppConfig = MaintenanceAppConfig()


class ProductConfig(_Strict):
    """A product: its ideal cycle time (ISO 22400 PRI, planned run time per item) on each asset that makes it."""

    description: str = ""
    ideal_cycle_s: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class WerkConfig(_Strict):
    plant: PlantConfig
    products: dict[str, ProductConfig] = Field(default_factory=dict)
    connectors: dict[str, ConnectorConfig] = Field(default_factory=dict)
    historian: HistorianConfig = HistorianConfig()
    bus: BusConfig = BusConfig()
    spool: SpoolConfig = SpoolConfig()
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
