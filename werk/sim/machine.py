"""One simulated machine: a state machine with cycles, micro-stops, wear, breakdowns, repairs and energy draw.

Pure and deterministic: given the same config, seed and sequence of ``step(dt)`` calls it produces the same values.
Times are seconds of simulated time; power in kW, energy in kWh, temperature in degC, vibration in mm/s RMS
(the ISO 10816 quantity: a machine of class II above 7.1 mm/s is in zone D, "damage occurs", which is where wear
takes it just before it breaks).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from werk.sim.config import SimAssetConfig

STATES = ("running", "idle", "setup", "blocked", "starved", "fault", "maintenance")

# OPC UA for Machinery (OPC 40001-1) MachineryItemState and MachineryOperationMode for each werk state.
MACHINERY_ITEM_STATE = {
    "running": "Executing",
    "idle": "NotExecuting",
    "setup": "NotExecuting",
    "blocked": "NotExecuting",
    "starved": "NotExecuting",
    "fault": "OutOfService",
    "maintenance": "OutOfService",
}
MACHINERY_OPERATION_MODE = {
    "running": "Processing",
    "idle": "Processing",
    "setup": "Setup",
    "blocked": "Processing",
    "starved": "Processing",
    "fault": "Processing",
    "maintenance": "Maintenance",
}

# Per model: nominal load while cutting/moving (%), spindle speed (rpm, 0 = none), extra signal.
_PROFILE: dict[str, tuple[float, float, str | None]] = {
    "cnc": (55.0, 9000.0, None),
    "lathe": (48.0, 2800.0, None),
    "robot": (40.0, 0.0, None),
    "press": (70.0, 0.0, "force"),
    "assembly": (25.0, 0.0, None),
    "compressor": (80.0, 0.0, "pressure"),
}

MICRO_STOP_P = 0.04
STARVED_P = 0.012
BLOCKED_P = 0.010
CHANGEOVER_EVERY = (120, 260)  # cycles between product changeovers (planned setup)
AMBIENT_C = 22.0
THERMAL_TAU_S = 600.0
# ISO 10816-3, class II machines: above 2.8 mm/s RMS is zone C, "unsatisfactory for long-term continuous
# operation; may be run for a limited period until a suitable opportunity for remedial action". The wear at which
# the running vibration's mean (1.2 + 6 wear^2 + E|N(0, 0.12)|) reaches it is the machine's warning point: tests
# and benchmarks read it to tell a warning werk should give from a false alarm.
ZONE_C_MM_S = 2.8
WARNING_WEAR = math.sqrt((ZONE_C_MM_S - 1.2 - 0.12 * math.sqrt(2 / math.pi)) / 6.0)


@dataclass
class Transition:
    t: float  # simulated seconds since start
    state: str
    cause: str


@dataclass
class MachineModel:
    name: str
    cfg: SimAssetConfig
    rng: random.Random
    state: str = "setup"
    t: float = 0.0
    cycle_count: int = 0
    good_count: int = 0
    scrap_count: int = 0
    wear: float = 0.0
    temperature: float = AMBIENT_C
    energy_kwh: float = 0.0
    history: list[Transition] = field(default_factory=list)
    #: meter exchanges as (simulated seconds, the old register's last reading, the new one's first): the truth a
    #: person would record
    meter_exchanges: list[tuple[float, float, float]] = field(default_factory=list)
    _exchanged_at_kwh: float | None = None
    _remaining: float = 0.0  # seconds left in a timed state
    _cycle_len: float = 0.0
    _cycle_pos: float = 0.0
    _next_changeover: int = 0
    _pressure: float = 7.0
    _forced: str | None = None
    product: str = ""
    wanted: str | None = (
        None  # the product a plan asks for (Factory.follow): changed over to after this cycle
    )
    feed_override: float = 100.0  # percent of programmed feed: a setpoint an operator may write (OPC UA)
    _values: dict[str, float | int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wear = self.rng.uniform(0.0, 0.4)  # machines are not all new on day one
        # and they were running before the simulation began: start warm, not at ambient
        self.temperature = AMBIENT_C + 0.35 * _PROFILE[self.cfg.model][0] + 15 * self.wear
        self.product = next(iter(self.cfg.products), "")
        self._next_changeover = self.rng.randint(*CHANGEOVER_EVERY)
        self._enter("setup", self.rng.uniform(20, 90), "start of simulation")
        self._physics(0.0)

    # --- state machine --------------------------------------------------------------------------------------

    def _enter(self, state: str, duration: float, cause: str) -> None:
        self.state = state
        self._remaining = duration
        self.history.append(Transition(self.t, state, cause))
        if state == "running":
            self._start_cycle()

    def _start_cycle(self) -> None:
        base = self.cfg.products.get(self.product, self.cfg.cycle_s)
        self._cycle_len = base * self.rng.uniform(0.97, 1.08) * (1 + 0.15 * self.wear)
        self._cycle_pos = 0.0

    @property
    def past_warning_point(self) -> bool:
        """Worn into ISO 10816 zone C (:data:`WARNING_WEAR`): a maintenance warning is due."""
        return self.wear >= WARNING_WEAR

    def force_fault(self, cause: str = "scripted fault") -> None:
        """Break the machine at the next step (scenarios and tests use this; between steps no time passes)."""
        self._forced = cause

    def hold(self, state: str, duration: float, cause: str) -> None:
        """Put the machine in ``state`` for ``duration`` simulated seconds now (scripted cases: starved while the
        compressor is down); it resumes as from any timed state."""
        self._enter(state, duration, cause)

    def step(self, dt: float) -> None:
        self.t += dt
        if self._forced is not None:
            self._enter("fault", self.rng.uniform(60, 240), self._forced)
            self._forced = None
        elif self.state == "running":
            self._cycle_pos += dt * self.feed_override / 100.0
            if self._cycle_pos >= self._cycle_len:
                self._finish_cycle()
        else:
            self._remaining -= dt
            if self._remaining <= 0:
                self._end_timed_state()
        self._physics(dt)

    def _finish_cycle(self) -> None:
        self.cycle_count += 1
        scrap_p = 0.0 if self.cfg.model == "compressor" else self.cfg.scrap_rate + 0.08 * self.wear**2
        if self.rng.random() < scrap_p:
            self.scrap_count += 1
        elif self.cfg.model != "compressor":
            self.good_count += 1
        self.wear += self.cfg.wear_per_cycle * self.rng.uniform(0.8, 1.2)
        r = self.rng
        if self.wear >= 1.0 or r.random() < 0.0005 + 0.03 * max(0.0, self.wear - 0.85):
            self._enter(
                "fault", r.uniform(60, 240), "wear breakdown" if self.wear >= 0.85 else "random fault"
            )
        elif self._plan_asks_changeover() or (
            self.wanted is None and self.cycle_count >= self._next_changeover
        ):
            self._next_changeover = self.cycle_count + r.randint(*CHANGEOVER_EVERY)
            codes = list(self.cfg.products)
            if self._plan_asks_changeover():
                self.product = str(self.wanted)
            elif codes:
                self.product = codes[(codes.index(self.product) + 1) % len(codes)]
            self._enter("setup", r.uniform(300, 900), "product changeover")
        elif r.random() < MICRO_STOP_P:
            self._enter("idle", r.uniform(5, 45), "micro-stop")
        elif r.random() < STARVED_P:
            self._enter("starved", r.uniform(30, 240), "no material")
        elif r.random() < BLOCKED_P:
            self._enter("blocked", r.uniform(30, 180), "downstream full")
        else:
            self._start_cycle()

    def _plan_asks_changeover(self) -> bool:
        return self.wanted is not None and self.wanted != self.product and self.wanted in self.cfg.products

    def _end_timed_state(self) -> None:
        if self.state == "fault":
            self._enter("maintenance", self.cfg.repair_s * self.rng.uniform(0.7, 1.4), "repair")
        elif self.state == "maintenance":
            if self.wear >= 0.85:
                self.wear = self.rng.uniform(0.0, 0.05)  # worn part replaced
            self._enter("setup", self.rng.uniform(120, 300), "restart after repair")
        else:
            self._enter("running", 0.0, "resume")

    # --- physics ----------------------------------------------------------------------------------------------

    def _physics(self, dt: float) -> None:
        base_load, rpm, extra = _PROFILE[self.cfg.model]
        r = self.rng
        running = self.state == "running"
        phase = self._cycle_pos / self._cycle_len if self._cycle_len else 0.0
        if running:
            load = base_load * (1 + 0.15 * math.sin(2 * math.pi * phase)) + 8 * self.wear + r.gauss(0, 1.5)
        elif self.state in ("idle", "starved", "blocked"):
            load = 4 + r.gauss(0, 0.5)
        elif self.state == "setup":
            load = 10 + r.gauss(0, 2)
        else:
            load = 0.0
        load = max(0.0, min(150.0, load))
        target = AMBIENT_C + 0.35 * load + 15 * self.wear
        self.temperature += (target - self.temperature) * (1 - math.exp(-dt / THERMAL_TAU_S))
        if running:
            vibration = 1.2 + 6.0 * self.wear**2 + abs(r.gauss(0, 0.12))
        else:
            vibration = 0.15 + abs(r.gauss(0, 0.03))
        rated = self.cfg.rated_power_kw
        power = {
            "running": rated * (0.35 + 0.6 * load / 100),
            "idle": rated * 0.25,
            "starved": rated * 0.25,
            "blocked": rated * 0.25,
            "setup": rated * 0.3,
            "fault": rated * 0.2,
            "maintenance": rated * 0.05,
        }[self.state] * r.uniform(0.98, 1.02)
        power += self.cfg.meter.leak_kw_per_hour * self.t / 3600.0
        meter = self.cfg.meter
        if (
            meter.exchange_after_s is not None
            and self._exchanged_at_kwh is None
            and self.t >= meter.exchange_after_s
        ):
            self.meter_exchanges.append((self.t, round(self.meter_register(), 4), 0.0))
            self._exchanged_at_kwh = self.energy_kwh
        self.energy_kwh += power * dt / 3600.0
        v: dict[str, float | int | str] = {
            "state": self.state,
            "item_state": MACHINERY_ITEM_STATE[self.state],
            "operation_mode": MACHINERY_OPERATION_MODE[self.state],
            "cycle_count": self.cycle_count,
            "good_count": self.good_count,
            "scrap_count": self.scrap_count,
            "load": round(load, 2),
            "temperature": round(self.temperature, 2),
            "vibration": round(vibration, 3),
            "power": round(power, 3),
            "energy": round(self.meter_register(), 4),
        }
        if self.cfg.products:
            v["product"] = self.product
        if self.cfg.model != "compressor":
            v["feed_override"] = self.feed_override
        if rpm:
            v["spindle_speed"] = round(rpm * (1 + r.gauss(0, 0.005)), 1) if running else 0.0
        if extra == "force":
            v["force"] = (
                round(800 * max(0.0, math.sin(math.pi * phase)) ** 4 + r.gauss(0, 5), 1) if running else 0.0
            )
        elif extra == "pressure":
            self._pressure += (0.02 if running else -0.01) * dt
            if self._pressure > 7.5 or self._pressure < 6.2:
                self._pressure = min(max(self._pressure, 6.2), 7.5)
            v["pressure"] = round(self._pressure + r.gauss(0, 0.01), 3)
        self._values = v

    def meter_register(self) -> float:
        """What the energy meter reads (kWh): the true energy from the meter's start, rolled over at its modulus."""
        m = self.cfg.meter
        if self._exchanged_at_kwh is not None:
            reading = self.energy_kwh - self._exchanged_at_kwh
        else:
            reading = m.start_kwh + self.energy_kwh
        return reading % m.modulus if m.modulus else reading

    def values(self) -> dict[str, float | int | str]:
        """The machine's signals now, keyed by werk signal name."""
        return dict(self._values)


def signal_names(model: str, *, products: bool = False) -> list[str]:
    """Signals a model serves, in a stable order."""
    base = ["state", "item_state", "operation_mode", "cycle_count", "good_count", "scrap_count"]
    if products:
        base.append("product")
    base += ["load", "temperature", "vibration", "power", "energy"]
    if model != "compressor":
        base.append("feed_override")
    _, rpm, extra = _PROFILE[model]
    if rpm:
        base.append("spindle_speed")
    if extra:
        base.append(extra)
    return base
