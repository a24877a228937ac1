"""Sparkplug B host application (Eclipse Sparkplug 3.0.0) on MQTT: edge node and device metrics become UNS samples.

References are to the *Sparkplug Specification* version 3.0.0 (Eclipse, 2022-11-16): chapter 4 "Topics and
Messages" (topic namespace ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]``; NBIRTH, NDATA,
NDEATH, DBIRTH, DDATA, DDEATH, NCMD; the host application's STATE topic ``spBv1.0/STATE/<host_id>``), chapter 5
"Operational Behavior" (host application session establishment: subscribe, then STATE birth, the will as STATE
death with the same timestamp; edge node session and bdSeq; sequence numbers 0..255 and the rebirth request,
``Node Control/Rebirth`` in an NCMD) and chapter 6 "Payloads" (the protobuf ``Payload`` and ``Metric``, aliases
given in a BIRTH and used instead of names afterwards, the datatypes and which value field carries each).

Why generated bindings: the payload is proto2 with nested oneofs and extension ranges; the official ``protobuf``
runtime decodes it exactly, refuses a truncated message with ``DecodeError`` and encodes our NCMDs, and a test can
build edge-node payloads with the same well-tested library. ``sparkplug_b_pb2.py`` was generated once from
eclipse/tahu's ``sparkplug_b.proto`` with ``grpcio-tools`` (``python -m grpc_tools.protoc --python_out=.
sparkplug_b.proto``) and is committed; nothing reads the .proto at run time. Its gencode version (5.29) is the
oldest protobuf runtime it loads on (``protobuf>=5.29.3``). Its type stub for mypy is derived from it by
``scripts/sparkplug-stub`` (``make`` runs it) and not committed.

Address grammar
---------------
An asset binding maps a signal to one metric (``SourceBinding.signals``, ``root`` put in front)::

    <group_id>/<edge_node_id>/<device_id>/<metric name>    a device's metric (DBIRTH/DDATA)
    <group_id>/<edge_node_id>//<metric name>               the edge node's own metric (NBIRTH/NDATA)

IDs hold no ``/``, ``+`` or ``#`` (section "Topic Namespace Elements"); a metric name may hold ``/``
(``Inputs/Temperature``). With ``root: "plant1/press-edge/press-1/"`` a signal reads ``force: Hydraulics/Force``.

Metrics no binding names can be mapped by rule (``auto_map``, ``werk.core.topic_map``'s templates over the address
above): a device that appears later is picked up from its DBIRTH without touching the plant file. Sparkplug's own
control metrics (``Node Control/*``, ``Device Control/*``, ``Properties/*``, ``bdSeq``) and datatypes that are not
signals are left out of rules silently; a metric name that makes no valid UNS path is reported once per topic per
minute.

Values follow the metric's datatype: integer types are ints (Int8..Int64 two's complement restored), Float and
Double floats, Boolean bools, String/Text/UUID text, DateTime ISO 8601 text (UTC). A metric sent with ``is_null``
has no value: a BAD sample carrying the signal's last value. Timestamps are the metric's,
else the payload's (epoch milliseconds). DataSet, Bytes, File, Template and arrays are not mapped (a binding to one
is reported). An NDEATH whose bdSeq matches the node's NBIRTH, or a DDEATH, marks the node's (device's) signals
BAD with their last values; a stale NDEATH (an older session's will) is ignored.

Malformed messages (undecodable or truncated protobuf, a missing ``seq``, an alias no BIRTH defined, a value in
the wrong field for its datatype) are counted in ``status.errors`` and logged once per topic per minute; a
sequence gap or an unknown alias also sends a rebirth request (at most one per node per ``rebirth_interval_s``).
So does data from an edge node not born this session (werk started or reconnected after it did), without counting
an error: that is how a late host learns the node's metrics; a node that leaves three such requests unanswered is
one. The connector never stops for a payload.

Writes (a signal the plant file lists as ``writable``) go out as commands: NCMD for the edge node's own metric,
DCMD for a device's, by the alias its BIRTH gave (else by name), the value in the field of the datatype that BIRTH
declared (:func:`command_payload`; a value that type cannot hold, NaN and infinities included, is refused before
anything is sent), QoS 0 and not retained, as chapter 6 requires of commands. A device's DDEATH or new DBIRTH drops
what its last BIRTH declared. Sparkplug has no answer to a command; the new value comes back in the node's DATA
once the machine applies it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

import aiomqtt
from google.protobuf.message import DecodeError
from pydantic import Field, model_validator

from werk.config.model import StrictModel
from werk.connect import sparkplug_b_pb2 as pb
from werk.connect.base import RateLimitedLog, SessionConnector
from werk.connect.mqtt import MAX_BATCH_MESSAGES, MqttConnectorConfig, _client, broker_status, counting_queue
from werk.connect.spec import ConnectorSpec, docs, types_of
from werk.core import topic_map
from werk.core.model import Quality, Sample, Value, utcnow
from werk.core.topic_map import TopicMap, TopicRule
from werk.errors import ConnectorError, PayloadError, TemplateError, UnsPathError


class SparkplugMapRuleConfig(StrictModel):
    """Metrics whose address (``<group>/<edge node>/<device>/<metric name>``, the binding grammar; the device level
    is empty for an edge node's own metrics) matches ``address`` feed the UNS path ``path``. Same template language
    as MQTT ``map`` rules (``werk.core.topic_map``), e.g. ``address: "acme/{edge}/{device}/{metric#}"``."""

    address: str = Field(min_length=1)
    """The metrics' shape, over ``<group>/<edge node>/<device>/<metric name>`` (``acme/{edge}/{device}/{metric#}``)."""
    path: str = Field(min_length=1)
    """The UNS paths' shape, with the address's captures."""

    @model_validator(mode="after")
    def _compiles(self) -> SparkplugMapRuleConfig:
        try:
            rule = TopicRule.compile(self.address, self.path)
        except TemplateError as exc:
            raise ValueError(str(exc).replace("topic template", "address template")) from None
        if rule.fields:
            raise ValueError("{field} is for JSON objects; a Sparkplug metric is one signal")
        return self


class SparkplugConfig(MqttConnectorConfig):
    """A Sparkplug B host application (Sparkplug 3.0) on an MQTT broker: the broker settings of ``mqtt`` plus
    ``host_id`` (its STATE topic ``spBv1.0/STATE/<host_id>``) and the groups to follow (none: every group).

    ``rebirth_interval_s`` is the least time between two rebirth requests to one edge node, so a node that keeps
    skipping sequence numbers is not flooded with NCMDs.
    """

    type: Literal["sparkplug"]  # type: ignore[assignment]  # the discriminator; everything else is MQTT's
    host_id: str = Field(min_length=1, pattern=r"^[^/+#]+$")
    """The host application's id: its STATE topic is ``spBv1.0/STATE/<host_id>``."""
    groups: list[Annotated[str, Field(min_length=1, pattern=r"^[^/+#]+$")]] = Field(default_factory=list)
    """The Sparkplug groups to follow; none: every group on the broker."""
    primary: bool = True
    """Act as a primary host application: publish STATE (online, and offline as the will), which edge nodes
    wait for before they publish."""
    rebirth_interval_s: float = Field(default=5.0, ge=0)
    """The least seconds between two rebirth requests to one edge node."""
    auto_map: list[SparkplugMapRuleConfig] = Field(default_factory=list)
    """Map the metrics no asset binds, by rule: devices that appear later are picked up from their births."""
    persistent_session: bool = False
    """Always false: Sparkplug 3.0 requires a clean session ("Persistent vs Non-Persistent Connections",
    [tck-id-principles-persistence-clean-session-311], -50 for MQTT 5). What a host misses while away it learns
    from the births its rebirth requests bring, not from a broker's queue."""

    @model_validator(mode="after")
    def _clean_start(self) -> SparkplugConfig:
        if self.persistent_session:
            raise ValueError(
                "a Sparkplug host application connects with a clean session (Sparkplug 3.0, Persistent vs "
                "Non-Persistent Connections)"
            )
        if self.map:
            raise ValueError("map rules are for JSON topics; a Sparkplug host maps metrics with auto_map")
        return self


log = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
REBIRTH_METRIC = "Node Control/Rebirth"
BDSEQ_METRIC = "bdSeq"
LOG_EVERY_S = 60.0
SEQ_MODULUS = 256  # seq runs 0..255 and wraps (chapter 5, "Sequence number")
_U32 = (1 << 32) - 1
# rebirth requests a node not born this session may leave unanswered before it is an error
UNANSWERED_REBIRTHS = 3
_U64 = (1 << 64) - 1
_FLOAT_MAX = 3.4028234663852886e38  # the largest finite 32-bit float
NODE_MESSAGES = frozenset({"NBIRTH", "NDATA", "NDEATH", "NCMD"})
DEVICE_MESSAGES = frozenset({"DBIRTH", "DDATA", "DDEATH", "DCMD"})

#: datatype -> (value fields that may carry it, bits of a signed integer to restore or 0)
_INTEGERS: dict[int, tuple[tuple[str, ...], int]] = {
    pb.Int8: (("int_value", "long_value"), 8),
    pb.Int16: (("int_value", "long_value"), 16),
    pb.Int32: (("int_value", "long_value"), 32),
    pb.Int64: (("long_value", "int_value"), 64),
    pb.UInt8: (("int_value", "long_value"), 0),
    pb.UInt16: (("int_value", "long_value"), 0),
    pb.UInt32: (("int_value", "long_value"), 0),
    pb.UInt64: (("long_value", "int_value"), 0),
}
_UNSIGNED_BITS: dict[int, int] = {pb.UInt8: 8, pb.UInt16: 16, pb.UInt32: 32, pb.UInt64: 64}
_SCALARS: dict[int, str] = {
    pb.Float: "float_value",
    pb.Double: "double_value",
    pb.Boolean: "boolean_value",
    pb.String: "string_value",
    pb.Text: "string_value",
    pb.UUID: "string_value",
}

#: what an auto_map rule maps: the datatypes that are one value (DataSet, Template, Bytes, File, arrays are not)
_SIGNAL_TYPES = frozenset(_INTEGERS) | frozenset(_SCALARS) | {pb.DateTime}
#: Sparkplug's own metrics (chapter 6, "Edge Node Control" / "Device Control" / "Properties"): not plant signals
_CONTROL_PREFIXES = ("Node Control/", "Device Control/", "Properties/")


@dataclass(frozen=True, slots=True)
class MetricAddress:
    """One parsed address: the metric of a device, or of the edge node itself when ``device`` is None."""

    group: str
    edge_node: str
    device: str | None
    metric: str


def parse_address(text: str) -> MetricAddress:
    """Parse the address grammar of this module's docstring; a ConnectorError says what is wrong."""
    parts = text.split("/", 3)
    if len(parts) < 4 or not all(parts[:2]) or not parts[3]:
        raise ConnectorError(
            f"sparkplug address {text!r}: expected '<group_id>/<edge_node_id>/<device_id>/<metric name>' "
            "or '<group_id>/<edge_node_id>//<metric name>' for an edge node's own metric"
        )
    group, edge, device, metric = parts
    for what, ident in (("group_id", group), ("edge_node_id", edge), ("device_id", device)):
        if any(c in ident for c in "+#"):
            raise ConnectorError(f"sparkplug address {text!r}: {what} {ident!r} holds '+' or '#'")
    return MetricAddress(group, edge, device or None, metric)


@dataclass(frozen=True, slots=True)
class Topic:
    """A Sparkplug topic (chapter 4, "Topic Namespace Elements"); ``device`` is None for node messages."""

    group: str
    message_type: str
    edge_node: str
    device: str | None = None


def parse_topic(topic: str) -> Topic | None:
    """The parts of a Sparkplug B topic, or None when the topic is not one (STATE included)."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        return None
    _, group, kind, edge, *rest = parts
    if (kind in NODE_MESSAGES and rest) or (kind in DEVICE_MESSAGES and not rest):
        return None
    if kind not in NODE_MESSAGES | DEVICE_MESSAGES:
        return None
    return Topic(group, kind, edge, rest[0] if rest else None)


def _datatype_name(datatype: int) -> str:
    """A Sparkplug datatype's name (``Int32``), or its number when the specification has none for it."""
    if datatype in pb.DataType.values():
        return pb.DataType.Name(pb.DataType.ValueType(datatype))
    return str(datatype)


def metric_value(metric: pb.Payload.Metric, datatype: int) -> Value:
    """A metric's value by its datatype (chapter 6, "Datatypes"); PayloadError when the wrong field carries it."""
    present = metric.WhichOneof("value")
    if datatype == pb.DateTime:
        if present not in ("long_value", "int_value"):
            raise PayloadError(f"DateTime in {present or 'no value field'}, expected long_value")
        ms = int(getattr(metric, present))
        return (
            datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    if datatype in _INTEGERS:
        fields, bits = _INTEGERS[datatype]
        if present not in fields:
            raise PayloadError(
                f"{_datatype_name(datatype)} in {present or 'no value field'}, expected {fields[0]}"
            )
        raw = int(getattr(metric, present))
        if bits:
            raw &= (1 << bits) - 1
            if raw >= 1 << (bits - 1):
                raw -= 1 << bits
        return raw
    expected = _SCALARS.get(datatype)
    if expected is None:
        name = _datatype_name(datatype)
        raise PayloadError(f"datatype {name} is not mapped to a signal")
    if present != expected:
        raise PayloadError(
            f"{_datatype_name(datatype)} in {present or 'no value field'}, expected {expected}"
        )
    value: Value = getattr(metric, present)
    return value


def rebirth_request(now_ms: int) -> bytes:
    """An NCMD payload asking an edge node for a new NBIRTH (chapter 5, "Rebirth Request")."""
    payload = pb.Payload(timestamp=now_ms)
    metric = payload.metrics.add(name=REBIRTH_METRIC, timestamp=now_ms, datatype=pb.Boolean)
    metric.boolean_value = True
    return payload.SerializeToString()


def command_payload(name: str, datatype: int, value: Value, now_ms: int, alias: int | None = None) -> bytes:
    """An NCMD/DCMD payload setting one metric (chapter 6, "NCMD"/"DCMD"), with the value in the field its datatype
    takes (the inverse of :func:`metric_value`). The metric goes by ``alias`` where its BIRTH gave one, name left
    out ([tck-id-payloads-alias-data-cmd-requirement]), else by name; no datatype, which the BIRTH declared
    ([tck-id-payloads-metric-datatype-not-req]). ValueError, naming the datatype, when the value does not fit it:
    out of range, not finite (a NaN setpoint is never what someone meant), or of another kind. A float with no
    fraction (5.0) is the integer it equals, as a scaled or ``xs:double`` value arrives."""
    payload = pb.Payload(timestamp=now_ms)
    metric = payload.metrics.add(timestamp=now_ms)
    if alias is None:
        metric.name = name
    else:
        metric.alias = alias
    type_name = _datatype_name(datatype)
    if datatype == pb.DateTime:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"a DateTime takes ISO 8601 text or epoch milliseconds, not {value!r}")
        stamp = value if isinstance(value, int) else _ms(_iso(value))
        if not 0 <= stamp <= _U64:
            raise ValueError(
                f"{value!r} is outside DateTime's range (1970 on, in unsigned 64-bit milliseconds)"
            )
        metric.long_value = stamp
    elif datatype in _INTEGERS:
        fields, bits = _INTEGERS[datatype]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{type_name} takes an integer, not {value!r}")
        low, high = _integer_range(datatype, bits)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {type_name}'s range {low}..{high}")
        setattr(metric, fields[0], value & (_U64 if fields[0] == "long_value" else _U32))  # two's complement
    elif datatype in (pb.Float, pb.Double):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{type_name} takes a number, not {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any double
            raise ValueError(f"{value} is outside {type_name}'s range") from None
        if not math.isfinite(number):
            raise ValueError(f"{type_name} takes a finite number, not {value!r}")
        if datatype == pb.Float and abs(number) > _FLOAT_MAX:
            raise ValueError(f"{value} is outside Float's range")
        setattr(metric, _SCALARS[datatype], number)
    elif datatype == pb.Boolean:
        if not isinstance(value, bool):
            raise ValueError(f"Boolean takes true or false, not {value!r}")
        metric.boolean_value = value
    elif datatype in _SCALARS:
        if not isinstance(value, str):
            raise ValueError(f"{type_name} takes text, not {value!r}")
        metric.string_value = value
    else:
        raise ValueError(f"datatype {type_name} is not written by werk")
    return payload.SerializeToString()


def _integer_range(datatype: int, bits: int) -> tuple[int, int]:
    """The values an integer datatype holds: signed by ``bits``, unsigned by its name's width."""
    if bits:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << _UNSIGNED_BITS[datatype]) - 1


def _iso(text: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time") from None
    if ts.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z for UTC)")
    return ts


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    """The host application's STATE payload (chapter 4, "Sparkplug Host Application" STATE): UTF-8 JSON."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":")).encode()


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _stamp(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class _EdgeNode:
    """What the host knows of one edge node's session (from its NBIRTH and DBIRTHs)."""

    bdseq: int | None = None
    seq: int | None = None
    online: bool = False
    born: bool = False  # an NBIRTH was seen this session (a node known only by a rebirth request was not)
    devices: set[str] = field(default_factory=set)
    aliases: dict[int, tuple[str | None, str]] = field(default_factory=dict)  # alias -> (device, metric name)
    # (device, metric name) -> alias
    alias_of: dict[tuple[str | None, str], int] = field(default_factory=dict)
    datatypes: dict[tuple[str | None, str], int] = field(default_factory=dict)
    last_rebirth: float = -float("inf")
    unanswered: int = 0  # rebirth requests sent while it was not born this session

    def forget_device(self, device: str) -> None:
        """Drop what a device's BIRTH declared (its death, or a new BIRTH that may declare other metrics)."""
        self.datatypes = {k: v for k, v in self.datatypes.items() if k[0] != device}
        self.alias_of = {k: v for k, v in self.alias_of.items() if k[0] != device}
        self.aliases = {a: k for a, k in self.aliases.items() if k[0] != device}


class SparkplugConnector(SessionConnector):
    """A Sparkplug B host application on one broker. ``bindings`` maps an address (grammar above) to a UNS path.

    Counters beyond ``status``: ``seq_gaps`` (sequence numbers that were not the next one), ``rebirths`` (rebirth
    requests sent), ``stale_deaths`` (NDEATHs of an older session, ignored), ``births_missed`` (messages of a node
    not yet born this session, skipped while its rebirth is asked for: werk started after the node, which is normal,
    so not ``status.errors``).
    """

    protocol = "sparkplug"
    logger = log

    def __init__(self, name: str, config: SparkplugConfig, bindings: Mapping[str, str]) -> None:
        super().__init__(broker_status(name, self.protocol, config), types_of(bindings))
        self.config = config
        self.bindings: dict[tuple[str, str, str | None, str], str] = {}
        for a, path in self._parsed(bindings, parse_address):
            if config.groups and a.group not in config.groups:
                self._bad_binding(
                    path, f"group {a.group!r} is not among the connector's groups {config.groups}"
                )
                continue
            self.bindings[(a.group, a.edge_node, a.device, a.metric)] = path
        self.auto_map = TopicMap([TopicRule.compile(r.address, r.path) for r in config.auto_map])
        self._auto_paths: dict[tuple[str, str, str | None, str], str | None] = {}
        self.state_topic = f"{NAMESPACE}/STATE/{config.host_id}"
        self.client_id = config.client_id or f"werk-{name}-{uuid.uuid4().hex[:8]}"
        self.nodes: dict[tuple[str, str], _EdgeNode] = {}
        self.seq_gaps = 0
        self.rebirths = 0
        self.stale_deaths = 0
        self.births_missed = 0
        self._rebirth_due: set[tuple[str, str]] = set()
        self._client: aiomqtt.Client | None = None  # while a session is up: commands go through it
        self._birth_ms = 0  # the timestamp of this session's STATE birth and will (epoch ms)
        self._complaints = RateLimitedLog(log, LOG_EVERY_S)

    # --- session ------------------------------------------------------------------------------------------

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    def _after_loss(self) -> None:
        self.nodes.clear()  # births missed while away: every node must be born again to us

    async def _session(self) -> AsyncIterator[list[Sample]]:
        async with self._connect() as client:
            self._client = client
            try:
                async for batch in self._batches(client):
                    yield batch
            finally:
                self._client = None

    async def write(self, path: str, value: Value) -> None:
        """Send ``value`` to the metric that feeds ``path`` as a command: DCMD for a device's metric, NCMD for the
        edge node's own (chapter 6), typed as the metric's BIRTH declared it, QoS 0 and not retained as the spec
        requires of commands.

        Sparkplug has no answer to a command, and QoS 0 none from the broker: this says the command left werk, not
        that the machine (or even the broker) took it. The edge node publishes the new value in its next DATA when
        it applies it, and werk shows that, as for every other connector. Refused (ConnectorError, nothing sent)
        while the session is down, before the node or device is born this session (its datatype is unknown), and
        for a value its datatype cannot hold.
        """
        client = self._client
        address = next((a for a, p in self.bindings.items() if p == path), None)
        if address is None:
            raise ConnectorError(
                f"{self.name}: {path} is not a signal of this connector; nothing was written"
            )
        group, edge, device, metric = address
        where = f"{group}/{edge}" + (f"/{device}" if device is not None else "")
        if client is None:
            raise ConnectorError(f"{self.name}: not connected to {self.status.endpoint}; nothing was written")
        node = self.nodes.get((group, edge))
        if node is None or not node.online or (device is not None and device not in node.devices):
            raise ConnectorError(
                f"{self.name}: {where} is not online (no BIRTH this session); nothing was written"
            )
        datatype = node.datatypes.get((device, metric))
        if datatype is None:
            raise ConnectorError(
                f"{self.name}: {where} declared no metric {metric!r} in its BIRTH; nothing was written"
            )
        try:
            payload = command_payload(
                metric, datatype, value, _ms(utcnow()), node.alias_of.get((device, metric))
            )
        except ValueError as exc:
            raise ConnectorError(f"{self.name}: {value!r} does not fit {where} {metric!r}: {exc}") from None
        topic = f"{NAMESPACE}/{group}/{'NCMD' if device is None else 'DCMD'}/{edge}"
        if device is not None:
            topic += f"/{device}"
        try:
            await client.publish(topic, payload, qos=0, retain=False)
        except aiomqtt.MqttError as exc:
            raise ConnectorError(
                f"{self.name}: the broker did not take the command to {where}: {exc}"
            ) from None
        log.info(
            "sparkplug.write connector=%s topic=%s metric=%s path=%s value=%r",
            self.name,
            topic,
            metric,
            path,
            value,
        )

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[aiomqtt.Client]:
        """Host session establishment (chapter 5): will = STATE offline, subscribe, then STATE online, retained.

        The will and the birth carry the same timestamp, which is how edge nodes tell a stale death from a new one.
        Leaving the session cleanly publishes the offline STATE itself, since the broker sends no will then.
        """
        cfg = self.config
        birth_ms = _ms(utcnow())
        client = _client(cfg, self.name, self.client_id, counting_queue(self.status))
        if cfg.primary:
            # aiomqtt takes the will only in its constructor, which the shared MQTT session setup builds
            client._client.will_set(self.state_topic, state_payload(False, birth_ms), qos=1, retain=True)
        async with client:
            filters = [f"{NAMESPACE}/{g}/#" for g in cfg.groups] or [f"{NAMESPACE}/#"]
            if cfg.groups:
                filters.append(self.state_topic)
            await client.subscribe([(f, int(cfg.qos)) for f in filters])
            if cfg.primary:
                await client.publish(self.state_topic, state_payload(True, birth_ms), qos=1, retain=True)
            self._birth_ms = birth_ms
            self.status.connected = True
            self.status.since = utcnow()
            log.info(
                "sparkplug.connected connector=%s endpoint=%s host_id=%s filters=%s",
                self.name,
                self.status.endpoint,
                cfg.host_id,
                ",".join(filters),
            )
            try:
                yield client
            finally:
                if cfg.primary:
                    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                        async with asyncio.timeout(cfg.timeout_s):
                            await client.publish(
                                self.state_topic, state_payload(False, birth_ms), qos=1, retain=True
                            )

    async def _batches(self, client: aiomqtt.Client) -> AsyncIterator[list[Sample]]:
        """One batch per wake-up: the message that woke us and every one already waiting behind it."""
        messages = client.messages
        while True:
            batch = await self._message(client, await anext(messages))
            for _ in range(min(len(messages), MAX_BATCH_MESSAGES)):
                batch.extend(await self._message(client, await anext(messages)))
            for group, edge in sorted(self._rebirth_due):
                await self._request_rebirth(client, group, edge)
            self._rebirth_due.clear()
            yield batch

    async def _message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> list[Sample]:
        topic = message.topic.value
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = str(payload).encode() if payload is not None else b""
        if topic == self.state_topic:
            await self._own_state(client, payload)
            return []
        parsed = parse_topic(topic)
        if parsed is None or parsed.message_type in ("NCMD", "DCMD"):
            return []  # another host's STATE, commands, or a topic outside the namespace
        try:
            return self.handle(parsed, payload)
        except PayloadError as exc:
            self._complain(topic, str(exc))
            return []

    async def _own_state(self, client: aiomqtt.Client, payload: bytes) -> None:
        """Someone (our own stale will, say) declared us offline while we are not: say otherwise (chapter 5)."""
        try:
            doc = json.loads(payload) if payload else {}
        except (ValueError, RecursionError):  # a payload nested past json's recursion is no state either
            doc = {}
        if self.config.primary and isinstance(doc, dict) and doc.get("online") is False:
            log.info("sparkplug.state.reassert connector=%s topic=%s", self.name, self.state_topic)
            await client.publish(self.state_topic, state_payload(True, self._birth_ms), qos=1, retain=True)

    async def _request_rebirth(self, client: aiomqtt.Client, group: str, edge: str) -> None:
        node = self.nodes.setdefault((group, edge), _EdgeNode())
        now = time.monotonic()
        if now - node.last_rebirth < self.config.rebirth_interval_s:
            return
        node.last_rebirth = now
        self.rebirths += 1
        topic = f"{NAMESPACE}/{group}/NCMD/{edge}"
        if not node.born:
            node.unanswered += 1
            if node.unanswered == UNANSWERED_REBIRTHS:
                self._complain(
                    topic,
                    f"edge node sends data but no NBIRTH after {UNANSWERED_REBIRTHS} rebirth requests; its data is"
                    " skipped until it is born",
                )
        log.info("sparkplug.rebirth connector=%s topic=%s", self.name, topic)
        await client.publish(topic, rebirth_request(_ms(utcnow())), qos=0, retain=False)

    # --- messages (no I/O: rebirths are queued for the session to send) -------------------------------------

    def handle(self, topic: Topic, raw: bytes) -> list[Sample]:
        """Samples of one Sparkplug message; updates the edge node's session state (aliases, seq, bdSeq)."""
        try:
            payload = pb.Payload.FromString(raw)
        except DecodeError as exc:
            raise PayloadError(
                f"not a Sparkplug B payload: {exc or 'truncated or corrupt protobuf'}"
            ) from None
        key = (topic.group, topic.edge_node)
        kind = topic.message_type
        if kind == "NDEATH":
            return self._node_death(key, payload)
        if kind == "NBIRTH":
            born = _EdgeNode(
                online=True, born=True, last_rebirth=self.nodes.get(key, _EdgeNode()).last_rebirth
            )
            born.bdseq = _bdseq(payload)
            self.nodes[key] = born
        node = self.nodes.get(key)
        if node is None or not node.born:
            # born before this session began (werk started or reconnected after the node): the spec's answer is a
            # rebirth request, and it is no fault of the message, so not an error on the connector's status (a
            # node that does not answer becomes one: _request_rebirth)
            if node is None and key not in self._rebirth_due:  # said once, not for every message until then
                log.info(
                    "sparkplug.birth_missed connector=%s group=%s edge_node=%s: %s before any NBIRTH this session;"
                    " asking for a rebirth",
                    self.name,
                    topic.group,
                    topic.edge_node,
                    kind,
                )
            self._rebirth_due.add(key)
            self.births_missed += 1
            return []
        if not node.online:  # after its NDEATH, before a new NBIRTH: out of the protocol
            self._rebirth_due.add(key)
            raise PayloadError(
                f"{kind} from edge node {topic.edge_node!r} after its NDEATH, before a new NBIRTH"
            )
        self._check_seq(key, node, payload)
        if kind == "DDEATH":
            node.devices.discard(topic.device or "")
            node.forget_device(topic.device or "")
            return self._bad(key, topic.device)
        if kind == "DBIRTH":
            node.devices.add(topic.device or "")
            node.forget_device(topic.device or "")  # a metric the new BIRTH leaves out is no longer there
        elif topic.device is not None and topic.device not in node.devices:
            self._rebirth_due.add(key)
            raise PayloadError(f"DDATA from device {topic.device!r} before its DBIRTH")
        return self._metrics(key, node, topic, payload, birth=kind.endswith("BIRTH"))

    def _check_seq(self, key: tuple[str, str], node: _EdgeNode, payload: pb.Payload) -> None:
        if not payload.HasField("seq"):
            raise PayloadError("payload has no seq")
        seq = payload.seq
        if node.seq is not None and seq != (node.seq + 1) % SEQ_MODULUS:
            self.seq_gaps += 1
            self._rebirth_due.add(key)
            log.warning(
                "sparkplug.seq_gap connector=%s group=%s edge_node=%s expected=%d got=%d",
                self.name,
                key[0],
                key[1],
                (node.seq + 1) % SEQ_MODULUS,
                seq,
            )
        node.seq = seq

    def _metrics(
        self, key: tuple[str, str], node: _EdgeNode, topic: Topic, payload: pb.Payload, *, birth: bool
    ) -> list[Sample]:
        now = utcnow()
        default_ts = _stamp(payload.timestamp) if payload.HasField("timestamp") else now
        out: list[Sample] = []
        problems: list[str] = []
        for m in payload.metrics:
            if m.HasField("name"):
                name = m.name
                if birth and m.HasField("alias"):
                    node.aliases[m.alias] = (topic.device, name)
                    node.alias_of[(topic.device, name)] = m.alias
            elif m.HasField("alias") and m.alias in node.aliases:
                owner, name = node.aliases[m.alias]
                if owner != topic.device:
                    problems.append(f"alias {m.alias} belongs to {owner or 'the edge node'}")
                    continue
            else:
                self._rebirth_due.add(key)
                problems.append(
                    f"metric with unknown alias {m.alias}"
                    if m.HasField("alias")
                    else "metric without name or alias"
                )
                continue
            if birth and m.HasField("datatype"):
                node.datatypes[(topic.device, name)] = m.datatype
            address = (*key, topic.device, name)
            path = self.bindings.get(address)
            by_rule = path is None
            if by_rule:
                path = self._auto_path(address, problems)
            if path is None:
                continue
            stamp = _stamp(m.timestamp) if m.HasField("timestamp") else default_ts
            # the metric has no value now (chapter 6, Metric is_null): not its last one, good
            if m.is_null:
                if path in self._ledger.last:
                    out.append(Sample(path, stamp, self._ledger.last[path], Quality.BAD))
                continue
            born = node.datatypes.get((topic.device, name))
            datatype = m.datatype if m.HasField("datatype") else born
            if born is not None and datatype != born:
                problems.append(f"metric {name!r}: datatype {datatype} is not its BIRTH's {born}")
                continue
            if datatype is None:
                problems.append(f"metric {name!r} has no datatype (neither here nor in its BIRTH)")
                continue
            if by_rule and datatype not in _SIGNAL_TYPES:
                continue  # a DataSet, Template, array...: nobody asked for it by name
            try:
                value = metric_value(m, datatype)
            except PayloadError as exc:
                problems.append(f"metric {name!r}: {exc}")
                continue
            out.append(Sample(path, stamp, value))
        if problems:
            self._complain(_topic_text(topic), "; ".join(problems))
        return out

    def _auto_path(self, address: tuple[str, str, str | None, str], problems: list[str]) -> str | None:
        """The path an ``auto_map`` rule gives an unbound metric (cached, misses too: births repeat names)."""
        if not self.auto_map.rules:
            return None
        try:
            return self._auto_paths[address]
        except KeyError:
            pass
        group, edge, device, name = address
        path = None
        if not name.startswith(_CONTROL_PREFIXES) and name != "bdSeq":
            found = self.auto_map.lookup(f"{group}/{edge}/{device or ''}/{name}")
            if found is not None:
                try:
                    path = found[0].resolve(found[1])
                except UnsPathError as exc:
                    problems.append(f"metric {name!r}: auto_map rule {found[0].topic!r}: {exc}")
                    return None  # not cached: it is reported again (rate-limited) until the device renames it
                log.info(
                    "sparkplug.mapped connector=%s metric=%s/%s/%s/%s path=%s", self.name, *address, path
                )
        self._auto_paths[address] = path
        return path

    def _node_death(self, key: tuple[str, str], payload: pb.Payload) -> list[Sample]:
        """NDEATH (chapter 5, "Edge Node Session Termination"): honoured only with the current session's bdSeq."""
        node = self.nodes.get(key)
        value = _bdseq(payload)
        if (
            node is None
            or not node.online
            or (value is not None and node.bdseq is not None and value != node.bdseq)
        ):
            self.stale_deaths += 1
            log.info(
                "sparkplug.stale_death connector=%s group=%s edge_node=%s bdseq=%s current=%s",
                self.name,
                key[0],
                key[1],
                value,
                None if node is None else node.bdseq,
            )
            return []
        node.online = False
        node.devices.clear()
        return self._bad(key, None, whole_node=True)

    def _bad(self, key: tuple[str, str], device: str | None, *, whole_node: bool = False) -> list[Sample]:
        """BAD samples, with their last values, for the signals of a device (or of a node and all its devices)."""
        now = utcnow()
        mapped = [(a, p) for a, p in self._auto_paths.items() if p is not None]
        return [
            Sample(path, now, self._ledger.last[path], Quality.BAD)
            for (group, edge, dev, _), path in [*self.bindings.items(), *mapped]
            if (group, edge) == key and (whole_node or dev == device) and path in self._ledger.last
        ]

    def _complain(self, topic: str, reason: str) -> None:
        self.status.errors += 1
        self.status.last_error = f"{topic}: {reason}"
        self._complaints.warning(
            topic, "sparkplug.payload connector=%s topic=%s error=%s", self.name, topic, reason
        )


def _bdseq(payload: pb.Payload) -> int | None:
    """The ``bdSeq`` metric of an NBIRTH or NDEATH (chapter 5, "Edge Node Session Establishment"), if any."""
    metric = next((m for m in payload.metrics if m.name == BDSEQ_METRIC), None)
    return None if metric is None else int(metric.long_value or metric.int_value)


def _topic_text(topic: Topic) -> str:
    text = f"{NAMESPACE}/{topic.group}/{topic.message_type}/{topic.edge_node}"
    return f"{text}/{topic.device}" if topic.device is not None else text


#: a binding's ``root`` is the prefix of ``group/edge_node/device/metric`` (``root: "plant1/press-edge/press-1/"``)
SPEC = ConnectorSpec.of(
    SparkplugConfig, SparkplugConnector, title="Sparkplug B", reference=docs(__doc__, topic_map.__doc__)
)
