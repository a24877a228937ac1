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

A message is one asset's part of a connector batch, in one of two forms (:func:`decode` reads both):

- **Floats, column by column** (a part whose values are all floats, a plant's measurements, the common case): the
  bytes ``\\x00WF1``, then little-endian ``u32`` samples ``n``, ``u32`` length ``k`` of a JSON list of the distinct
  paths, those ``k`` bytes, then the columns: ``n`` times ``i64`` microseconds, ``n`` times ``f64`` value, ``n`` times
  ``u32`` index into the paths, ``n`` times ``u8`` quality. 21 bytes a sample instead of about 70, and a worker
  takes the columns as they are (:func:`decode_floats`, numpy views of the payload) into its binary COPY, with no
  Python object per sample: decoding was a worker's largest cost per sample.
- **JSON rows** (any other part: ints, bools, text): a JSON list of ``[path, microseconds, value, quality]``.

A worker older than the column form refuses its messages (terminated, never delivered again): upgrade workers and
API replicas before edges (docs/cluster.md).

Its ``Nats-Msg-Id`` is a hash of subject and payload, so a batch an edge sends again (it did not hear the broker's
acknowledgement) is stored once within the stream's duplicate window; after it, the workers' idempotent upserts
make the copy harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import ssl
import struct
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import nats.errors
import numpy as np
import numpy.typing as npt
import orjson
from nats.aio.client import Callback, ErrorCallback
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType
from nats.js.api import StreamConfig as NatsStreamConfig
from nats.js.errors import NotFoundError

from werk.config.model import ClusterConfig
from werk.core.model import Sample, Value, to_micros
from werk.errors import ConfigError

SUBJECT_PREFIX = "werk.samples"
DUPLICATE_WINDOW_S = 120.0
SENT_HEADER = "Werk-Sent-Us"  # when the edge first published the batch, for the end-to-end lag
# on a batch the apps derived (werk.runtime.app_host): stored and shown like any, never fed to the apps again
DERIVED_HEADER = "Werk-Derived"
RECONNECT_S = 0.5  # between two attempts of a client to reach the broker it lost

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


FLOATS_MAGIC = b"\x00WF1"
_FLOATS_HEAD = struct.Struct("<4sII")  # magic, samples, bytes of the JSON list of paths
_FLOATS_BYTES = 8 + 8 + 4 + 1  # a sample's columns: microseconds, value, path index, quality


class Floats(NamedTuple):
    """Float samples column by column: sample ``k`` is ``paths[path_index[k]]`` at ``ts[k]`` (microseconds) with
    ``values[k]`` and ``quality[k]``."""

    paths: list[str]
    path_index: npt.NDArray[np.uint32]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]

    def rows(self) -> list[Row]:
        paths = self.paths
        return list(
            zip(
                [paths[i] for i in self.path_index.tolist()],
                self.ts.tolist(),
                self.values.tolist(),
                self.quality.tolist(),
                strict=True,
            )
        )


def join_floats(parts: Sequence[Floats]) -> Floats:
    """Several messages' columns as one (a worker's fetched group), the paths made distinct again."""
    if len(parts) == 1:
        return parts[0]
    where: dict[str, int] = {}
    index = []
    for f in parts:
        table = np.fromiter((where.setdefault(p, len(where)) for p in f.paths), np.uint32, len(f.paths))
        index.append(table[f.path_index])
    return Floats(
        list(where),
        np.concatenate(index),
        np.concatenate([f.ts for f in parts]),
        np.concatenate([f.values for f in parts]),
        np.concatenate([f.quality for f in parts]),
    )


def _encode_floats(rows: list[list[Any]]) -> bytes:
    where: dict[str, int] = {}
    index = [where.setdefault(r[0], len(where)) for r in rows]
    paths = orjson.dumps(list(where))
    _, ts, values, quality = zip(*rows, strict=True)
    return b"".join(
        (
            _FLOATS_HEAD.pack(FLOATS_MAGIC, len(rows), len(paths)),
            paths,
            np.array(ts, "<i8").tobytes(),
            np.array(values, "<f8").tobytes(),
            np.array(index, "<u4").tobytes(),
            np.array(quality, "u1").tobytes(),
        )
    )


def encode(samples: Sequence[Sample]) -> list[Message]:
    """A connector batch as messages, one per asset (subject), each asset's samples in the batch's order; a part
    whose values are all floats in columns, any other as JSON rows (module docstring)."""
    by_subject: dict[str, list[list[Any]]] = {}
    subjects: dict[str, str] = {}
    floats: dict[str, bool] = {}
    for s in samples:
        subject = subjects.get(s.path)
        if subject is None:
            subject = subjects[s.path] = subject_of(s.path)
        by_subject.setdefault(subject, []).append([s.path, to_micros(s.ts), s.value, int(s.quality)])
        if type(s.value) is not float:
            floats[subject] = False
    return [
        Message(
            subject, orjson.dumps(rows) if floats.get(subject) is False else _encode_floats(rows), len(rows)
        )
        for subject, rows in by_subject.items()
    ]


def decode_floats(payload: bytes) -> Floats | None:
    """A message in the column form as columns (read-only views of ``payload``); None for a message in JSON rows.
    Refuses (ValueError) a column form whose lengths or path indexes do not add up."""
    if not payload.startswith(FLOATS_MAGIC):
        return None
    if len(payload) < _FLOATS_HEAD.size:
        raise ValueError("a werk float batch cut short in its header")
    _, n, k = _FLOATS_HEAD.unpack_from(payload)
    start = _FLOATS_HEAD.size + k
    if len(payload) != start + n * _FLOATS_BYTES:
        raise ValueError(
            f"a werk float batch of {n} samples and {k} bytes of paths is {len(payload)} bytes long, "
            f"not {start + n * _FLOATS_BYTES}"
        )
    try:
        paths = orjson.loads(payload[_FLOATS_HEAD.size : start])
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"a werk float batch's paths are not JSON: {exc}") from None
    if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
        raise ValueError("a werk float batch's paths are not a JSON list of strings")
    ts = np.frombuffer(payload, "<i8", n, start)
    values = np.frombuffer(payload, "<f8", n, start + 8 * n)
    index = np.frombuffer(payload, "<u4", n, start + 16 * n)
    quality = np.frombuffer(payload, "u1", n, start + 20 * n)
    if n and int(index.max()) >= len(paths):
        raise ValueError(f"a werk float batch names path {int(index.max())} of {len(paths)}")
    return Floats(paths, index, ts, values, quality)


def decode(payload: bytes) -> list[Row]:
    """A message's rows, of either form; refuses (ValueError) what is not a werk batch."""
    floats = decode_floats(payload)
    if floats is not None:
        return floats.rows()
    try:
        rows = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"a werk batch is neither float columns nor JSON: {exc}") from None
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


def sign_in(cfg: ClusterConfig) -> dict[str, Any]:
    """The options of ``nats.connect`` that sign in to the broker and secure the link, as ``cfg`` says: TLS with
    its files, a user and password, a token or a credentials file. Secrets are read here, from the environment,
    when a process connects, and never logged. ConfigError names what is missing or unusable."""
    opts: dict[str, Any] = {}
    if cfg.nats_tls is not None:
        try:
            opts["tls"] = cfg.nats_tls.context()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cluster.nats_tls: the TLS files are unusable: {exc}") from exc
        opts["tls_hostname"] = urlsplit(cfg.nats).hostname

    def env(key: str, name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"cluster.{key}: the environment variable {name} is not set")
        return value

    if cfg.nats_user is not None and cfg.nats_password_env is not None:
        opts["user"], opts["password"] = cfg.nats_user, env("nats_password_env", cfg.nats_password_env)
    elif cfg.nats_token_env is not None:
        opts["token"] = env("nats_token_env", cfg.nats_token_env)
    elif cfg.nats_credentials is not None:
        if not os.access(cfg.nats_credentials, os.R_OK):
            raise ConfigError(f"cluster.nats_credentials: cannot read {cfg.nats_credentials}")
        opts["user_credentials"] = cfg.nats_credentials
    return opts


async def connect(
    cfg: ClusterConfig,
    name: str,
    *,
    error_cb: ErrorCallback | None = None,
    disconnected_cb: Callback | None = None,
    reconnected_cb: Callback | None = None,
) -> NatsClient:
    """A client of the cluster's broker, named ``name`` (what the broker's monitoring shows), signed in as
    :func:`sign_in` says. Once connected it reconnects by itself, every ``RECONNECT_S``, for as long as it is open.
    The first connection is the caller's to retry: it fails with the first error the client meets (a refused
    sign-in, a failed TLS handshake, no broker; ``nats.errors.Error`` or ``OSError``) or after two seconds, where
    nats-py alone would try again for ever and tell only ``error_cb``. A missing secret is a ConfigError."""
    opts = sign_in(cfg)
    nc = NatsClient()
    first: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    connected = False

    async def errors(exc: Exception) -> None:
        if connected:
            if error_cb is not None:
                await error_cb(exc)
        elif not first.done():
            first.set_result(exc)

    connecting: asyncio.Future[Any] = asyncio.ensure_future(
        nc.connect(
            cfg.nats,
            name=name,
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_S,  # type: ignore[arg-type]  # nats-py says int; it sleeps the float
            error_cb=errors,
            disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb,
            **opts,
        )
    )
    try:
        done, _ = await asyncio.wait(
            {connecting, first}, timeout=2 + RECONNECT_S, return_when=asyncio.FIRST_COMPLETED
        )
    except BaseException:  # the caller was cancelled: so is the attempt
        connecting.cancel()
        raise
    if connecting in done:
        connecting.result()
        connected = True  # from now on every error goes to the caller's error_cb
        return nc
    connecting.cancel()
    await asyncio.gather(connecting, return_exceptions=True)  # its own cancellation, not the caller's
    with contextlib.suppress(Exception):
        await nc.close()
    exc = first.result() if first.done() else TimeoutError(f"no answer from {cfg.nats} within 2 s")
    if isinstance(exc, nats.errors.Error | OSError | TimeoutError):
        raise exc
    raise nats.errors.Error(str(exc)) from exc


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
