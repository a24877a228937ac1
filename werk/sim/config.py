"""The virtual factory's settings: ``sim:`` at the top of the plant file and on each simulated asset."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from werk.config.model import Name, StrictModel

SimModel = Literal["cnc", "lathe", "robot", "press", "assembly", "compressor"]


class SimMeterConfig(StrictModel):
    """What the asset's energy meter does besides counting, as real meters do to the people reading them. The
    machine's true energy is unaffected; only the register the meter serves is."""

    modulus: float | None = Field(default=None, gt=0)
    """The register rolls over to 0 here (``100000`` for five digits); none: it never does."""
    start_kwh: float = Field(default=0.0, ge=0)
    """The register's reading when the simulation starts."""
    exchange_after_s: float | None = Field(default=None, gt=0)
    """The meter is swapped for a new one (reading 0) after this many simulated seconds."""
    leak_kw_per_hour: float = Field(default=0.0, ge=0)
    """Draw added in every state per simulated hour (a compressor's growing leaks)."""


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
    meter: SimMeterConfig = Field(default_factory=SimMeterConfig)
    """How its energy meter behaves: a rollover, an exchange, leaks that raise its draw."""


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


class ChatterCase(StrictModel):
    """A sensor that chatters: during ``for_s`` of every ``every_s`` the signal alternates between ``center +
    amplitude`` and ``center - amplitude`` every ``period_s`` (simulated seconds), crossing any limit near
    ``center`` again and again."""

    asset: Name
    """The simulated asset."""
    signal: Name
    """Its signal (``vibration``, ``temperature``)."""
    center: float
    """The value it swings around."""
    amplitude: float = Field(gt=0)
    """How far above and below."""
    period_s: float = Field(default=10.0, gt=0)
    """Simulated seconds between two swings."""
    every_s: float = Field(default=3600.0, gt=0)
    """Simulated seconds from the start of one episode to the next."""
    for_s: float = Field(default=300.0, gt=0)
    """How long an episode lasts."""
    start_s: float = Field(default=0.0, ge=0)
    """When the first episode begins."""


class StaleCase(StrictModel):
    """A signal that stops updating (a stuck transmitter, a lost field bus): frozen during ``for_s`` of every
    ``every_s``, so no change reaches werk."""

    asset: Name
    signal: Name
    every_s: float = Field(default=3600.0, gt=0)
    for_s: float = Field(default=600.0, gt=0)
    start_s: float = Field(default=0.0, ge=0)


class TripCase(StrictModel):
    """A compressor (or any utility) that trips every ``every_s``: it faults, and the ``starves`` assets behind it
    are starved for ``for_s``, an alarm flood."""

    asset: Name
    """The asset that trips."""
    starves: list[Name] = Field(default_factory=list)
    """The assets that starve while it is down."""
    every_s: float = Field(default=7200.0, gt=0)
    for_s: float = Field(default=300.0, gt=0)
    start_s: float = Field(default=0.0, ge=0)


class AlarmCases(StrictModel):
    """Scripted faults that exercise an alarm system; none by default (the simulator's own randomness is left as
    it is: these draw no random numbers)."""

    chatter: list[ChatterCase] = Field(default_factory=list)
    stale: list[StaleCase] = Field(default_factory=list)
    trip: list[TripCase] = Field(default_factory=list)


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
    follow_plan: str | None = Field(default=None, pattern=r"^https?://")
    """A plan to work to: the URL of werk's plan per machine (``http://127.0.0.1:8080/api/orders/plan``), read
    every 5 s; each machine makes the product of the operation planned on it now (or next), changing over after its
    current cycle. Without it the machines run their own product mix."""
    follow_plan_token_env: str | None = None
    """The environment variable holding a bearer token (a viewer's) to read the plan with: once werk has users,
    every read needs one."""
    pki_dir: str | None = None
    """Offer secure endpoints too (Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss; Sign and
    SignAndEncrypt) besides None, with a server certificate made in ``<pki_dir>/own`` on first start."""
    sparkplug: SimSparkplugConfig | None = None
    """Also run environment sensors as a Sparkplug B edge node (needs a broker)."""
    shdr_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve ``shdr_asset`` as an MTConnect adapter (SHDR over TCP) on 127.0.0.1 at this port."""
    shdr_asset: str | None = None
    """The simulated asset served as an MTConnect adapter on ``shdr_port``."""
    alarm_cases: AlarmCases = Field(default_factory=AlarmCases)
    """Scripted faults for alarms: a chattering sensor, a stale signal, a trip that starves the assets behind it."""
    modbus_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve each machine's energy meter over Modbus TCP on 127.0.0.1 at this port (unit = the asset's position,
    from 1): holding registers 0-1 active power (float32, kW), 2-5 active energy (float64, kWh), big-endian."""
