"""The simulated machine: deterministic, all states reachable, wear drives vibration and breakdowns."""

from __future__ import annotations

import itertools
import random
from collections import Counter

from werk.sim.config import SimAssetConfig
from werk.sim.machine import STATES, MachineModel, signal_names


def run(seed: int, steps: int, **cfg: float | str) -> tuple[MachineModel, list[dict[str, float | int | str]]]:
    m = MachineModel("m", SimAssetConfig(model="cnc", **cfg), random.Random(seed))  # type: ignore[arg-type]
    out = []
    for _ in range(steps):
        m.step(1.0)
        out.append(m.values())
    return m, out


def test_same_seed_same_run_other_seed_other_run() -> None:
    _, a = run(1, 3000)
    _, b = run(1, 3000)
    _, c = run(2, 3000)
    assert a == b
    assert a != c


def test_long_run_visits_every_state_and_counts_add_up() -> None:
    m, _ = run(3, 200_000, cycle_s=20, wear_per_cycle=0.004)
    visited = {t.state for t in m.history}
    assert visited == set(STATES)
    assert m.cycle_count == m.good_count + m.scrap_count
    assert m.scrap_count > 0


def test_wear_raises_vibration_until_breakdown_then_repair_resets_it() -> None:
    m, values = run(4, 120_000, cycle_s=10, wear_per_cycle=0.01)
    breakdowns = [i for i, t in enumerate(m.history) if t.cause == "wear breakdown"]
    assert breakdowns, "a machine wearing 1 % per cycle must break within 120 000 s"
    i = breakdowns[0]
    t_fail = m.history[i].t
    # vibration while running in the last 10 minutes before the failure vs the first 10 minutes of the run
    running = [(k + 1.0, v["vibration"]) for k, v in enumerate(values) if v["state"] == "running"]
    early = [v for t, v in running if t < 600]
    late = [v for t, v in running if t_fail - 600 <= t < t_fail]
    assert sum(late) / len(late) > 1.5 * sum(early) / len(early)
    assert sum(late) / len(late) > 5.0  # close to ISO 10816 zone D
    assert [t.state for t in m.history[i : i + 3]] == ["fault", "maintenance", "setup"]


def test_power_follows_state_and_energy_only_grows() -> None:
    _, values = run(5, 20_000)
    by_state: dict[str, list[float]] = {}
    for v in values:
        by_state.setdefault(str(v["state"]), []).append(float(v["power"]))
    mean = {k: sum(x) / len(x) for k, x in by_state.items()}
    assert mean["running"] > mean["idle"] > mean["maintenance"]
    energy = [float(v["energy"]) for v in values]
    assert all(b >= a for a, b in itertools.pairwise(energy)) and energy[-1] > 0


def test_every_model_serves_its_signals() -> None:
    for model in ("cnc", "lathe", "robot", "press", "assembly", "compressor"):
        m = MachineModel("m", SimAssetConfig(model=model), random.Random(0))  # type: ignore[arg-type]
        m.step(1.0)
        assert set(m.values()) == set(signal_names(model))
    assert Counter(signal_names("press"))["force"] == 1
