"""The demo's plant for the equivalent of thirty minutes of `make demo` (five simulated hours), at high speed:
no machine is in WARNING unless the simulator broke it or wore it past its warning point, and no machine has two
open work orders for the same cause."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import plant_config, running_stack
from werk.sim.machine import WARNING_WEAR

DEMO_ACCELERATION = 10.0  # `make demo`'s
DEMO_MINUTES = 30.0


@pytest.mark.timeout(240)
async def test_thirty_minutes_of_demo_warn_only_machines_the_simulator_broke_or_wore(tmp_path: Path) -> None:
    acceleration, tick_s = 200.0, 4.0
    config = plant_config(tmp_path, acceleration=acceleration, tick_s=tick_s, seed=42)
    sim_s = DEMO_MINUTES * 60 * DEMO_ACCELERATION
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        factory = stack.sim.factory
        unfair: list[str] = []
        checked = 0
        deadline = time.monotonic() + sim_s / acceleration * 1.5
        while factory.sim_seconds < sim_s and time.monotonic() < deadline:
            await asyncio.sleep(2.0)
            assets = (await http.get("/api/maintenance")).json()["assets"]
            for name, h in assets.items():
                if not h["warned"]:  # a warning raised now: the state is warning or alarm
                    continue
                model = factory.assets[name].model
                broke = any(t.state == "fault" for t in model.history)
                if not (broke or model.past_warning_point):
                    unfair.append(
                        f"{name} at {factory.sim_seconds:.0f} s: wear {model.wear:.2f}, {h.get('reason')}"
                    )
            checked += 1
            orders = (await http.get("/api/workorders")).json()
            open_ = Counter((o["asset"], o["source"]) for o in orders if o["status"] != "done")
            assert max(open_.values(), default=0) <= 1, open_
        assert factory.sim_seconds >= sim_s * 0.9, (
            f"the simulator ran {factory.sim_seconds:.0f} of {sim_s:.0f} s"
        )
        assert checked > 10
        assert unfair == [], f"in WARNING before the warning point (wear {WARNING_WEAR:.2f}): {unfair}"
        snapshot = (await http.get("/api/maintenance")).json()["assets"]
        # baselines finished within the run, so the detectors were live for part of it; every asset says how far
        ready = [n for n, h in snapshot.items() if h["baseline"]["ready"]]
        assert len(ready) >= 2, {n: h["baseline"] for n, h in snapshot.items()}
        assert all("remaining_cycles" in h["baseline"] and h["reason"]["summary"] for h in snapshot.values())
