"""Run-to-failure lives of a simulated machine, generated offline: the training data for RUL models.

A life starts when a worn part has been replaced (or at the simulation's start) and ends at a wear breakdown. A
random fault, repaired without replacing the worn part, cuts a life that did not end in failure; such censored
pieces are dropped, as run-to-failure training needs the failure.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from werk.sim.config import SimAssetConfig
from werk.sim.machine import MachineModel

Tick = dict[str, float | int | str]


def lives(
    cfg: SimAssetConfig, *, seed: int, count: int, tick_s: float = 1.0, max_ticks: int = 50_000_000
) -> Iterator[list[Tick]]:
    """Yield ``count`` lives of per-tick values (as ``MachineModel.values()``), each ending in a wear breakdown."""
    m = MachineModel("train", cfg, random.Random(f"lives:{seed}"))
    life: list[Tick] = []
    made = ticks = 0
    seen = len(m.history)
    while made < count and ticks < max_ticks:
        m.step(tick_s)
        ticks += 1
        life.append(m.values())
        if len(m.history) == seen:
            continue
        for tr in m.history[seen:]:
            if tr.state == "fault":
                if tr.cause == "wear breakdown":
                    yield life
                    made += 1
                life = []
        seen = len(m.history)
