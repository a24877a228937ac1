"""``werk edge``: the plant file's connectors, publishing their batches to the durable log (werk.bus.jetstream)
instead of an in-process bus; what the broker cannot take now waits in a spool on disk, in order.

A batch counts as sent once the broker has acknowledged it (JetStream stored it on disk); until then it is the
edge's, in memory for a moment and then in its spool (``werk.connect.outbox``, one SQLite file per connector). The
spool covers a broker that is down, restarting, unreachable or full (the stream refuses new batches at its
``max_bytes``): the connector keeps reading its source and nothing waits in a socket buffer. At the spool's limit
(``cluster.edge_spool_messages``) the oldest batches go, counted in the connector's ``dropped``.

Order: a batch is published directly only when nothing of its connector waits in the spool; otherwise it joins the
spool's tail, and the drain publishes the spool head first, one batch at a time, each awaited: an asset's batches
reach the stream in the order its connector produced them (an asset is read by one connector).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from werk.bus.jetstream import DERIVED_HEADER, SENT_HEADER, connect, encode, ensure_log, message_id
from werk.config.model import ClusterConfig, WerkConfig
from werk.connect import Connector, build_connectors
from werk.connect.base import ConnectorStatus
from werk.connect.outbox import Item
from werk.core.lifecycle import cancel_within
from werk.core.model import Sample
from werk.registry import Registry
from werk.runtime.spool import OutboxThread

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
RECONNECT_S = 0.5
MAX_RETRY_S = 5.0  # the longest wait between two attempts to reach the broker
DRAIN_BATCH = 200  # messages read back from the spool at once


class LogUnavailable(Exception):
    """The broker is not there now (not connected yet, reconnecting); the batch goes to the spool."""


class LogLink:
    """The edge's connection to NATS: made in the background and made again for as long as the edge runs."""

    def __init__(self, cfg: ClusterConfig, name: str = "werk-edge") -> None:
        self.cfg = cfg
        self.name = name
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()  # connected and the stream exists
        self._closing = False

    async def run(self) -> None:
        delay = RECONNECT_S
        while self.nc is None:
            nc = None
            try:
                nc = await connect(
                    self.cfg,
                    self.name,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
                js = nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
                await ensure_log(js, self.cfg)
                self.nc, self.js = nc, js
                self.ready.set()
                log.info("edge.connected nats=%s stream=%s", self.cfg.nats, self.cfg.stream)
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                if nc is not None:  # connected, but the stream could not be made: start over
                    with contextlib.suppress(Exception):
                        await nc.close()
                log.warning("edge.connect_failed nats=%s error=%r retry_in=%.1fs", self.cfg.nats, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _disconnected(self) -> None:
        if not self._closing:
            log.warning("edge.disconnected nats=%s", self.cfg.nats)

    async def _error(self, exc: Exception) -> None:
        log.warning("nats.client_error error=%r", exc)  # one line, not the client's default traceback

    async def _reconnected(self) -> None:
        log.info("edge.reconnected nats=%s", self.cfg.nats)

    async def publish(
        self, subject: str, payload: bytes, sent_us: int, *, derived: str | None = None
    ) -> None:
        """Publish and wait for the broker's acknowledgement; LogUnavailable (or the client's error) if not.
        ``derived``: which apps made the batch (werk.runtime.app_host: ``assets`` or ``plant``), so their own feed
        passes it by."""
        if self.js is None or self.nc is None or not self.nc.is_connected:
            raise LogUnavailable("not connected to the broker")
        headers = {"Nats-Msg-Id": message_id(subject, payload), SENT_HEADER: str(sent_us)}
        if derived is not None:
            headers[DERIVED_HEADER] = derived
        await self.js.publish(subject, payload, timeout=PUBLISH_TIMEOUT_S, headers=headers)

    async def close(self) -> None:
        self._closing = True
        if self.nc is not None:
            await self.nc.close()
            self.nc = self.js = None


_FAILURES = (LogUnavailable, nats.errors.Error, OSError, TimeoutError)


class LogPublisher(OutboxThread):
    """One connector's way onto the log. ``offer`` waits for the broker at most one publish timeout; ``drain``
    runs as a task."""

    logger = log
    resume_line = "edge.spool_resume connector=%s messages=%d"
    overflow_line = (
        "edge.spool_overflow connector=%s dropped_messages=%d (oldest first; edge_spool_messages=%d)"
    )

    def __init__(self, link: LogLink, path: Path, status: ConnectorStatus, max_messages: int) -> None:
        self.link = link
        self.published = 0  # samples the broker acknowledged
        self.messages = 0
        super().__init__(path, status, max_messages, f"edge-spool-{status.name}")

    async def offer(self, batch: list[Sample]) -> None:
        if not batch:
            return
        sent = time.time_ns() // 1000
        messages = encode(batch)
        async with self._lock:
            if not len(self.outbox):
                for i, m in enumerate(messages):
                    try:
                        await self.link.publish(m.subject, m.payload, sent)
                    except _FAILURES as exc:
                        log.warning("edge.spool_start connector=%s reason=%r", self.status.name, exc)
                        messages = messages[i:]
                        break
                    self._count(m.rows)
                else:
                    return
            # the spool keeps what publishing needs: subject, first send time, rows (its "topic"), payload
            await self._call(
                self.outbox.push, [(f"{m.subject} {sent} {m.rows}", m.payload) for m in messages]
            )
            self._account()
            self._wake.set()

    def _count(self, rows: int) -> None:
        self.messages += 1
        self.published += rows

    async def drain(self) -> None:
        delay = RECONNECT_S
        while True:
            await self._wake.wait()
            async with self._lock:
                items: list[Item] = await self._call(self.outbox.peek, DRAIN_BATCH)
                if not items:
                    self.status.spooled = 0
                    self._wake.clear()
                    log.info("edge.spool_drained connector=%s", self.status.name)
                    continue
            done = 0
            try:
                for topic, payload in items:
                    subject, sent, rows = topic.split(" ")
                    await self.link.publish(subject, payload, int(sent))
                    self._count(int(rows))
                    done += 1
                delay = RECONNECT_S
            except _FAILURES as exc:
                log.debug("edge.drain_wait connector=%s error=%r", self.status.name, exc)
            async with self._lock:
                if done:
                    await self._call(self.outbox.pop, done)
                self._account()
            if done < len(items):
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)


def _crashed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task.crashed task=%s error=%r", task.get_name(), task.exception())


class Edge:
    """The connectors of a plant file, each publishing through its :class:`LogPublisher`."""

    def __init__(
        self,
        config: WerkConfig,
        registry: Registry | None = None,
        connectors: list[Connector] | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.link = LogLink(config.cluster)
        self.connectors = build_connectors(config, registry) if connectors is None else connectors
        self.spool_dir = spool_dir or Path(config.spool.dir or f"{config.historian.path}.edge-spool")
        self.publishers: dict[str, LogPublisher] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._spawn("log-link", self.link.run())
        for c in self.connectors:
            self.publisher(c.status)
        for c in self.connectors:
            self._spawn(f"connector-{c.name}", self._pump(c))

    def publisher(self, status: ConnectorStatus) -> LogPublisher:
        """The publisher of a connector (made, with its drain task, on first use): tests and benchmarks offer
        batches through it without a protocol in between."""
        pub = self.publishers.get(status.name)
        if pub is None:
            pub = LogPublisher(
                self.link,
                self.spool_dir / f"{status.name}.db",
                status,
                self.config.cluster.edge_spool_messages,
            )
            self.publishers[status.name] = pub
            self._spawn(f"drain-{status.name}", pub.drain())
        return pub

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_crashed)
        self._tasks.append(task)

    async def _pump(self, connector: Connector) -> None:
        pub = self.publishers[connector.name]
        async for batch in connector.stream():
            await pub.offer(batch)

    def spooled(self) -> int:
        return sum(p.status.spooled for p in self.publishers.values())

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop the sources, give the spools ``drain_s`` to reach the broker (what is left is sent at the next
        start), then close."""
        await cancel_within([t for t in self._tasks if t.get_name().startswith("connector-")])
        try:
            async with asyncio.timeout(drain_s):
                while self.spooled():
                    await asyncio.sleep(0.05)
        except TimeoutError:
            log.warning("edge.stop spooled=%d (sent at the next start)", self.spooled())
        await cancel_within(self._tasks)
        self._tasks.clear()
        for pub in self.publishers.values():
            await asyncio.to_thread(pub.close)
        self.publishers.clear()
        await self.link.close()
