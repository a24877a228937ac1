"""Alarms from a machine's own alarm signals: an MTConnect adapter's CONDITION levels (WARNING, FAULT) over a real
SHDR connection on loopback become werk alarms of their own priorities."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from tests.apps.test_alarms_states import P, alarm
from tests.connect.test_mtconnect_connector import FakeAdapter, _shdr_config
from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.states import Transition
from werk.connect.mtconnect import ShdrConnector


async def test_mtconnect_condition_levels_raise_warning_and_fault_alarms() -> None:
    adapter = FakeAdapter()
    await adapter.start()
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), {"system_cond": f"{P}/system"})
    eng = AlarmEngine(
        [
            alarm("warning", signal="system", type="discrete", value="WARNING", priority="medium"),
            alarm("fault", signal="system", type="discrete", value="FAULT", priority="high"),
            alarm("any", signal="system", type="discrete", value=["WARNING", "FAULT"], priority="low"),
        ]
    )
    rows: list[Transition] = []
    seen = asyncio.Event()

    async def consume() -> None:
        n = 0
        async for batch in conn.stream():
            rows.extend(eng.feed(batch))
            n += len(batch)
            if n >= 3:
                seen.set()

    task = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(10):
            await adapter.connected.wait()
            await adapter.send(
                "2026-03-04T05:06:07Z|system_cond|WARNING|100|LOW||Coolant low",
                "2026-03-04T05:06:08Z|system_cond|FAULT|2001|HIGH||Spindle overheat",
                "2026-03-04T05:06:09Z|system_cond|NORMAL||||",
            )
            await seen.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.stop()
    t = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    got = [(r.alarm, r.action, int((r.ts - t).total_seconds())) for r in rows]
    assert got == [
        ("m1:warning", "activate", 0),
        ("m1:any", "activate", 0),
        ("m1:warning", "clear", 1),
        ("m1:fault", "activate", 1),
        ("m1:fault", "clear", 2),
        ("m1:any", "clear", 2),
    ]
