"""The durable log's edges, in one process over a real broker and database: a full stream makes the edge spool (the
broker discards nothing), a message that is no werk batch cannot block the ones behind it, subjects per asset."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import numpy as np
import pytest

from tests.cluster.conftest import NatsServer
from tests.conftest import wait_until
from werk.bus.jetstream import (
    FLOATS_MAGIC,
    SUBJECT_PREFIX,
    decode,
    decode_floats,
    encode,
    join_floats,
    subject_of,
)
from werk.config.model import ClusterConfig, HistorianConfig, WerkConfig
from werk.connect.base import ConnectorStatus
from werk.core.model import Quality, Sample
from werk.runtime.edge import Edge
from werk.runtime.worker import Worker, _Group, _group_writer
from werk.store.postgres import PostgresHistorian
from werk.store.postgres_rollup import RollupHistorian

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def config(tmp_path: Path, pg_url: str, nats_url: str, **cluster: object) -> WerkConfig:
    return WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "acme",
                "sites": {
                    "s": {
                        "areas": {
                            "a": {"lines": {"l": {"cells": {"c": {"assets": {"m": {"kind": "machine"}}}}}}}
                        }
                    }
                },
            },
            "historian": HistorianConfig(backend="postgresql", url=pg_url, path=str(tmp_path / "w.db")),
            "cluster": ClusterConfig(nats=nats_url, ack_wait_s=2, **cluster),  # type: ignore[arg-type]
        }
    )


def test_each_asset_has_its_subject_and_a_batch_round_trips() -> None:
    a = "acme/hall.1/press/line-1/cell-1/press 7/force"
    assert subject_of(a) == f"{SUBJECT_PREFIX}.hall_1.press.press_7"
    batch = [Sample(a, T0, 1.5), Sample(a, T0 + timedelta(1), True, Quality.BAD), Sample("x/y", T0, "text")]
    messages = encode(batch)
    assert [(m.subject, m.rows) for m in messages] == [(subject_of(a), 2), (f"{SUBJECT_PREFIX}.x", 1)]
    rows = [r for m in messages for r in decode(m.payload)]
    assert rows == [(s.path, int(s.ts.timestamp() * 1_000_000), s.value, int(s.quality)) for s in batch]
    with pytest.raises(ValueError, match="not a werk sample row"):
        decode(b'[["x", "not a time", 1, 0]]')


def test_an_asset_whose_values_are_all_floats_travels_in_columns_that_the_worker_takes_as_they_are() -> None:
    a, b = "acme/s/a/l/c/m1/force", "acme/s/a/l/c/m1/speed"
    before = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    batch = [Sample(a, T0, 1.5), Sample(b, before, -0.0, Quality.BAD), Sample(a, T0, float("inf"))]
    batch += [Sample("acme/s/a/l/c/m2/on", T0, True)]  # another asset, not floats: JSON rows
    floats, rows = encode(batch)
    assert floats.payload.startswith(FLOATS_MAGIC) and floats.rows == 3 and rows.payload.startswith(b"[")
    assert len(floats.payload) < 3 * 21 + 80  # 21 bytes a sample and the paths once
    want = [
        (
            s.path,
            int((s.ts - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)),
            s.value,
            int(s.quality),
        )
        for s in batch
    ]
    assert decode(floats.payload) == want[:3] and decode(rows.payload) == want[3:]
    cols = decode_floats(floats.payload)
    assert cols is not None and decode_floats(rows.payload) is None
    assert cols.paths == [a, b] and cols.path_index.tolist() == [0, 1, 0] and cols.ts[1] == -1
    # a fetched group: the paths made distinct again, each sample still naming its own
    other = decode_floats(encode([Sample(b, T0, 2.0), Sample("acme/s/a/l/c/m1/x", T0, 3.0)])[0].payload)
    assert other is not None
    group = join_floats([cols, other])
    assert group.rows() == cols.rows() + other.rows() and group.paths == [a, b, "acme/s/a/l/c/m1/x"]
    assert np.array_equal(group.values[3:], [2.0, 3.0])


def test_a_float_batch_whose_lengths_or_paths_do_not_add_up_is_refused() -> None:
    payload = encode([Sample("acme/s/a/l/c/m/x", T0, 1.0), Sample("acme/s/a/l/c/m/x", T0, 2.0)])[0].payload
    paths = slice(12, 12 + len(b'["acme/s/a/l/c/m/x"]'))
    index = 12 + 20 + 16 * 2  # after the header, the paths, two times and two values
    bad = {
        "cut short in its header": payload[:6],
        "is 73 bytes long, not 74": payload[:-1],
        "paths are not JSON": payload[: paths.start] + b"\xff" * 20 + payload[paths.stop :],
        "paths are not a JSON list of strings": payload[: paths.start]
        + b"["
        + b"1" * 18
        + b"]"
        + payload[paths.stop :],
        "names path 5 of 1": payload[:index] + (5).to_bytes(4, "little") + payload[index + 4 :],
    }
    for error, message in bad.items():
        with pytest.raises(ValueError, match=error):
            decode(message)


def test_a_group_of_float_columns_and_json_rows_is_written_in_the_messages_order(pg_url: str) -> None:
    store = RollupHistorian(pg_url)
    store.open()
    try:
        write = _group_writer(store)
        path = "acme/s/a/l/c/m/x"
        as_int = decode(encode([Sample(path, T0, 7)])[0].payload)
        as_float = decode_floats(encode([Sample(path, T0, 2.5)])[0].payload)
        assert as_float is not None
        # the same key in two messages of one group: the later one stays, whichever form it came in
        assert write(_Group([as_int, as_float], [])) == 2
        assert [s.value for s in store.query_raw(path, T0, T0 + timedelta(seconds=1))] == [2.5]
        assert write(_Group([as_float, as_int], [])) == 2
        assert [s.value for s in store.query_raw(path, T0, T0 + timedelta(seconds=1))] == [7]
        # floats alone go in by the columns' own COPY
        direct = store.direct
        later = decode_floats(encode([Sample(path, T0 + timedelta(seconds=1), 1.0)])[0].payload)
        assert later is not None and write(_Group([later, later._replace(ts=later.ts + 1)], [])) == 2
        assert store.direct == direct + 1 and store.count_samples(path) == 3
    finally:
        store.close()


async def test_a_full_stream_makes_the_edge_spool_and_nothing_is_discarded(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    cfg = config(tmp_path, pg_url, nats_server.url, max_bytes=1024 * 1024)
    edge = Edge(cfg, connectors=[], spool_dir=tmp_path / "spool")
    await edge.start()
    pub = edge.publisher(ConnectorStatus(name="gen", type="synthetic", endpoint="test"))
    sent = 0
    for b in range(60):  # about 2.5 MB of batches into a stream of 1 MB, no worker yet
        await pub.offer(
            [
                Sample(f"a/s/r/l/c/m{b % 3}/v", T0 + timedelta(seconds=b, milliseconds=i), float(i))
                for i in range(800)
            ]
        )
        sent += 800
    assert edge.spooled() > 0 and pub.published < sent  # the broker refused what did not fit
    worker = Worker(cfg)
    task = asyncio.create_task(worker.run())
    try:
        await wait_until(lambda: worker.samples == sent and edge.spooled() == 0, timeout=60)
        h = PostgresHistorian(pg_url)
        h.open()
        assert h.count_samples() == sent and pub.status.dropped == 0
        h.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await edge.stop(drain_s=0)


async def test_a_message_that_is_no_werk_batch_is_set_aside_and_the_rest_flows(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    cfg = config(tmp_path, pg_url, nats_server.url)
    worker = Worker(cfg)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.publish(f"{SUBJECT_PREFIX}.a.b.c", b"{not json")
        await js.publish(f"{SUBJECT_PREFIX}.a.b.c", FLOATS_MAGIC + b"cut short")
        for m in encode([Sample("a/b/c/d/e/f/g", T0, 1.0)]):
            await js.publish(m.subject, m.payload)
        await wait_until(lambda: worker.samples == 1 and worker.rejected == 2, timeout=20)
        await asyncio.sleep(2.5)  # past ack_wait: the rejected ones are not delivered again
        assert worker.rejected == 2 and worker.messages == 1
        await nc.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Counting:
    """A connector without a protocol: ``batches`` batches of a counter per asset, then silence."""

    def __init__(self, batches: int) -> None:
        self.name = "counting"
        self.status = ConnectorStatus(name=self.name, type="synthetic", endpoint="test")
        self.batches = batches

    async def stream(self) -> AsyncIterator[list[Sample]]:
        for b in range(self.batches):
            yield [Sample(f"acme/s/a/l/c/m{k}/n", T0 + timedelta(seconds=b), b) for k in range(4)]
            self.status.samples += 4
        await asyncio.Event().wait()


async def test_the_edge_pumps_its_connectors_into_the_log_while_the_worker_writes(
    tmp_path: Path, pg_url: str, nats_server: NatsServer
) -> None:
    cfg = config(tmp_path, pg_url, nats_server.url)
    source = Counting(250)
    edge = Edge(cfg, connectors=[source], spool_dir=tmp_path / "spool")
    worker = Worker(cfg)
    task = asyncio.create_task(worker.run())
    await edge.start()
    try:
        await wait_until(lambda: worker.samples == 1000, timeout=30)
        assert edge.publishers["counting"].published == 1000 and edge.spooled() == 0
        h = PostgresHistorian(pg_url)
        h.open()
        assert [s.value for s in h.query_raw("acme/s/a/l/c/m3/n", T0, T0 + timedelta(hours=1))] == list(
            range(250)
        )
        h.close()
    finally:
        await edge.stop(drain_s=0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
