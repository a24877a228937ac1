"""Moves batches from the bus into the historian: merges small batches, writes in a worker thread.

At the limit: while a write fails (disk full, file locked) the writer keeps its buffer and retries with back-off; it
stops taking from its bus queue, the queue fills, and publishers wait (back-pressure). Nothing accepted is dropped.

A row the store can never take (a poison row: an integer beyond SQLite's 64 bits, text with a lone surrogate) must
not hold up the rows around it forever: a batch that fails for its data (:func:`is_poison`) is split in halves,
each written on its own, down to the rows that fail alone; those are dropped, counted (``rejected``, in
``/api/health``) and logged with their signal and why. The others keep their order, so an upsert of one key still
ends with its newest value.
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


def is_poison(exc: BaseException) -> bool:
    """True if ``exc`` says the rows themselves cannot be stored (retrying cannot help), False for a failure of the
    store (locked, full, gone: retried). The DB-API's error classes by name, so a backend's own (sqlite3, psycopg)
    count alike: DataError, IntegrityError, ProgrammingError, InterfaceError; and Python's own conversion errors."""
    if isinstance(exc, ValueError | TypeError | OverflowError):  # UnicodeEncodeError is a ValueError
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"DataError", "IntegrityError", "ProgrammingError", "InterfaceError"})


TRANSIENT_EVENT_KINDS = frozenset({"kpi"})  # recomputed continuously; storing each would only fill the disk


class HistorianWriter:
    """Writes the bus's samples and events. ``samples=False``: events only, for a process whose samples are written
    by others (a ``werk api`` replica fed from the cluster's log, whose workers store them)."""

    def __init__(
        self,
        bus: Bus,
        historian: Historian,
        *,
        batch_max: int = 5000,
        flush_s: float = 0.2,
        samples: bool = True,
    ) -> None:
        self.bus = bus
        self.samples = samples
        self.historian = historian
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.written = 0
        self.events_written = 0
        self.write_errors = 0
        self.rejected = 0  # rows dropped because the store can never take them (poison rows)
        self.last_rejected = ""  # what the last one was and why
        self._rejected_from: set[str] = set()  # signals (event kinds) whose rejection was logged
        self._progress = asyncio.Condition()
        self._taken = 0  # batches taken from the bus, and of them written (or rejected row by row)
        self._done = 0

    async def run(self) -> None:
        samples = self.bus.subscribe("#", overflow=Overflow.BLOCK) if self.samples else None
        events = self.bus.subscribe_events(overflow=Overflow.BLOCK)
        try:
            async with asyncio.TaskGroup() as tg:
                if samples is not None:
                    tg.create_task(self._pump(samples.get, self._write_samples))
                tg.create_task(self._pump(events.get, self._write_events))
        finally:
            if samples is not None:
                samples.close()
            events.close()

    async def wait_written(self, n: int, timeout: float = 10.0) -> None:
        """Wait until at least ``n`` samples have been committed (for tests and the benchmark)."""
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self.written >= n)

    async def flushed(self, timeout: float = 10.0) -> None:
        """Wait until everything taken from the bus so far is committed: after the bus settled (every batch
        taken), the events a batch caused are in the store (werk.runtime.app_host acknowledges a batch then)."""
        target = self._taken
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(lambda: self._done >= target)

    async def _pump(
        self, get: Callable[[], Awaitable[list[Any]]], write: Callable[[list[Any]], Awaitable[None]]
    ) -> None:
        while True:
            buf: list[Any] = list(await get())
            self._taken += 1
            taken = 1
            deadline = time.monotonic() + self.flush_s
            while len(buf) < self.batch_max:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    buf.extend(await asyncio.wait_for(get(), left))
                    self._taken += 1
                    taken += 1
                except TimeoutError:
                    break
            await self._write_with_retry(buf, write)
            async with self._progress:
                self._done += taken
                self._progress.notify_all()

    async def _write_with_retry(self, buf: list[Any], write: Callable[[list[Any]], Awaitable[None]]) -> None:
        delay = 0.2
        while True:
            try:
                await write(buf)
                return
            except Exception as exc:
                self.write_errors += 1
                if is_poison(exc):
                    await self._split(buf, write, exc)
                    return
                log.error("historian.write_failed rows=%d error=%s retry_in=%.1fs", len(buf), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _split(
        self, buf: list[Any], write: Callable[[list[Any]], Awaitable[None]], exc: Exception
    ) -> None:
        """``buf`` failed for its data: write its halves on their own (in order), and drop a row that fails alone."""
        if len(buf) == 1:
            row = buf[0]
            source = str(getattr(row, "path", getattr(row, "kind", "?")))
            self.rejected += 1
            self.last_rejected = f"{source}: {type(exc).__name__}: {exc}"
            # once per signal (or event kind): a source that sends nothing but such values must not flood the log
            first = source not in self._rejected_from and len(self._rejected_from) < 10_000
            if first:
                self._rejected_from.add(source)
            log.log(
                logging.ERROR if first else logging.DEBUG,
                "historian.row_rejected row=%r error=%s: dropped (counted in samples_rejected)",
                row,
                self.last_rejected,
            )
            return
        half = len(buf) // 2
        await self._write_with_retry(buf[:half], write)
        await self._write_with_retry(buf[half:], write)

    async def _write_samples(self, buf: Sequence[Sample]) -> None:
        self.written += await asyncio.to_thread(self.historian.write_samples, buf)
        async with self._progress:
            self._progress.notify_all()

    async def _write_events(self, buf: Sequence[Event]) -> None:
        keep = [e for e in buf if e.kind not in TRANSIENT_EVENT_KINDS]
        if keep:
            self.events_written += await asyncio.to_thread(self.historian.write_events, keep)
