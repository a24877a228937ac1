"""Assets partitioned over the members that would run the stateful apps, by leases in a real NATS server's KV
bucket: every process maps an asset to the same partition, members share the partitions fairly and never both hold
one, a member that joins takes its share, and the partitions of a member killed without a goodbye are taken over
once its leases expire."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest
from nats.aio.client import Client as NatsClient

from tests.cluster.conftest import NatsServer
from tests.conftest import wait_until
from werk.runtime.partitions import PartitionLeases, partition_of

PARTITIONS = 8
TTL_S = 1.5


def test_every_process_maps_an_asset_to_the_same_partition_and_assets_spread() -> None:
    asset = "acme/hall-1/press/line-1/cell-1/press-7"
    p = partition_of(asset, 16)
    assert 0 <= p < 16
    assert partition_of(f"{asset}/force", 16) == partition_of(f"{asset}/state", 16) == p
    spread = Counter(partition_of(f"acme/s/a/l/c/m{k}", 16) for k in range(400))
    assert len(spread) == 16 and max(spread.values()) < 3 * min(spread.values())
    with pytest.raises(ValueError, match="at least 1"):
        partition_of(asset, 0)


class Member:
    """One member with its own connection; ``kill`` drops the connection first (no goodbye reaches the broker)."""

    def __init__(self, nc: NatsClient, name: str) -> None:
        self.nc = nc
        self.changes: list[frozenset[int]] = []
        self.leases = PartitionLeases(nc.jetstream(), name, PARTITIONS, ttl_s=TTL_S, on_change=self._changed)
        self.task = asyncio.create_task(self.leases.run())

    async def _changed(self, held: frozenset[int]) -> None:
        self.changes.append(held)

    async def kill(self) -> None:
        await self.nc.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@asynccontextmanager
async def member(url: str, name: str) -> AsyncIterator[Member]:
    nc = await nats.connect(url)
    m = Member(nc, name)
    try:
        yield m
    finally:
        if not nc.is_closed:
            m.task.cancel()
            await asyncio.gather(m.task, return_exceptions=True)
            await nc.close()


def disjoint_and_whole(*members: Member) -> bool:
    held = [m.leases.held for m in members]
    return sum(len(h) for h in held) == PARTITIONS and frozenset().union(*held) == frozenset(
        range(PARTITIONS)
    )


async def test_members_share_the_partitions_and_take_over_those_of_a_member_killed(
    nats_server: NatsServer,
) -> None:
    async with member(nats_server.url, "a") as a:
        await wait_until(lambda: a.leases.held == frozenset(range(PARTITIONS)), timeout=10)
        async with member(nats_server.url, "b") as b, member(nats_server.url, "c") as c:
            # fair shares of 8 over 3: 3, 3, 2; no partition held twice, none left out
            await wait_until(
                lambda: (
                    disjoint_and_whole(a, b, c) and sorted(len(m.leases.held) for m in (a, b, c)) == [2, 3, 3]
                ),
                timeout=15,
            )
            assert b.changes and c.changes and b.changes[-1] == b.leases.held
            await c.kill()
            # c's leases run out after the TTL; a and b take them over, four each
            await wait_until(
                lambda: disjoint_and_whole(a, b) and len(a.leases.held) == len(b.leases.held) == 4, timeout=15
            )
        # b left cleanly (its leases given back at once): a holds everything again
        await wait_until(lambda: a.leases.held == frozenset(range(PARTITIONS)), timeout=10)
