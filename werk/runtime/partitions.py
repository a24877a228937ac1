"""Assets partitioned over the processes that run the stateful apps in a cluster, by leases in a NATS key-value
bucket: each asset belongs to one of ``partitions`` partitions (a stable hash of its samples subject, so every
process computes the same map from the plant file alone), and each partition to at most one live process at a time.

Why leases in the broker's KV store: the broker is there already, its KV bucket is a JetStream stream (on disk,
ordered per key), and ``create`` / ``update(last=revision)`` are compare-and-set, so two processes cannot both
believe they own a partition after a write each: the second write fails. The bucket's TTL makes a lease of a
process that died (``kill -9``, a lost network) expire on its own; nobody has to notice the death.

The protocol, every :data:`ttl_s` / 3 seconds per member:

1. write its member key ``member.<id>`` (a heartbeat; it expires with the process);
2. renew each lease it holds (``update`` with the revision it last wrote); a failed renewal means another member
   took the partition after this one's lease expired (it was paused longer than the TTL): the partition is dropped
   at once;
3. count the live members and take its fair share, ``ceil(partitions / members)``: release what it holds beyond it
   (a member joined), claim free partitions up to it (``create``: only if nobody holds the key);
4. when the set it holds changed, call ``on_change`` with the new set, so the caller starts and stops the
   partitions' consumers and recovers the apps' state of the assets it took.

Between a member's death and its leases' expiry (at most ``ttl_s``) its partitions run nowhere: their samples wait
in the stream (its consumers' interest keeps them) and are processed when another member takes them. A member
paused past its TTL may, for the moment between the other's claim and its own failed renewal, still process a batch
of a partition it lost; the apps' writes are idempotent (events keyed) so the batch processed twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from werk.bus.jetstream import subject_of

log = logging.getLogger(__name__)

BUCKET = "werk_app_partitions"
#: the one lease of the plant-wide apps (werk.runtime.app_host), beside the partitions' in the same bucket
PLANT_LEASE = "lease.plant"


def partition_of(signal_or_asset_path: str, partitions: int) -> int:
    """The partition of an asset (given its UNS path or any of its signals'): a stable hash of its samples subject
    (werk.bus.jetstream.subject_of), the same in every process and across restarts."""
    path = signal_or_asset_path if signal_or_asset_path.count("/") >= 6 else signal_or_asset_path + "/_"
    return subject_partition(subject_of(path), partitions)


def subject_partition(subject: str, partitions: int) -> int:
    """The partition of an asset's samples subject (``werk.samples.<site>.<area>.<asset>``)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    digest = hashlib.blake2b(subject.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partition_key(p: int) -> str:
    """The lease key of partition ``p``."""
    return f"lease.{p}"


class PartitionLeases:
    """One member's leases: :meth:`run` until cancelled (then its leases are released for the others at once).

    ``held`` is the set of partitions it holds now; ``on_change(held)`` is awaited whenever that set changed.
    ``key`` names each partition's lease in the bucket: one partition keyed :data:`PLANT_LEASE` is the plant-wide
    apps' single lease, held by one member at a time by the same protocol (its fair share is that one lease, so the
    first to claim it keeps it until it leaves or its lease expires).
    """

    def __init__(
        self,
        js: JetStreamContext,
        member: str,
        partitions: int,
        *,
        ttl_s: float = 10.0,
        on_change: Callable[[frozenset[int]], Awaitable[None]] | None = None,
        key: Callable[[int], str] = partition_key,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        self.js = js
        self.member = member
        self.partitions = partitions
        self.ttl_s = ttl_s
        self.on_change = on_change
        self.key = key
        self.held: frozenset[int] = frozenset()
        self._revisions: dict[int, int] = {}
        self._kv: KeyValue | None = None
        self.settled = asyncio.Event()  # set after a round that changed nothing

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(BUCKET)
            except nats.js.errors.BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    KeyValueConfig(bucket=BUCKET, ttl=self.ttl_s, history=1)
                )
        return self._kv

    async def run(self) -> None:
        try:
            while True:
                try:
                    changed = await self.round()
                except (nats.errors.Error, OSError, TimeoutError) as exc:  # the broker away: leases run out
                    log.warning("partitions.round_failed member=%s error=%r", self.member, exc)
                    changed = False
                if changed:
                    self.settled.clear()
                else:
                    self.settled.set()
                await asyncio.sleep(self.ttl_s / 3)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.release_all())

    async def members(self) -> list[str]:
        kv = await self._bucket()
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        return sorted(k.removeprefix("member.") for k in keys if k.startswith("member."))

    async def round(self) -> bool:
        """One turn of the protocol (module docstring); True if the partitions held changed."""
        kv = await self._bucket()
        await kv.put(f"member.{self.member}", b"")
        before = self.held
        for p, rev in list(self._revisions.items()):
            try:
                self._revisions[p] = await kv.update(self.key(p), self.member.encode(), last=rev)
            except nats.js.errors.KeyWrongLastSequenceError:
                log.warning("partitions.lost member=%s partition=%d", self.member, p)
                del self._revisions[p]
        live = max(1, len(await self.members()))
        share = math.ceil(self.partitions / live)
        for p in sorted(self._revisions, reverse=True)[: max(0, len(self._revisions) - share)]:
            await self._release(kv, p)
        # start at a different partition per member, so members starting together rarely race for the same keys
        offset = int.from_bytes(hashlib.blake2b(self.member.encode(), digest_size=4).digest(), "big")
        for i in range(self.partitions):
            if len(self._revisions) >= share:
                break
            p = (offset + i) % self.partitions
            if p in self._revisions:
                continue
            try:
                self._revisions[p] = await kv.create(self.key(p), self.member.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # held by another member
        self.held = frozenset(self._revisions)
        if self.held != before:
            log.info("partitions.held member=%s partitions=%s", self.member, sorted(self.held))
            if self.on_change is not None:
                await self.on_change(self.held)
            return True
        return False

    async def _release(self, kv: KeyValue, p: int) -> None:
        rev = self._revisions.pop(p)
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.APIError):
            await kv.delete(self.key(p), last=rev)

    async def release_all(self) -> None:
        """Give every lease back and leave (a clean stop: the others take the partitions at their next round)."""
        kv = await self._bucket()
        for p in list(self._revisions):
            await self._release(kv, p)
        with contextlib.suppress(Exception):
            await kv.delete(f"member.{self.member}")
        self.held = frozenset()
        if self.on_change is not None:
            await self.on_change(self.held)
