"""The apps in a cluster, end to end on a real NATS server and PostgreSQL: two ``werk worker`` processes with
``cluster.apps`` share six assets' partitions and run machine state and OEE over their own assets; state batches
are published to the log as an edge does, and one worker is killed with ``kill -9`` halfway. The other takes its
partitions over and goes on from what the store holds: every state change and every stop change is stored as an
event exactly once (the keys a single uninterrupted run gives, none missing, none more), the derived
``machine_state`` samples went back through the log into the historian (the timeline, nothing ``disconnected``),
and the killed worker had done its share before it died."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import cluster_plant
from tests.cluster.test_faults import Workers
from werk.apps.oee.app import _key as downtime_key
from werk.apps.oee.stops import StopTracker
from werk.bus.jetstream import encode
from werk.core.model import Sample, event_key, to_micros
from werk.runtime.partitions import BUCKET, PLANT_LEASE, partition_of

T0 = datetime(2026, 6, 1, 6, tzinfo=UTC)
ASSETS = [f"acme/hall-1/press/line-1/cell-1/press-{n}" for n in range(6)]
# a cycle of states with stops of one and of two states, and a state that goes on over several batches
CYCLE = ["running", "running", "fault", "fault", "maintenance", "running", "idle", "running"]
BATCHES = 48
PARTITIONS = 8


def plant_file(tmp_path: Path, pg_url: str, nats_url: str) -> Path:
    return cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name="werk",
        presses=[a.rsplit("/", 1)[1] for a in ASSETS],
        cluster=f"""\
  ack_wait_s: 2
  fetch_messages: 16
  apps: true
  app_partitions: {PARTITIONS}
  app_lease_ttl_s: 1.5
""",
        more="""\
apps:
  alarms: {enabled: false}
  maintenance: {enabled: false}
  production_orders: {enabled: false}
  stock: {enabled: false}
""",
    )


def state_at(b: int) -> str:
    return CYCLE[b % len(CYCLE)]


def expected() -> tuple[set[str], set[str], dict[str, list[tuple[int, str]]]]:
    """What one instance fed every batch once, without a break, stores: the state events' keys, the downtime
    events' keys, and each asset's machine_state timeline."""
    states: set[str] = set()
    stops: set[str] = set()
    timeline: dict[str, list[tuple[int, str]]] = {}
    for path in ASSETS:
        name = path.rsplit("/", 1)[1]
        tracker = StopTracker(name)
        previous = None
        for b in range(BATCHES):
            ts, new = T0 + timedelta(seconds=10 * b), state_at(b)
            if new == previous:
                continue
            previous = new
            states.add(event_key("machine_state", name, "state", ts, new))
            timeline.setdefault(f"{path}/machine_state", []).append((to_micros(ts), new))
            stops.update(downtime_key(s, "changed") for s in tracker.on_state(ts, new))
    return states, stops, timeline


def stored(pg_url: str) -> tuple[list[str], list[str], dict[str, list[tuple[int, str]]]]:
    with psycopg.connect(pg_url) as c:
        states = [k for (k,) in c.execute("SELECT key FROM event WHERE kind = 'state'").fetchall()]
        # a stop's changes (its "unqualified" notice depends on the wall clock: keyed once per stop, not counted)
        stops = [
            k
            for (k,) in c.execute("SELECT key FROM event WHERE kind = 'downtime'").fetchall()
            if "/downtime.changed/" in k
        ]
        rows = c.execute(
            "SELECT g.path, x.ts, x.s FROM sample x JOIN signal g ON g.id = x.signal_id "
            "WHERE g.path LIKE '%/machine_state' ORDER BY g.path, x.ts"
        ).fetchall()
    timeline: dict[str, list[tuple[int, str]]] = {}
    for path, ts, s in rows:
        timeline.setdefault(path, []).append((ts, s))
    return states, stops, timeline


async def holders(js: nats.js.JetStreamContext) -> dict[int, str]:
    """Partition -> the member that holds its lease now."""
    try:
        kv = await js.key_value(BUCKET)
        keys = await kv.keys()
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.NoKeysError):  # not made yet, or empty
        return {}
    out = {}
    for k in keys:
        if k.startswith("lease.") and k != PLANT_LEASE:  # the partitions' (not the plant-wide apps' lease)
            try:
                with_value = await kv.get(k)
            except nats.js.errors.KeyNotFoundError:  # given back since it was listed
                continue
            if with_value.value:
                out[int(k.removeprefix("lease."))] = with_value.value.decode()
    return out


async def wait_for(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


@pytest.mark.timeout(180)
async def test_apps_of_a_killed_worker_go_on_in_the_other_with_each_event_once(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    plant = plant_file(tmp_path, pg_url, nats_server.url)
    workers = Workers(plant, tmp_path)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    want_states, want_stops, want_timeline = expected()

    async def publish(batches: range) -> None:
        for b in batches:
            for path in ASSETS:
                for m in encode([Sample(f"{path}/state", T0 + timedelta(seconds=10 * b), state_at(b))]):
                    await js.publish(m.subject, m.payload)
            await asyncio.sleep(0.03)

    try:
        workers.start("w1")
        workers.start("w2")
        await workers.ready("w1", "w2", timeout=60)

        async def shared() -> bool:
            held = await holders(js) if "w2" in (await _members(js)) else {}
            return len(held) == PARTITIONS and set(held.values()) == {"w1", "w2"}

        await wait_for("both workers hold partitions", shared, 30)
        w1_assets = {a for a in ASSETS if (await holders(js)).get(partition_of(a, PARTITIONS)) == "w1"}
        assert w1_assets and w1_assets != set(ASSETS)

        await publish(range(BATCHES // 2))

        async def w1_worked() -> bool:
            states, _, _ = stored(pg_url)
            return any(k.split("/")[1] in {a.rsplit("/", 1)[1] for a in w1_assets} for k in states)

        await wait_for("w1 handles its assets", w1_worked, 30)
        workers.kill("w1")  # kill -9: what it took and did not acknowledge is delivered again, to w2
        await publish(range(BATCHES // 2, BATCHES))

        async def taken_over() -> bool:
            return set((await holders(js)).values()) == {"w2"} and len(await holders(js)) == PARTITIONS

        await wait_for("w2 takes w1's partitions", taken_over, 30)

        async def complete() -> bool:
            states, stops, timeline = stored(pg_url)
            return set(states) >= want_states and set(stops) >= want_stops and timeline == want_timeline

        with contextlib.suppress(AssertionError):  # the comparisons below say what differs
            await wait_for("every event and derived sample stored", complete, 40)
        states, stops, timeline = stored(pg_url)
        assert sorted(want_states - set(states)) == [], "state changes missing"
        missing = sorted(want_stops - set(stops))
        assert missing == [], f"stop changes missing: {missing}"
        # each cause once: the keys of one uninterrupted run, no other event, none twice
        assert sorted(set(states) - want_states) == [], "state changes no uninterrupted run makes"
        assert sorted(states) == sorted(want_states)
        assert sorted(stops) == sorted(want_stops)
        assert timeline == want_timeline  # the derived states, through the log, by the historian's workers
    finally:
        workers.stop()
        await nc.close()


async def _members(js: nats.js.JetStreamContext) -> set[str]:
    try:
        kv = await js.key_value(BUCKET)
        return {k.removeprefix("member.") for k in await kv.keys() if k.startswith("member.")}
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.NoKeysError):
        return set()
