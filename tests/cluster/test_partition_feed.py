"""The apps' feed of a cluster on a real NATS server: two members lease the partitions of six assets and each
handles the batches of its own assets from the durable log, in each asset's order; one member is killed in the middle
(no goodbye, batches taken and not acknowledged), the other takes its partitions over and goes on where the last
acknowledgement left off: every batch handled, none skipped, each member's view of an asset in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import nats

from tests.cluster.conftest import NatsServer
from tests.conftest import wait_until
from werk.bus.jetstream import encode, ensure_log
from werk.config.model import ClusterConfig
from werk.core.model import Sample
from werk.runtime.partition_feed import PartitionFeed, asset_subjects, consumer_name, ensure_app_consumers
from werk.runtime.partitions import PartitionLeases

T0 = datetime(2026, 7, 1, tzinfo=UTC)
ASSETS = [f"acme/s/a/l/c/m{k}" for k in range(6)]
PARTITIONS = 4
BATCHES = 40


async def test_members_handle_their_assets_in_order_and_one_takes_over_a_killed_ones(
    nats_server: NatsServer,
) -> None:
    cfg = ClusterConfig(nats=nats_server.url, ack_wait_s=1)
    subjects = asset_subjects(ASSETS)
    admin = await nats.connect(nats_server.url)
    js = admin.jetstream()
    await ensure_log(js, cfg)
    await ensure_app_consumers(js, cfg, subjects)
    await ensure_app_consumers(js, cfg, subjects)  # a second member starting: nothing made twice

    seen: dict[str, dict[str, list[int]]] = {"a": defaultdict(list), "b": defaultdict(list)}
    members = {}
    for name in ("a", "b"):
        nc = await nats.connect(nats_server.url)

        async def handle(batch: list[Sample], name: str = name) -> None:
            for s in batch:
                seen[name][s.path].append(int(s.value))  # type: ignore[call-overload]

        feed = PartitionFeed(nc.jetstream(), cfg, subjects, PARTITIONS, handle)
        leases = PartitionLeases(nc.jetstream(), name, PARTITIONS, ttl_s=1.5, on_change=feed.assign)
        members[name] = (nc, feed, leases, asyncio.create_task(leases.run()))
    try:
        await wait_until(
            lambda: (
                all(len(m[2].held) == 2 for m in members.values())
                and members["a"][2].held.isdisjoint(members["b"][2].held)
            ),
            timeout=15,
        )
        owned_by_b = members["b"][1].bound
        assert owned_by_b and members["a"][1].bound.isdisjoint(owned_by_b)
        for b in range(BATCHES):
            for path in ASSETS:
                for m in encode([Sample(f"{path}/n", T0 + timedelta(seconds=b), b)]):
                    await js.publish(m.subject, m.payload)
            if b == BATCHES // 2:  # b dies: its connection gone, what it took unacknowledged
                nc, feed, leases, task = members["b"]
                await nc.close()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await feed.close()
            await asyncio.sleep(0.02)

        def handled(path: str) -> set[int]:
            return set(seen["a"][f"{path}/n"]) | set(seen["b"][f"{path}/n"])

        await wait_until(lambda: all(handled(p) == set(range(BATCHES)) for p in ASSETS), timeout=30)
        assert members["a"][2].held == frozenset(range(PARTITIONS))
        for name in ("a", "b"):
            for values in seen[name].values():
                assert values == sorted(set(values)), (name, values)  # in order, none twice within a member
        assert any(seen["b"].values())  # b handled its share before it died
        for subject in subjects:
            info = await js.consumer_info(cfg.stream, consumer_name(subject))
            assert info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        for nc, feed, _leases, task in members.values():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await feed.close()
            if not nc.is_closed:
                await nc.close()
        await admin.close()
