"""Moves batches from the bus into the historian: merges small batches, writes in a worker thread.

At the limit: while a write fails (disk full, file locked) the writer keeps its buffer and retries with back-off; it
stops taking from its bus queue, the queue fills, and publishers wait (back-pressure). Nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from werk.bus.base import Bus, Overflow
from werk.core.model import Event, Sample
from werk.store.base import Historian

log = logging.getLogger(__name__)

TRANSIENT_EVENT_KINDS = frozenset({"kpi"})  # recomputed continuously; storing each would only fill the disk


class HistorianWriter:
    def __init__(
        self, bus: Bus, historian: Historian, *, batch_max: int = 5000, flush_s: float = 0.2
    ) -> None:
        self.bus = bus
        self.historian = historian
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.written = 0
        self.events_written = 0
        self.write_errors = 0
        self._progress = asyncio.Condition()

    async def run(self) -> None:
        samples = self.bus.subscribe("#", overflow=Overflow.BLOCK)
        events = self.bus.subscribe_events(overflow=Overflow.BLOCK)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pump(samples.get, self._write_samples))
                tg.create_task(self._pump(events.get, self._write_events))
        finally:
            samples.close()
            events.close()

    async def wait_written(self, n: int, timeout: float = 10.0) -> None:
        """Wait until at least ``n`` samples have been committed (for tests and the benchmark)."""
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self.written >= n)

    async def _pump(
        self, get: Callable[[], Awaitable[list[Any]]], write: Callable[[list[Any]], Awaitable[None]]
    ) -> None:
        while True:
            buf: list[Any] = list(await get())
            deadline = time.monotonic() + self.flush_s
            while len(buf) < self.batch_max:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    buf.extend(await asyncio.wait_for(get(), left))
                except TimeoutError:
                    break
            await self._write_with_retry(buf, write)

    async def _write_with_retry(self, buf: list[Any], write: Callable[[list[Any]], Awaitable[None]]) -> None:
        delay = 0.2
        while True:
            try:
                await write(buf)
                return
            except Exception as exc:
                self.write_errors += 1
                log.error("historian.write_failed rows=%d error=%s retry_in=%.1fs", len(buf), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _write_samples(self, buf: Sequence[Sample]) -> None:
        self.written += await asyncio.to_thread(self.historian.write_samples, buf)
        async with self._progress:
            self._progress.notify_all()

    async def _write_events(self, buf: Sequence[Event]) -> None:
        keep = [e for e in buf if e.kind not in TRANSIENT_EVENT_KINDS]
        if keep:
            self.events_written += await asyncio.to_thread(self.historian.write_events, keep)
