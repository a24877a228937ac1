"""The current 15-minute window: projected from what the meters counted, and a warning once per window when it
heads over the contracted peak, on the bus as an ``energy`` event."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from werk.apps.energy.app import EnergyApp
from werk.apps.energy.spec import SPEC
from werk.apps.spec import AppContext
from werk.bus.memory import MemoryBus
from werk.config import demo_config_path, parse_config
from werk.core.model import Sample
from werk.store import SQLiteFile, SQLiteHistorian
from werk.store.app_database import AppDatabase

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 2, 10, 10, tzinfo=BERLIN)  # ten minutes into the 10:00 window


async def test_a_window_heading_over_the_peak_warns_once(tmp_path: Path, app_db: AppDatabase) -> None:
    config = parse_config(demo_config_path().read_text(), "demo.yaml")
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    historian = SQLiteHistorian(file)
    historian.open()
    app_db.migrate("energy", SPEC.migrations)
    settings = config.app("energy").model_copy(update={"peak_limit_kw": 100.0})
    bus = MemoryBus()
    clock = [NOW]
    ctx = AppContext(
        "energy",
        config,
        settings,
        bus,
        historian,
        app_db,
        {},
        tmp_path,
        clock=lambda: clock[0],
    )
    app = EnergyApp(ctx)
    # cnc-1 and press-1 count 60 kW each from 09:55 on (a reading every 10 s); the window began at 10:00
    start = NOW - timedelta(minutes=15)
    samples = [
        Sample(ref.signal_path("energy"), start + timedelta(seconds=10 * k), 1000.0 + 60.0 * 10 * k / 3600)
        for ref in (config.asset("cnc-1"), config.asset("press-1"))
        for k in range(15 * 6 + 1)
    ]
    historian.write_samples(samples)
    events = bus.subscribe_events({"energy"})
    try:
        w = app.compute_window(NOW)
        assert datetime.fromisoformat(w["start"]) == datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
        assert w["energy_kwh"] == pytest.approx(2 * 60 * 10 / 60)  # 20 kWh so far
        assert w["rate_kw"] == pytest.approx(120.0)
        assert w["projected_kw"] == pytest.approx(120.0) and w["warning"]
        app.window = w
        await app._warn()
        await app._warn()  # the same window: no second warning
        (got,) = await asyncio.wait_for(events.get(), 1)
        assert got.kind == "energy" and got.data["what"] == "peak_warning"
        assert got.data["projected_kw"] == pytest.approx(120.0) and got.data["peak_limit_kw"] == 100.0
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(events.get(), 0.2)
        again = EnergyApp(ctx)  # another instance, after a takeover, warns of the same window: stored once
        again.window = w
        await again._warn()
        (repeat,) = await asyncio.wait_for(events.get(), 1)
        assert repeat.key == got.key is not None
        historian.write_events([got, repeat])
        assert len(historian.query_events(kinds=["energy"])) == 1
    finally:
        events.close()
        file.close()
