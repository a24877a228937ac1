"""``werk worker``: takes sample batches from the durable log, writes them to the historian, acknowledges each
message only after the transaction that holds it has committed.

N workers share one durable pull consumer: the broker hands each message to one of them. What a worker took but did
not acknowledge (killed by ``kill -9``, its database connection lost, the write refused) goes to a worker again
after ``cluster.ack_wait_s`` (or at once, when the worker could say so: a negative acknowledgement); the
historian's upserts on (signal, ts) make a batch written twice the same as once. So the guarantee is: every batch
the broker acknowledged to an edge is in the historian once, however often it was delivered.

Per-asset order: the stream keeps each asset's batches in order (one subject per asset), and one worker writes a
fetched group in one transaction; two workers may write two batches of one asset at the same time, which the
historian does not mind (its rows are keyed by time, not by arrival). A consumer whose logic needs arrival order
(an app's state machine) reads an asset's subject alone; see docs/cluster.md.

A message that is not a werk batch is terminated (never delivered again) and counted in ``rejected``; it cannot
block the messages behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import nats
import nats.errors
from nats.aio.msg import Msg

from werk.bus.jetstream import (
    SENT_HEADER,
    Floats,
    Row,
    connect,
    decode,
    decode_floats,
    ensure_log,
    join_floats,
)
from werk.config.model import WerkConfig
from werk.core.model import Quality, Sample, from_micros
from werk.runtime.rollups import keep_rollups_fresh
from werk.store import Historian, open_historian

log = logging.getLogger(__name__)

RETRY_S = 0.5
MAX_RETRY_S = 5.0  # the longest back-off, between attempts and after a failed write
LAGS_KEPT = 100_000


class _Group(NamedTuple):
    """A fetched group, decoded: each good message's samples (float columns, or rows), in the order they came."""

    parts: list[Floats | list[Row]]
    good: list[Msg]

    @property
    def samples(self) -> int:
        return sum(len(p.ts) if isinstance(p, Floats) else len(p) for p in self.parts)


def _group_writer(historian: Historian) -> Callable[[_Group], int]:
    """The historian's fastest way to write a decoded group in one transaction: float columns as they are where it
    takes them (PostgreSQL's binary COPY), else everything as rows in the messages' order (a key twice keeps the
    later value, as in any batch)."""
    write_floats = getattr(historian, "write_floats", None)
    rows_writer = getattr(historian, "write_rows", None)

    def write_rows(rows: list[Row]) -> int:
        if rows_writer is not None:
            return int(rows_writer(rows))
        return historian.write_samples([Sample(p, from_micros(ts), v, Quality(q)) for p, ts, v, q in rows])

    def write(group: _Group) -> int:
        floats = [p for p in group.parts if isinstance(p, Floats)]
        if write_floats is not None and len(floats) == len(group.parts):
            return int(write_floats(*join_floats(floats)))
        return write_rows([r for p in group.parts for r in (p.rows() if isinstance(p, Floats) else p)])

    return write


async def _client_error(exc: Exception) -> None:
    """The NATS client's own errors (a reconnect attempt refused while the broker is down): one line each, not the
    client's default traceback."""
    log.warning("nats.client_error error=%r", exc)


class Worker:
    """One worker: :meth:`run` until cancelled. Counters for the status line, tests and the benchmark."""

    def __init__(self, config: WerkConfig, name: str = "werk-worker") -> None:
        self.config = config
        self.cfg = config.cluster
        self.name = name
        self.historian: Historian | None = None
        self.samples = 0  # written and acknowledged
        self.messages = 0
        self.write_errors = 0
        self.rejected = 0
        self.redelivered = 0  # messages taken that had been delivered before
        self.lags_us: deque[int] = deque(maxlen=LAGS_KEPT)  # edge publish -> commit, per message
        self.first_write: float | None = None  # wall-clock s: the first write began, the last one committed
        self.last_commit: float | None = None
        # this process's CPU time (s, all threads) when it was ready and at its last commit: what its writing cost
        self.cpu_at_ready: float | None = None
        self.cpu_at_last_commit: float | None = None
        self.ready = asyncio.Event()

    async def _open_historian(self) -> Historian:
        delay = RETRY_S
        while True:
            try:
                return await asyncio.to_thread(open_historian, self.config.historian)
            except Exception as exc:
                log.warning("worker.historian_unavailable error=%s retry_in=%.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    def stats(self) -> dict[str, Any]:
        """The counters, the write rate between the first write and the last commit (samples/s), and the CPU time
        this process spent from ready to the last commit (s; with its rollup refreshes, which a worker does too)."""
        busy = (self.last_commit or 0.0) - (self.first_write or 0.0)
        return {
            "name": self.name,
            "samples": self.samples,
            "messages": self.messages,
            "write_errors": self.write_errors,
            "redelivered": self.redelivered,
            "rejected": self.rejected,
            "first_write": self.first_write,
            "last_commit": self.last_commit,
            "rate": self.samples / busy if busy > 0 else None,
            "cpu_s": self.cpu_at_last_commit - self.cpu_at_ready
            if self.cpu_at_last_commit is not None and self.cpu_at_ready is not None
            else 0.0,
            "lags_us": list(self.lags_us),
        }

    async def run(self, idle_exit_s: float | None = None) -> None:
        """Take, write and acknowledge batches until cancelled, or until the consumer had nothing for
        ``idle_exit_s`` seconds (a backfill that drains the stream and ends)."""
        self.historian = await self._open_historian()
        write = _group_writer(self.historian)
        delay = RETRY_S
        while True:
            nc = None
            try:
                nc = await connect(self.cfg, self.name, error_cb=_client_error)
                js = nc.jetstream(timeout=5.0)
                await ensure_log(js, self.cfg)
                sub = await js.pull_subscribe_bind(durable=self.cfg.consumer, stream=self.cfg.stream)
                break
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                if nc is not None:  # connected, but the stream or consumer could not be had: start over
                    with contextlib.suppress(Exception):
                        await nc.close()
                log.warning(
                    "worker.connect_failed nats=%s error=%r retry_in=%.1fs", self.cfg.nats, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
        self.cpu_at_ready = time.process_time()
        self.ready.set()
        log.info("worker.ready name=%s consumer=%s", self.name, self.cfg.consumer)
        # the minutes it writes are rolled up (by one worker at a time; werk.store.postgres_rollup)
        rollups = asyncio.create_task(keep_rollups_fresh(self.historian), name="rollups")
        try:
            delay = RETRY_S
            idle_since = time.monotonic()
            # the next group is fetched while this one is written: the broker's round trip and the database's
            # commit overlap (the prefetched messages' ack_wait runs meanwhile; it is seconds, a write is not)
            ahead = asyncio.create_task(sub.fetch(self.cfg.fetch_messages, timeout=1.0))
            # one group is written (in a thread) while the next is decoded here: writes never overlap, and each
            # group is acknowledged once its own transaction committed
            writing: asyncio.Task[bool] | None = None
            try:
                while True:
                    try:
                        msgs = await ahead
                        idle_since = time.monotonic()
                    except (nats.errors.TimeoutError, TimeoutError):
                        if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                            return
                        msgs = []
                    except (nats.errors.Error, OSError) as exc:  # the broker is away: the client reconnects
                        log.debug("worker.fetch_failed error=%r", exc)
                        await asyncio.sleep(RETRY_S)
                        msgs = []
                    ahead = asyncio.create_task(sub.fetch(self.cfg.fetch_messages, timeout=1.0))
                    group = await self._decode(msgs) if msgs else None
                    if writing is not None:
                        ok, writing = await writing, None
                        if ok:
                            delay = RETRY_S
                        else:
                            await asyncio.sleep(delay)
                            delay = min(delay * 2, MAX_RETRY_S)
                    if group is not None:
                        writing = asyncio.create_task(self._commit(group, write))
            finally:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
                if writing is not None:  # its thread goes on anyway: let it finish and acknowledge
                    with contextlib.suppress(BaseException):
                        await writing
        finally:
            rollups.cancel()
            with contextlib.suppress(BaseException):
                await rollups
            await self._close(nc)

    async def _decode(self, msgs: list[Msg]) -> _Group:
        """A fetched group's samples and the messages they came from; a message that is no werk batch is terminated
        (never delivered again) and counted."""
        group = _Group([], [])
        for m in msgs:
            try:
                floats = decode_floats(m.data)
                group.parts.append(floats if floats is not None else decode(m.data))
            except ValueError as exc:
                self.rejected += 1
                log.error("worker.rejected subject=%s error=%s", m.subject, exc)
                await m.term()
                continue
            group.good.append(m)
            if m.metadata.num_delivered > 1:
                self.redelivered += 1
        return group

    async def _commit(self, group: _Group, write: Callable[[_Group], int]) -> bool:
        """Write one group in one transaction, then acknowledge it; False if the write failed (the group is
        handed back at once, to whichever worker asks next)."""
        if self.first_write is None:
            self.first_write = time.time()
        try:
            await asyncio.to_thread(write, group)
        except Exception as exc:
            self.write_errors += 1
            log.error("worker.write_failed rows=%d error=%s", group.samples, " ".join(str(exc).split()))
            for m in group.good:
                with contextlib.suppress(nats.errors.Error):  # not heard: redelivered after ack_wait anyway
                    await m.nak(delay=RETRY_S)
            return False
        now = time.time_ns() // 1000
        for m in group.good:
            # committed but not acknowledged (the broker went away): redelivered, written again, nothing changes
            with contextlib.suppress(nats.errors.Error):
                await m.ack()
            sent = (m.headers or {}).get(SENT_HEADER)
            if sent:
                self.lags_us.append(now - int(sent))
        self.samples += group.samples
        self.messages += len(group.good)
        self.last_commit = time.time()
        self.cpu_at_last_commit = time.process_time()
        return True

    async def _close(self, nc: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)  # what it fetched and did not write goes to a worker again
        if self.historian is not None:
            await asyncio.to_thread(self.historian.close)
            self.historian = None
