"""Live values for a ``werk api`` replica: the edges' sample batches, as they pass through NATS, fed into the
replica's in-process bus, so its latest values, its SSE stream (``/api/stream``), the pages' live tiles and the
twin's bound elements move as they do in ``werk serve``.

A plain (core NATS) subscription to ``werk.samples.>``, not a JetStream consumer: the broker hands every message
published on those subjects to each subscriber as it passes, from memory, besides storing it in the stream. That is
the right contract for live values, where the newest sample wins and history is the historian's:

- it costs the stream nothing: no consumer state on the server per replica, no re-reads of the stream's files, and
  nothing kept for a replica's sake in a stream whose retention is "until the workers acknowledged it";
- at most once: a replica that falls behind drops messages (the client's pending limits below; counted in
  ``dropped``) instead of holding up the edges or the broker; a replica that was away sees what is published after
  it is back, and starts from the historian's newest values (:meth:`LiveFeed.run`);
- one subject per asset, one publishing connection per edge: each asset's batches arrive in the order its edge
  published them, as in the stream.

What it sees that the stream may not keep: a batch the stream refused (full) or that the edge sends again (it did not
hear the acknowledgement) reaches the replica twice; :class:`werk.runtime.latest.LatestValues` keeps the newer
sample per signal, so a repeat changes nothing shown as latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from werk.bus.jetstream import SUBJECT_PREFIX, connect, decode
from werk.bus.memory import MemoryBus
from werk.config.model import ClusterConfig
from werk.core.model import Quality, Sample, from_micros
from werk.runtime.latest import LatestValues
from werk.store.base import Historian

log = logging.getLogger(__name__)

RETRY_S = 0.5
MAX_RETRY_S = 5.0
PENDING_MESSAGES = (
    4096  # messages the client holds for this process at most; beyond, NATS drops (slow consumer)
)
PENDING_BYTES = 64 * 1024 * 1024


class LiveFeed:
    """Subscribes this process to the samples subjects and publishes each message's samples on ``bus``.

    Counters: ``messages`` and ``samples`` fed, ``dropped`` (times the client dropped messages for this process:
    it fell behind), ``rejected`` (messages that are no werk batch, skipped). ``ready`` is set once subscribed.
    """

    def __init__(
        self, cfg: ClusterConfig, bus: MemoryBus, live: LatestValues, historian: Historian | None = None
    ) -> None:
        self.cfg = cfg
        self.bus = bus
        self.live = live
        self.historian = historian
        self.messages = 0
        self.samples = 0
        self.dropped = 0
        self.rejected = 0
        self.ready = asyncio.Event()

    async def _connect(self) -> NatsClient:
        delay = RETRY_S
        while True:
            try:
                return await connect(self.cfg, "werk-api-live", error_cb=self._error)
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.warning("live.connect_failed nats=%s error=%r retry_in=%.1fs", self.cfg.nats, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _error(self, exc: Exception) -> None:
        if isinstance(exc, nats.errors.SlowConsumerError):
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("live.behind dropped=%d: this process's live values skip batches", self.dropped)
            return
        log.warning("nats.client_error error=%r", exc)

    async def run(self) -> None:
        """Subscribe, fill the latest values with the historian's newest samples (what was published before), then
        feed every message to the bus until cancelled. The client reconnects by itself and subscribes again."""
        nc = await self._connect()
        try:
            sub = await nc.subscribe(
                f"{SUBJECT_PREFIX}.>",
                pending_msgs_limit=PENDING_MESSAGES,
                pending_bytes_limit=PENDING_BYTES,
            )
            if self.historian is not None:
                # after subscribing, so nothing falls between; the newer sample wins either way
                try:
                    self.live.apply(await asyncio.to_thread(self.historian.latest))
                except Exception as exc:
                    log.warning("live.seed_failed error=%s", " ".join(str(exc).split()))
            self.ready.set()
            log.info("live.subscribed nats=%s subjects=%s.>", self.cfg.nats, SUBJECT_PREFIX)
            async for msg in sub.messages:
                await self.feed(msg)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    async def feed(self, msg: Msg) -> None:
        try:
            rows = decode(msg.data)
        except ValueError as exc:
            self.rejected += 1
            log.warning("live.rejected subject=%s error=%s", msg.subject, exc)
            return
        batch = [Sample(p, from_micros(ts), v, Quality(q)) for p, ts, v, q in rows]
        self.messages += 1
        self.samples += len(batch)
        await self.bus.publish(batch)
