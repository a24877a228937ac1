"""Store-and-forward between a connector and the bus: what the bus cannot take now waits on disk, in order.

Without it, a store that stops taking writes (disk full, file locked, a database restarting) back-pressures through
the bus into the connector, which stops reading its source: a server's subscription queue or a broker client's buffer
then overflows and samples are lost upstream, where nobody can count them, and a restart loses what sat in memory.
With it, the connector keeps reading at full speed, and the samples the bus has no room for go into a bounded
SQLite outbox (``werk.connect.outbox``) that a drain task replays into the bus in arrival order once it has room,
also after a restart. At the limit the oldest samples give way and are counted in the connector's ``dropped``.

Order: a batch goes straight to the bus only when nothing is waiting on disk and the bus takes it without waiting
(``MemoryBus.has_room``); otherwise it joins the tail of the outbox. One lock orders the check, the append and the
drain's "the outbox is empty" verdict, so a direct batch can never overtake a spooled one.

Every outbox call runs on one thread of the spool's own: a cancelled task does not stop a call already running in
a thread, and ``close`` must not close the SQLite connection under it (that crashes the process), so ``close``
queues behind whatever is still running there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from werk.bus.memory import MemoryBus
from werk.connect.base import ConnectorStatus
from werk.connect.outbox import Item, SqliteOutbox
from werk.core.model import Quality, Sample, from_micros, to_micros

log = logging.getLogger(__name__)

DRAIN_BATCH = 5000  # samples read back from disk per bus publish
T = TypeVar("T")


def encode(samples: Sequence[Sample]) -> list[Item]:
    return [
        (s.path, json.dumps([to_micros(s.ts), s.value, int(s.quality)], separators=(",", ":")).encode())
        for s in samples
    ]


def decode(items: Sequence[Item]) -> list[Sample]:
    out = []
    for path, payload in items:
        us, value, quality = json.loads(payload)
        out.append(Sample(path, from_micros(us), value, Quality(quality)))
    return out


class OutboxThread:
    """A connector's :class:`SqliteOutbox` with every call on one thread of its own (``_call``; see the module
    docstring for why), its size and what it dropped kept in the connector's ``status``. ``_lock`` orders the
    changes of the outbox; ``_wake`` is set while it holds something for the drain task to send.

    What a subclass names: its ``logger`` and the lines it logs on resuming and on overflowing (each with the
    connector's name and a count; the overflow's with the outbox's limit too)."""

    logger = log
    resume_line = "spool.resume connector=%s samples=%d"
    overflow_line = "spool.overflow connector=%s dropped=%d (oldest first; max_samples=%d)"

    def __init__(self, path: Path, status: ConnectorStatus, max_items: int, thread_name: str) -> None:
        self.status = status
        self.outbox = SqliteOutbox(path, max_items=max_items)
        self._io = ThreadPoolExecutor(1, thread_name_prefix=thread_name)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._dropped_before = self.outbox.dropped
        status.spooled = len(self.outbox)  # left on disk by the last run: replayed before anything new
        if status.spooled:
            self._wake.set()
            self.logger.info(self.resume_line, status.name, status.spooled)

    def _account(self) -> None:
        """After the outbox changed (the caller holds the lock): its size and what it dropped, in the status."""
        self.status.spooled = len(self.outbox)
        if self.outbox.dropped != self._dropped_before:
            lost = self.outbox.dropped - self._dropped_before
            self.status.dropped += lost
            self.logger.error(self.overflow_line, self.status.name, lost, self.outbox.max_items)
            self._dropped_before = self.outbox.dropped

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def close(self) -> None:
        """Close the outbox after any call still running on its thread (blocks until then)."""
        self._io.submit(self.outbox.close).result()
        self._io.shutdown(wait=True)


class Spool(OutboxThread):
    """One connector's way onto the bus. ``offer`` never waits for the bus; ``drain`` runs as a task."""

    def __init__(self, bus: MemoryBus, path: Path, status: ConnectorStatus, max_samples: int) -> None:
        self.bus = bus
        super().__init__(path, status, max_samples, f"spool-{status.name}")

    async def offer(self, batch: list[Sample]) -> None:
        async with self._lock:
            if not len(self.outbox) and self.bus.has_room():
                await self.bus.publish(batch)  # does not suspend: every blocking queue has room
                return
            if not len(self.outbox):
                log.warning(
                    "spool.start connector=%s reason=bus full (store not keeping up)", self.status.name
                )
            await self._call(self.outbox.push, encode(batch))
            self._account()
            self._wake.set()

    async def drain(self) -> None:
        while True:
            await self._wake.wait()
            async with self._lock:
                items = await self._call(self.outbox.peek, DRAIN_BATCH)
                if not items:
                    self.status.spooled = 0
                    self._wake.clear()
                    log.info("spool.drained connector=%s", self.status.name)
                    continue
            await self.bus.publish(decode(items))  # may wait: the bus takes it when it can
            async with self._lock:
                await self._call(self.outbox.pop, len(items))
                self._account()
