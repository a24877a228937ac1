"""Store-and-forward between connectors and the bus: samples the bus cannot take wait on disk, in order, and come
back after the store recovers or werk restarts; what overflows is counted."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import plant_config, running_stack, wait_until
from werk.bus.base import Overflow
from werk.bus.memory import MemoryBus
from werk.connect.base import ConnectorStatus
from werk.core.model import Quality, Sample
from werk.runtime.spool import Spool

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def _batch(i: int, n: int = 3) -> list[Sample]:
    return [
        Sample(f"a/b/c/d/e/m/s{k}", T0 + timedelta(seconds=i), float(i * 10 + k), Quality(k % 3))
        for k in range(n)
    ]


async def _take(sub: object, n: int) -> list[Sample]:
    out: list[Sample] = []
    async with asyncio.timeout(5):
        while len(out) < n:
            out.extend(await sub.get())  # type: ignore[attr-defined]
    return out


async def test_a_full_bus_spools_to_disk_and_replays_in_order(tmp_path: Path) -> None:
    bus = MemoryBus()
    store = bus.subscribe("#", maxsize=1, overflow=Overflow.BLOCK)  # a store that stopped taking writes
    status = ConnectorStatus("plc", "opcua", "opc.tcp://x")
    spool = Spool(bus, tmp_path / "plc.db", status, max_samples=10_000)
    drain = asyncio.create_task(spool.drain())
    try:
        for i in range(6):  # the first fills the store's queue; the rest must not wait, and go to disk
            async with asyncio.timeout(1):
                await spool.offer(_batch(i))
        assert status.spooled == 15 and len(spool.outbox) == 15
        got = await _take(store, 18)
        assert got == [s for i in range(6) for s in _batch(i)]  # every sample once, in arrival order
        await wait_until(lambda: status.spooled == 0, timeout=5)
        await spool.offer(_batch(6))  # drained: straight to the bus again
        assert await _take(store, 3) == _batch(6) and len(spool.outbox) == 0
        assert status.dropped == 0
    finally:
        drain.cancel()
        spool.close()


async def test_what_waits_on_disk_survives_a_restart_and_goes_first(tmp_path: Path) -> None:
    bus = MemoryBus()
    store = bus.subscribe("#", maxsize=1, overflow=Overflow.BLOCK)
    first = Spool(bus, tmp_path / "plc.db", ConnectorStatus("plc", "opcua", "x"), max_samples=10_000)
    for i in range(4):
        await first.offer(_batch(i))
    first.close()  # werk stops (or dies) with batches 1..3 on disk; batch 0 had reached the bus
    assert await store.get() == _batch(0)

    bus = MemoryBus()
    store = bus.subscribe("#", maxsize=100, overflow=Overflow.BLOCK)
    status = ConnectorStatus("plc", "opcua", "x")
    second = Spool(bus, tmp_path / "plc.db", status, max_samples=10_000)
    assert status.spooled == 9
    await second.offer(_batch(9))  # new data waits behind the old
    drain = asyncio.create_task(second.drain())
    try:
        got = await _take(store, 12)
        assert got == [s for i in (1, 2, 3, 9) for s in _batch(i)]
    finally:
        drain.cancel()
        second.close()


async def test_overflow_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    bus = MemoryBus()
    store = bus.subscribe("#", maxsize=1, overflow=Overflow.BLOCK)
    status = ConnectorStatus("plc", "opcua", "x")
    spool = Spool(bus, tmp_path / "plc.db", status, max_samples=6)
    for i in range(5):
        await spool.offer(_batch(i))
    assert status.spooled == 6 and status.dropped == 6  # 12 spooled, 6 oldest gone, counted
    drain = asyncio.create_task(spool.drain())
    try:
        got = await _take(store, 9)
        assert got == _batch(0) + _batch(3) + _batch(4)
    finally:
        drain.cancel()
        spool.close()
    # the count survives a restart, and a new run does not count it again
    again = ConnectorStatus("plc", "opcua", "x")
    Spool(MemoryBus(), tmp_path / "plc.db", again, max_samples=6).close()
    assert again.dropped == 0


async def test_a_locked_store_does_not_stall_the_connectors_and_loses_nothing(tmp_path: Path) -> None:
    """The historian's file is locked by another process for a while (a backup tool, say): the connectors go on
    reading, their samples wait on disk, and once the lock is gone every sample that reached the bus is stored."""
    config = plant_config(tmp_path, acceleration=40)
    config = config.model_copy(update={"bus": config.bus.model_copy(update={"queue_batches": 4})})
    async with running_stack(config) as stack:
        p = stack.platform
        assert p.writer is not None
        tap = p.bus.subscribe("#", maxsize=1_000_000, overflow=Overflow.DROP_OLDEST)  # what reached the bus
        opc = next(c for c in p.connectors if c.status.type == "opcua")
        await wait_until(lambda: opc.status.samples > 0, timeout=20)
        # the lock waits for the writer's transaction under way (with none, the test failed on a busy moment),
        # in a thread so that the loop goes on meanwhile
        locker = sqlite3.connect(
            config.historian.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
        try:
            await wait_until(lambda: opc.status.spooled > 0, timeout=30)
            reading = opc.status.samples
            await wait_until(lambda: opc.status.samples > reading + 100, timeout=20)  # still reading
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await wait_until(lambda: all(c.status.spooled == 0 for c in p.connectors), timeout=60)
        # The plant keeps running, so the tap holds samples the historian may not have reached yet: take what
        # reached the bus so far, then check the store until it holds all of it (each round first waits for as many
        # samples as the bus has counted to be written). A lost sample stays missing through every round.
        seen: set[tuple[str, datetime]] = set()
        while tap.qsize():
            seen.update((s.path, s.ts) for s in await tap.get())
        assert tap.dropped == 0 and all(c.status.dropped == 0 for c in p.connectors)
        db = p.historian
        assert db is not None
        paths = {path for path, _ in seen}
        missing = seen
        for _ in range(5):
            await p.writer.wait_written(p.bus.published, timeout=30)
            stored: set[tuple[str, datetime]] = set()
            for path in paths:
                rows = db.query_raw(
                    path, T0 - timedelta(days=3650), datetime.now(UTC) + timedelta(days=1), limit=1_000_000
                )
                stored.update((path, s.ts) for s in rows)
            missing = seen - stored
            if not missing:
                break
        assert not missing, f"{len(missing)} samples that reached the bus are not in the store"


_CANCEL_THEN_CLOSE = """
import asyncio, random, sys
from pathlib import Path
from werk.bus.base import Overflow
from werk.bus.memory import MemoryBus
from werk.connect.base import ConnectorStatus
from werk.core.model import Sample
from werk.runtime.spool import Spool
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 1, 1, tzinfo=UTC)
async def main() -> None:
    d = Path(sys.argv[1])
    for i in range(25):
        full = MemoryBus()
        full.subscribe("#", maxsize=1, overflow=Overflow.BLOCK)
        spool = Spool(full, d / f"{i}.db", ConnectorStatus("x", "y", "z"), 10_000_000)
        for k in range(40):
            await spool.offer([Sample(f"a/b/c/d/e/f/s{j}", T0 + timedelta(seconds=k), 1.0) for j in range(100)])
        spool.close()
        bus = MemoryBus()
        bus.subscribe("#", maxsize=1000, overflow=Overflow.BLOCK)
        spool = Spool(bus, d / f"{i}.db", ConnectorStatus("x", "y", "z"), 10_000_000)
        drain = asyncio.create_task(spool.drain())
        await asyncio.sleep(random.random() * 0.02)
        drain.cancel()  # the drain may be inside an outbox call on the spool's thread right now
        spool.close()
asyncio.run(main())
"""


def test_closing_right_after_cancelling_the_drain_never_crashes(tmp_path: Path) -> None:
    """Closing the outbox's SQLite connection while a cancelled drain's call still runs in its thread crashed the
    process (SIGSEGV); close now waits for that call. Run apart, so a crash fails this test, not the suite."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", _CANCEL_THEN_CLOSE, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
