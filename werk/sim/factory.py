"""The virtual factory: every simulated asset of a plant file, advanced together on one deterministic clock.

Simulated dynamics run ``acceleration`` times faster than the wall clock, but timestamps stay on the wall clock
(start + ticks x tick / acceleration): an accelerated demo still shows "the last ten minutes" on its charts, and a
run with the same seed and start time stamps the same values with the same instants.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from werk.config.model import WerkConfig
from werk.sim.config import SimConfig
from werk.sim.machine import MachineModel, signal_names
from werk.sim.spec import sim_asset, sim_of


@dataclass(frozen=True, slots=True)
class SimAsset:
    name: str
    model: MachineModel
    signals: tuple[str, ...]
    manufacturer: str
    model_name: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class Served:
    """What the simulator published: the ground truth tests compare werk's records against."""

    asset: str
    signal: str
    ts: datetime
    value: float | int | str


class Factory:
    def __init__(self, config: WerkConfig, start: datetime, *, log_limit: int = 0) -> None:
        sim = sim_of(config)
        if sim is None:
            raise ValueError("the plant file has no 'sim' section")
        self.sim: SimConfig = sim
        self.start = start
        self.ticks = 0
        self.assets: dict[str, SimAsset] = {}
        for i, ref in enumerate(config.assets()):
            sc = sim_asset(ref.config)
            if sc is None:
                continue
            rng = random.Random(f"{self.sim.seed}:{i}:{ref.name}")
            c = ref.config
            self.assets[ref.name] = SimAsset(
                name=ref.name,
                model=MachineModel(ref.name, sc, rng),
                signals=tuple(signal_names(sc.model, products=bool(sc.products))),
                manufacturer=c.manufacturer or "werk virtual factory",
                model_name=c.model_name or sc.model.upper(),
                serial_number=c.serial_number or f"SIM-{self.sim.seed}-{i:03d}",
            )
        self.cases = self.sim.alarm_cases
        # a bounded record of served values, for tests; 0 keeps nothing
        self.log: deque[Served] = deque(maxlen=log_limit)
        self._last: dict[tuple[str, str], float | int | str] = {}

    @property
    def now(self) -> datetime:
        """Wall-clock instant of the current tick."""
        return self.start + timedelta(seconds=self.ticks * self.sim.tick_s / self.sim.acceleration)

    @property
    def sim_seconds(self) -> float:
        return self.ticks * self.sim.tick_s

    def step(self) -> list[tuple[str, str, float | int | str]]:
        """Advance one tick; return the (asset, signal, value) triples that changed, stamped ``self.now``."""
        self.ticks += 1
        changed: list[tuple[str, str, float | int | str]] = []
        ts = self.now
        self._trips()
        for a in self.assets.values():
            a.model.step(self.sim.tick_s)
            for sig, val in self._scripted(a.name, a.model.values()).items():
                key = (a.name, sig)
                if self._last.get(key) != val or key not in self._last:
                    self._last[key] = val
                    changed.append((a.name, sig, val))
                    if self.log.maxlen:
                        self.log.append(Served(a.name, sig, ts, val))
        return changed

    def follow(self, wanted: Mapping[str, str | None]) -> None:
        """Work to a plan: each named asset changes over to its product after its current cycle (one it makes;
        ``None`` goes back to the simulator's own product mix). Assets not named keep what they had."""
        for name, product in wanted.items():
            asset = self.assets.get(name)
            if asset is not None:
                asset.model.wanted = product

    def _episode(self, start_s: float, every_s: float, for_s: float) -> float | None:
        """Seconds into the current episode of a case, or None outside one."""
        t = self.sim_seconds - start_s
        if t < 0:
            return None
        into = t % every_s
        return into if into < for_s else None

    def _trips(self) -> None:
        for c in self.cases.trip:
            into = self._episode(c.start_s, c.every_s, c.for_s)
            if into is None or into >= self.sim.tick_s:  # the episode began at this tick
                continue
            if c.asset in self.assets:
                self.assets[c.asset].model.force_fault("trip")
            for name in c.starves:
                if name in self.assets:
                    self.assets[name].model.hold("starved", c.for_s, f"{c.asset} tripped")

    def _scripted(self, asset: str, values: dict[str, float | int | str]) -> dict[str, float | int | str]:
        """An asset's values with the chatter and stale cases applied (a stale signal keeps its last value)."""
        for ch in self.cases.chatter:
            if ch.asset == asset and ch.signal in values:
                into = self._episode(ch.start_s, ch.every_s, ch.for_s)
                if into is not None:
                    up = int(into // ch.period_s) % 2 == 0
                    values[ch.signal] = round(ch.center + (ch.amplitude if up else -ch.amplitude), 3)
        for st in self.cases.stale:
            if (
                st.asset == asset
                and st.signal in values
                and (
                    self._episode(st.start_s, st.every_s, st.for_s) is not None
                    and (asset, st.signal) in self._last
                )
            ):
                values[st.signal] = self._last[(asset, st.signal)]
        return values

    def current(self) -> list[tuple[str, str, float | int | str]]:
        """Every signal's value now, recorded in the log as served at ``self.now`` (servers publish it first)."""
        out = [(a.name, s, v) for a in self.assets.values() for s, v in a.model.values().items()]
        ts = self.now
        for name, sig, val in out:
            self._last[(name, sig)] = val
            if self.log.maxlen:
                self.log.append(Served(name, sig, ts, val))
        return out
