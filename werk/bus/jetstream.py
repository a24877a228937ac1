"""The durable log between edges and workers: NATS JetStream, one subject per asset.

Why JetStream (docs/cluster.md has the long form): a message stays in the stream until a worker acknowledges it,
so a worker killed between taking a batch and committing it loses nothing (the broker hands the batch to another
worker after ``ack_wait``); one subject per asset (``werk.samples.<site>.<area>.<asset>``) keeps each asset's
batches in the order its edge published them; the stream is on disk, so a broker restart loses nothing it
acknowledged to an edge. MQTT shared subscriptions balance load too, but a QoS 1 message is only as safe as the
session that holds it, and they promise no order across a reconnect.

The stream keeps messages while a consumer has not acknowledged them (interest retention) and refuses new ones at
``max_bytes`` (discard new): the edges then keep their batches in their spools, and nothing is thrown away
silently. The durable consumer the workers share is made by whoever comes first (an edge or a worker), so
batches published before any worker ever ran are kept for it.

A message is one asset's part of a connector batch: a JSON list of ``[path, microseconds, value, quality]``. Its
``Nats-Msg-Id`` is a hash of subject and payload, so a batch an edge sends again (it did not hear the broker's
acknowledgement) is stored once within the stream's duplicate window; after it, the workers' idempotent upserts
make the copy harmless.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType
from nats.js.api import StreamConfig as NatsStreamConfig
from nats.js.errors import NotFoundError

from werk.config.model import ClusterConfig
from werk.core.model import Sample, Value, to_micros

SUBJECT_PREFIX = "werk.samples"
DUPLICATE_WINDOW_S = 120.0
SENT_HEADER = "Werk-Sent-Us"  # when the edge first published the batch, for the end-to-end lag
# on a batch the apps derived (werk.runtime.app_host): stored and shown like any, never fed to the apps again
DERIVED_HEADER = "Werk-Derived"

Row = tuple[str, int, Value, int]  # path, microseconds, value, quality

_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def _token(segment: str) -> str:
    return _TOKEN.sub("_", segment) or "_"


def subject_of(path: str) -> str:
    """The subject of a signal's batches: ``werk.samples.<site>.<area>.<asset>`` for a UNS path
    enterprise/site/area/line/cell/asset/signal (characters NATS reserves become ``_``); a shorter path keeps its
    segments but the last."""
    parts = path.split("/")
    keys: tuple[str, ...] = (parts[1], parts[2], parts[5]) if len(parts) >= 7 else tuple(parts[:-1]) or ("_",)
    return ".".join((SUBJECT_PREFIX, *(_token(k) for k in keys)))


class Message(NamedTuple):
    subject: str
    payload: bytes
    rows: int  # samples in it


def encode(samples: Sequence[Sample]) -> list[Message]:
    """A connector batch as messages, one per asset (subject), each asset's samples in the batch's order."""
    by_subject: dict[str, list[list[Any]]] = {}
    subjects: dict[str, str] = {}
    for s in samples:
        subject = subjects.get(s.path)
        if subject is None:
            subject = subjects[s.path] = subject_of(s.path)
        by_subject.setdefault(subject, []).append([s.path, to_micros(s.ts), s.value, int(s.quality)])
    return [Message(subject, orjson.dumps(rows), len(rows)) for subject, rows in by_subject.items()]


def decode(payload: bytes) -> list[Row]:
    """A message's rows; refuses (ValueError) what is not a list of [path, microseconds, value, quality]."""
    rows = orjson.loads(payload)
    if not isinstance(rows, list):
        raise ValueError("a werk batch is a JSON list of [path, microseconds, value, quality]")
    out: list[Row] = []
    for r in rows:
        if not (isinstance(r, list) and len(r) == 4 and isinstance(r[0], str) and isinstance(r[1], int)):
            raise ValueError(f"not a werk sample row: {r!r:.80}")
        out.append((r[0], r[1], r[2], int(r[3])))
    return out


def message_id(subject: str, payload: bytes) -> str:
    return hashlib.blake2b(subject.encode() + b"\0" + payload, digest_size=16).hexdigest()


async def ensure_log(js: JetStreamContext, cfg: ClusterConfig) -> None:
    """Make the stream and the workers' durable consumer unless they exist (idempotent; edges and workers both
    call it at start, so whichever comes first makes them)."""
    try:
        await js.stream_info(cfg.stream)
    except NotFoundError:
        await js.add_stream(
            NatsStreamConfig(
                name=cfg.stream,
                subjects=[f"{SUBJECT_PREFIX}.>"],
                retention=RetentionPolicy.INTEREST,
                discard=DiscardPolicy.NEW,
                max_bytes=cfg.max_bytes,
                max_age=cfg.max_age_h * 3600,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
        )
    try:
        await js.consumer_info(cfg.stream, cfg.consumer)
    except NotFoundError:
        await js.add_consumer(
            cfg.stream,
            ConsumerConfig(
                durable_name=cfg.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=cfg.ack_wait_s,
                max_ack_pending=cfg.max_ack_pending,
                max_deliver=-1,
                filter_subject=f"{SUBJECT_PREFIX}.>",
            ),
        )
