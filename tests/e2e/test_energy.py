"""Energy end to end: from the simulator's Modbus meters and OPC UA part counters, through werk's historian and the
energy app's report API, to kWh per good part, held against the simulator's own record."""

from __future__ import annotations

import bisect
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from tests.conftest import plant_config, running_stack, wait_until, with_app
from werk.core.model import from_micros
from werk.sim.factory import Served

pytestmark = pytest.mark.e2e
ASSETS = ("cnc-1", "lathe-1", "press-1", "robot-1")


def _truth(log: list[Served], asset: str, signal: str, at: datetime) -> float:
    """What the simulator served for a signal at an instant: its last value stamped at or before it."""
    rows = [s for s in log if s.asset == asset and s.signal == signal]
    i = bisect.bisect_right([s.ts for s in rows], at) - 1
    assert i >= 0, f"the simulator served no {signal} of {asset} before {at}"
    return float(rows[i].value)


async def test_kwh_per_part_from_the_modbus_meters_matches_the_simulators_ground_truth(
    tmp_path: Path,
) -> None:
    config = with_app(plant_config(tmp_path, acceleration=20, tick_s=1.0, seed=5), "energy", interval_s=0.5)
    async with running_stack(config, log_limit=400_000) as stack:
        f = stack.sim.factory
        historian = stack.platform.historian
        live = stack.platform.live.latest
        paths = {a: config.asset(a) for a in ASSETS}
        await wait_until(
            lambda: all(
                r.signal_path("energy") in live and r.signal_path("good_count") in live
                for r in paths.values()
            ),
            timeout=20,
        )
        await wait_until(lambda: f.sim_seconds >= 60, timeout=20)
        # each asset's window starts at one of its meter readings werk stored (the meter's own instant)
        starts = {}
        for name, ref in paths.items():
            rows = historian.changes(ref.signal_path("energy"), f.start, f.now)
            starts[name] = from_micros(rows[-1][0])
        await wait_until(lambda: f.sim_seconds >= 700, timeout=60)
        await stack.sim.pause()
        final = {n: f.assets[n].model.values() for n in ASSETS}
        # werk has caught up when its latest meter and counter values are the simulator's last ones
        await wait_until(
            lambda: all(
                live[r.signal_path("energy")].value == final[n]["energy"]
                and live[r.signal_path("good_count")].value == final[n]["good_count"]
                for n, r in paths.items()
            ),
            timeout=15,
        )
        await wait_until(lambda: historian.latest(f"{paths['robot-1'].path}/energy"), timeout=5)
        end = datetime.now(UTC) + timedelta(seconds=1)
        log = list(f.log)
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
            for name in ASSETS:
                a = starts[name]
                energy = final[name]["energy"] - _truth(log, name, "energy", a)  # type: ignore[operator]
                parts = final[name]["good_count"] - _truth(log, name, "good_count", a)  # type: ignore[operator]
                assert parts > 5, f"{name} made too few parts to compare ({parts})"
                r = await client.get(
                    "/api/energy/report",
                    params={"start": a.isoformat(), "end": end.isoformat(), "period": "year", "asset": name},
                )
                assert r.status_code == 200, r.text
                rep = r.json()
                (row,) = [x for x in rep["rows"] if x["level"] == "asset"]
                assert rep["anomalies"] == [], f"{name}: readings held back: {rep['anomalies']}"
                assert row["energy"] == pytest.approx(energy, rel=0.005), name
                assert row["parts"] == parts, name
                assert row["kwh_per_part"] == pytest.approx(energy / parts, rel=0.005), name
            # the monthly report downloads as Excel with a row per asset and the site's peak
            r = await client.get("/api/energy/report", params={"period": "month", "format": "xlsx"})
            assert r.status_code == 200
            wb = load_workbook(io.BytesIO(r.content))
            scopes = {row[2] for row in wb["Energy"].iter_rows(min_row=2, values_only=True)}
            assert set(ASSETS) <= scopes and wb["Site peaks"].max_row == 2
            r = await client.get("/api/energy/report", params={"period": "month", "format": "csv"})
            assert r.text.splitlines()[0].startswith("Period,Level,Scope,Energy")
            # the page is told the meters run 20 times faster than the clock (its figures are 20x the power shown)
            window = (await client.get("/api/energy/live")).json()["window"]
            assert window["acceleration"] == 20
            # recording a meter exchange needs a supervisor
            r = await client.post(
                "/api/energy/meters/press-1/events",
                json={"ts": end.isoformat(), "kind": "exchange", "old_final": 1.0, "new_start": 0.0},
            )
            assert r.status_code in (401, 403)
            # today's energy per part is published as signals the historian keeps
            await wait_until(lambda: paths["press-1"].signal_path("energy.kwh_per_part") in live, timeout=15)
            idle = (await client.get("/api/energy/idle")).json()
            assert {x["asset"] for x in idle} >= set(ASSETS)
            assert all(x["idle_kwh"] >= 0 and x["energy"] >= x["idle_kwh"] for x in idle)
