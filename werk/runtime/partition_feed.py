"""The samples of the assets whose partitions this member holds (werk.runtime.partitions), from the durable log, in
each asset's order, to a handler (the stateful apps), each batch acknowledged only after the handler returned.

One durable pull consumer per asset subject (``werk-apps-<hash of the subject>``), made for every asset of the
plant file when any member starts (:func:`ensure_app_consumers`), so the stream keeps each asset's batches for the
apps from the start, whoever will process them, as it keeps them for the historian's workers (interest retention).
A member binds the consumers of the assets of the partitions it holds; one that gives a partition back stops them,
and the next holder binds the same consumers and goes on from the last acknowledgement. A batch taken and not
acknowledged (the member was killed) is delivered again after ``cluster.ack_wait_s``, to whoever holds the
partition then: the handler must be idempotent (the apps' events keyed; docs/cluster.md).

Order: one consumer per asset, read by one task that handles its messages one after the other, and the consumer
lets one message out at a time (``max_ack_pending=1``): with more out, a member taking over an asset would be
handed the messages after one its killed predecessor held before that one comes again (after ``ack_wait_s``), and
a state machine would see the asset's history out of order; a handler that
fails leaves the message and the ones after it unacknowledged (negative acknowledgement, in order), so they come
again in the same order; so does unbinding an asset in the middle of a fetched group. A fetched group handled
slowly (the apps being rebuilt) says it is still in progress every half ``ack_wait_s``; a message the broker
delivers again although it was handled through the same binding (its acknowledgement came late) is passed by. A batch the apps derived
(``DERIVED_HEADER``: the app host published it) is acknowledged unread: the apps that made it had it already.

One consumer per asset rather than one per partition: JetStream before 2.10 filters a consumer by one subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from werk.bus.jetstream import DERIVED_HEADER, decode, subject_of
from werk.config.model import ClusterConfig
from werk.core.model import Quality, Sample, from_micros
from werk.runtime.partitions import subject_partition

log = logging.getLogger(__name__)

FETCH = 1  # what the consumer lets out at a time anyway (max_ack_pending=1, below)
RETRY_S = 1.0

Handler = Callable[[list[Sample]], Awaitable[None]]


def consumer_name(subject: str) -> str:
    """The durable consumer of an asset's subject (a subject's dots may not be in a consumer's name)."""
    return "werk-apps-" + hashlib.blake2b(subject.encode(), digest_size=8).hexdigest()


def asset_subjects(asset_paths: Iterable[str]) -> list[str]:
    """The samples subjects of assets given by their UNS paths (enterprise/site/area/line/cell/asset)."""
    return sorted({subject_of(f"{p}/_") for p in asset_paths})


async def ensure_app_consumers(js: JetStreamContext, cfg: ClusterConfig, subjects: Iterable[str]) -> None:
    """Make each subject's durable consumer unless it exists (idempotent; any member may call it at start)."""
    for subject in subjects:
        name = consumer_name(subject)
        try:
            await js.consumer_info(cfg.stream, name)
        except NotFoundError:
            await js.add_consumer(
                cfg.stream,
                ConsumerConfig(
                    durable_name=name,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=cfg.ack_wait_s,
                    max_ack_pending=1,
                    max_deliver=-1,
                    filter_subject=subject,
                ),
            )


class PartitionFeed:
    """Binds and unbinds the asset consumers as the held partitions change (:meth:`assign` is the leases'
    ``on_change``). Counters: ``batches`` handled and acknowledged, ``failed`` handler errors. ``own``: the mark
    (``DERIVED_HEADER``) of the batches the handler's apps derived, passed by; None passes by every derived batch."""

    def __init__(
        self,
        js: JetStreamContext,
        cfg: ClusterConfig,
        subjects: Iterable[str],
        partitions: int,
        handle: Handler,
        *,
        own: str | None = None,
    ) -> None:
        self.js = js
        self.own = own
        self.cfg = cfg
        self.partitions = partitions
        self.handle = handle
        # a subject's partition, from the asset part of the subject (as partition_of maps an asset's path)
        self.subjects = {s: subject_partition(s, partitions) for s in subjects}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.batches = 0
        self.failed = 0

    @property
    def bound(self) -> frozenset[str]:
        return frozenset(self._tasks)

    async def assign(self, held: frozenset[int]) -> None:
        wanted = {s for s, p in self.subjects.items() if p in held}
        for subject in sorted(set(self._tasks) - wanted):
            task = self._tasks.pop(subject)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for subject in sorted(wanted - set(self._tasks)):
            self._tasks[subject] = asyncio.create_task(self._consume(subject), name=f"apps-{subject}")

    async def close(self) -> None:
        await self.assign(frozenset())

    async def _consume(self, subject: str) -> None:
        name = consumer_name(subject)
        while True:
            try:
                sub = await self.js.pull_subscribe_bind(durable=name, stream=self.cfg.stream)
                break
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.warning("apps.bind_failed subject=%s error=%r", subject, exc)
                await asyncio.sleep(RETRY_S)
        done = 0  # the stream sequence of the last message handled through this binding
        try:
            while True:
                try:
                    msgs = await sub.fetch(FETCH, timeout=1.0)
                    fetched = time.monotonic()
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except (nats.errors.Error, OSError) as exc:
                    log.debug("apps.fetch_failed subject=%s error=%r", subject, exc)
                    await asyncio.sleep(RETRY_S)
                    continue
                k = 0
                try:
                    for k, m in enumerate(msgs):
                        seq = m.metadata.sequence.stream
                        if seq <= done:  # handled, and delivered again as its acknowledgement came late
                            with contextlib.suppress(nats.errors.Error):
                                await m.ack()
                            continue
                        if time.monotonic() - fetched > self.cfg.ack_wait_s / 2:  # still ours: not yet again
                            fetched = time.monotonic()
                            for rest in msgs[k:]:
                                with contextlib.suppress(nats.errors.Error):
                                    await rest.in_progress()
                        if not await self._one(subject, m):
                            await self._nak(msgs[k:], RETRY_S)  # in order, again, after a pause
                            break
                        done = seq
                except asyncio.CancelledError:  # unbound (the partition went): the next holder gets them now
                    await self._nak(msgs[k:], 0)
                    raise
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _one(self, subject: str, m: Msg) -> bool:
        """Handle and acknowledge one message; False if the handler failed (it stays unacknowledged)."""
        derived = (m.headers or {}).get(DERIVED_HEADER)
        if derived and (
            self.own is None or derived == self.own
        ):  # these apps made it: not theirs to read again
            with contextlib.suppress(nats.errors.Error):
                await m.ack()
            return True
        try:
            rows = decode(m.data)
        except ValueError as exc:  # not a werk batch: the historian's workers set it aside too
            log.error("apps.rejected subject=%s error=%s", m.subject, exc)
            await m.term()
            return True
        try:
            await self.handle([Sample(p, from_micros(ts), v, Quality(q)) for p, ts, v, q in rows])
        except Exception as exc:
            self.failed += 1
            log.error("apps.handle_failed subject=%s error=%r", subject, exc)
            return False
        with contextlib.suppress(nats.errors.Error):
            await m.ack()
        self.batches += 1
        return True

    @staticmethod
    async def _nak(msgs: list[Msg], delay: float) -> None:
        for m in msgs:
            with contextlib.suppress(nats.errors.Error):
                await m.nak(delay=delay or None)
