"""The historian's writer: a row the store can never take (a poison row) is dropped alone and counted; the rows
around it are written, in order; a failure of the store itself is retried and loses nothing."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from werk.bus.memory import MemoryBus
from werk.core.model import Event, Sample
from werk.runtime.historian_writer import HistorianWriter, is_poison
from werk.store import SQLiteHistorian

T0 = datetime(2026, 3, 29, tzinfo=UTC)


def _at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


async def test_a_poison_row_is_dropped_alone_counted_and_the_rest_of_its_batch_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = MemoryBus()
    historian = SQLiteHistorian(tmp_path / "h.db")
    historian.open()
    writer = HistorianWriter(bus, historian, flush_s=0.05)
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(0.05)  # subscribed
        batch = [Sample("a/x", _at(i), float(i)) for i in range(40)]
        batch[7] = Sample("a/big", _at(7), 2**70)  # an MQTT JSON number beyond 64 bits
        batch[30] = Sample("a/text", _at(30), "\ud800")  # a lone surrogate
        batch.append(Sample("a/x", _at(39), -1.0))  # the same key again: the newer value wins
        await bus.publish(batch)
        await bus.publish([Sample("a/y", _at(0), 1.0)])
        await bus.publish_events([Event("state", "a", _at(1), {"state": "running"})])
        await writer.wait_written(len(batch) - 2 + 1, timeout=10)
        assert writer.rejected == 2
        assert writer.last_rejected.startswith("a/text: UnicodeEncodeError")
        got = historian.query_raw("a/x", T0, _at(100))
        assert [s.value for s in got] == [float(i) for i in range(39) if i not in (7, 30)] + [-1.0]
        assert [s.value for s in historian.query_raw("a/y", T0, _at(100))] == [1.0]
        assert historian.query_raw("a/big", T0, _at(100)) == []
        # another of the same signal is counted, and not logged again
        await bus.publish([Sample("a/big", _at(50), 2**70), Sample("a/y", _at(1), 2.0)])
        await writer.wait_written(len(batch) - 2 + 2, timeout=10)
        assert writer.rejected == 3
        logged = [
            r for r in caplog.records if "row_rejected" in r.getMessage() and r.levelno == logging.ERROR
        ]
        assert len(logged) == 2
        await asyncio.wait_for(_until(lambda: writer.events_written == 1), 10)
    finally:
        task.cancel()
        historian.close()


async def _until(done: object) -> None:
    while not done():  # type: ignore[operator]
        await asyncio.sleep(0.01)


class _Locked(SQLiteHistorian):
    """A store whose first writes fail as a locked file does."""

    fails = 2

    def write_samples(self, samples: Sequence[Sample]) -> int:
        if self.fails:
            self.fails -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().write_samples(samples)


async def test_a_failing_store_is_retried_with_the_whole_batch_and_nothing_is_dropped(tmp_path: Path) -> None:
    bus = MemoryBus()
    historian = _Locked(tmp_path / "h.db")
    historian.open()
    writer = HistorianWriter(bus, historian, flush_s=0.05)
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(0.05)
        await bus.publish([Sample("a/x", _at(i), float(i)) for i in range(10)])
        await writer.wait_written(10, timeout=10)
        assert writer.write_errors == 2 and writer.rejected == 0
        assert len(historian.query_raw("a/x", T0, _at(100))) == 10
    finally:
        task.cancel()
        historian.close()


def test_poison_is_told_from_a_failing_store() -> None:
    assert is_poison(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert is_poison(sqlite3.IntegrityError("NOT NULL constraint failed"))
    assert not is_poison(sqlite3.OperationalError("database or disk is full"))
    assert not is_poison(OSError(28, "No space left on device"))
