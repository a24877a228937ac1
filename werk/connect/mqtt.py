"""MQTT connector (aiomqtt): bound topics carrying JSON values become UNS samples; and a publisher for werk's own.

Topic rules follow MQTT 3.1.1 section 4.7 (and MQTT 5.0 section 4.7, which keeps them): a topic name is UTF-8, at
least one character, at most 65535 bytes (section 1.5.3), and holds no wildcard ``+`` or ``#``; topics starting
with ``$`` are the broker's own (section 4.7.2). Each bound topic feeds exactly one signal, so bindings name topics,
not filters. The connector's ``map`` rules (``werk.core.topic_map``) cover the rest: each subscribes with its filter
and turns every matching topic into a UNS path; an exact binding wins over a rule for the same topic, and a bound
topic that a rule's filter already covers gets no subscription of its own (a broker may deliver a message once per
matching subscription, section 3.3.5).

Payloads (JSON, RFC 8259), one of:

* a bare value: ``42.1``, ``"running"``, ``true``; stamped with the time it was received (and UNCERTAIN when it
  is a retained message, whose age nobody knows);
* an object ``{"value": 42.1, "ts": "2026-01-02T03:04:05.123Z", "quality": "good"}``; ``ts`` is ISO 8601 with a
  UTC offset, or epoch milliseconds (a number); ``quality`` is ``good``, ``uncertain`` or ``bad``; both optional;
  other keys are ignored (devices add their own);
* a batch: a JSON array of such objects, each with its ``ts`` (samples of one batch without their own stamps would
  all share the receive time, and a sample's identity is its (signal, time)).

A rule whose path holds ``{field}`` reads one more form: an object whose scalar members are signals, with optional
``ts`` and ``quality`` for all of them (``{"temperature": 21.5, "humidity": 40, "ts": 1767225600000}``), or an array of
such objects, each with its ``ts``. Members holding null, objects or arrays are a device's own structures and are
skipped without complaint.

Values keep their JSON type: a string is text however it reads (``"0001"``, ``"123456.20"``), a number a number. A
binding's ``types`` converts them (``"21.5"`` declared ``float``); a signal declared ``str`` keeps a JSON number's
own text (``123456.20``, not ``123456.2``).

Anything else is malformed: counted in ``status.errors``, logged once per topic per minute with the reason, skipped;
in a batch only the bad items are skipped. The connector never stops for a payload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import ssl
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import Field, SecretStr, model_validator

from werk.config.model import BrokerTlsConfig, ConnectorSettings, StrictModel
from werk.connect.base import ConnectorStatus, RateLimitedLog, SessionConnector
from werk.connect.outbox import MemoryOutbox, Outbox
from werk.connect.spec import ConnectorSpec, docs, plant_of, types_of
from werk.core import topic_map
from werk.core.model import Quality, Sample, Value, utcnow
from werk.core.topic_map import TopicMap, TopicRule
from werk.errors import ConnectorError, PayloadError, TemplateError, UnsPathError


class MqttTopicRuleConfig(StrictModel):
    """Topics of one shape feeding UNS paths of one shape (``werk.core.topic_map`` has the template language)."""

    topic: str = Field(min_length=1)
    """The topics' shape: an MQTT filter whose wildcards may be named (``factory/{line}/{device}/{signal}``)."""
    path: str = Field(min_length=1)
    """The UNS paths' shape, with the topic's captures (``acme/berlin/assembly/{line}/cell-1/{device}/{signal}``);
    ``{field}``: one signal per member of a JSON object."""

    @model_validator(mode="after")
    def _compiles(self) -> MqttTopicRuleConfig:
        try:
            TopicRule.compile(self.topic, self.path)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return self


class MqttConnectorConfig(ConnectorSettings):
    """An MQTT broker whose topics carry JSON values; each bound topic feeds one UNS signal, and each ``map`` rule
    feeds every topic that matches it (an asset's exact binding wins over a rule for the same topic).

    The defaults lose nothing the broker acknowledged: QoS 1, a persistent session and a client id that stays the
    same across restarts. The password is never part of the plant file in clear if it can be helped:
    ``password_env`` names an environment variable read at connect time.
    """

    type: Literal["mqtt"]
    host: str = Field(default="127.0.0.1", min_length=1)
    """The broker's host name or address."""
    port: int = Field(default=1883, ge=1, le=65535)
    """The broker's port: 1883 for MQTT, 8883 for MQTT over TLS by convention."""
    tls: BrokerTlsConfig | None = None
    """TLS towards the broker; none: plain TCP."""
    username: str | None = None
    """The user name werk connects as."""
    password: SecretStr | None = None
    """The password in the plant file itself; prefer ``password_env``."""
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """An environment variable holding the password, read at connect time; never logged."""
    client_id: str | None = Field(default=None, min_length=1, max_length=65535)
    """The MQTT client identifier (MQTT 3.1.1 section 3.1.3.1). Default: ``werk-<plant>-<connector>``, the plant
    being its enterprise and sites (``werk-acme-augsburg-shop-mqtt``): the same at every start, so the broker finds
    werk's persistent session again, and unique per plant. A second werk on the same plant file and broker (a test
    system) needs one of its own: a broker drops the older of two connections with one id (section 3.1.4). A
    broker that takes only the 23 letters and digits MQTT 3.1.1 guarantees needs one set here."""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    """The MQTT version spoken: 3.1.1 or 5."""
    qos: Literal[0, 1, 2] = 1
    """The subscription's maximum QoS (MQTT 3.1.1 section 4.3). 0: at most once, whatever is in flight when the
    link drops is lost. 1: at least once; a message redelivered after a reconnect is the same sample again, which
    werk keeps once (one sample per signal and timestamp), except a bare value, which is stamped when received and
    so stored twice. 2: exactly once, at two more packets per message."""
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    """Seconds between PINGREQs on an idle link; a broker that stays silent 1.5 times as long is lost."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """Seconds before the first attempt to reconnect; doubled after each failure."""
    reconnect_max_s: float = Field(default=10.0, gt=0)
    """The most seconds between two attempts to reconnect."""
    timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for the broker's answer to CONNECT, SUBSCRIBE and PUBLISH."""
    map: list[MqttTopicRuleConfig] = Field(default_factory=list)
    """Rules that map whole families of topics to UNS paths (see the address forms below)."""
    persistent_session: bool = True
    """Keep werk's session while it is away (MQTT 3.1.1 clean session 0, section 3.1.2.4; MQTT 5 clean start 0 and
    ``session_expiry_s``): the broker keeps werk's subscriptions and queues the QoS 1 and 2 messages published
    meanwhile (werk restarting, a network outage), and delivers them when werk is back. false: what is published
    while werk is not connected is lost. The broker bounds that queue (Mosquitto's ``max_queued_messages``, 1000
    per client by default; beyond it the broker drops messages where werk cannot count them) and keeps it across a
    restart of its own only with persistence on (Mosquitto: ``persistence true``; a crash loses what changed since
    its last save, ``autosave_interval``)."""
    session_expiry_s: int = Field(default=86_400, ge=1, le=4_294_967_295)
    """MQTT 5: how long the broker keeps werk's persistent session after werk disconnects, in seconds (MQTT 5.0
    section 3.1.2.11.2). MQTT 3.1.1 leaves that to the broker's configuration (Mosquitto:
    ``persistent_client_expiration``, never by default)."""

    @model_validator(mode="after")
    def _one_password(self) -> MqttConnectorConfig:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give either password or password_env, not both")
        if (self.password is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a username")
        return self


log = logging.getLogger(__name__)

MAX_QUEUED_MESSAGES = (
    100_000  # received but not yet taken by the consumer; beyond that the oldest are dropped
)
MAX_BATCH_MESSAGES = 1000  # messages folded into one batch when they are already waiting
LOG_EVERY_S = 60.0  # a topic's malformed payloads are logged at most this often
SUBSCRIBE_CHUNK = 100  # topics per SUBSCRIBE packet
PUBLISH_CHUNK = 100  # publishes in flight at once
#: epoch milliseconds outside 2000..2100 are almost always seconds or microseconds sent by mistake
_MS_MIN, _MS_MAX = 946_684_800_000, 4_102_444_800_000
_QUALITIES = {"good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD}


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded value; ``ts`` is None when the payload did not stamp it."""

    value: Value
    ts: datetime | None = None
    quality: Quality = Quality.GOOD


def validate_topic(topic: str, what: str = "topic") -> str:
    """A topic name werk may publish to or bind to one signal (MQTT 3.1.1 sections 1.5.3, 4.7.1, 4.7.3)."""
    if not topic:
        raise ConnectorError(f"{what} is empty (MQTT 3.1.1 section 4.7.3)")
    if "+" in topic or "#" in topic:
        raise ConnectorError(f"{what} {topic!r} holds a wildcard; a binding names one topic (section 4.7.1)")
    if "\0" in topic or len(topic.encode()) > 65535:
        raise ConnectorError(f"{what} {topic!r} has a NUL character or is over 65535 bytes (section 1.5.3)")
    if topic.startswith("$"):
        raise ConnectorError(f"{what} {topic!r} starts with '$', reserved for the broker (section 4.7.2)")
    return topic


class _NumberText(str):
    """A JSON number's own text (``123456.20``), kept for a signal its binding declares ``str``."""


def _timestamp(raw: Any) -> datetime:
    if isinstance(raw, _NumberText):
        raw = float(raw)
    if isinstance(raw, bool):
        raise PayloadError(f"ts {raw!r} is a boolean, not a time")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or not _MS_MIN <= raw <= _MS_MAX:
            raise PayloadError(
                f"ts {raw!r} is not epoch milliseconds between 2000 and 2100 (seconds or microseconds sent?)"
            )
        return datetime.fromtimestamp(raw / 1000, UTC)
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadError(f"ts {raw!r} is not ISO 8601") from None
        if ts.tzinfo is None:
            raise PayloadError(f"ts {raw!r} has no UTC offset (add 'Z' or '+01:00')")
        return ts.astimezone(UTC)
    raise PayloadError(f"ts must be an ISO 8601 string or epoch milliseconds, not {type(raw).__name__}")


def _value(raw: Any) -> Value:
    if isinstance(raw, bool | int | str):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise PayloadError(f"value {raw} is not finite")
        return raw
    kind = "null" if raw is None else type(raw).__name__
    raise PayloadError(f"value must be a number, string or boolean, not {kind}")


def _quality(obj: dict[str, Any]) -> Quality:
    if "quality" not in obj:
        return Quality.GOOD
    raw_q = obj["quality"]
    if not isinstance(raw_q, str) or raw_q.lower() not in _QUALITIES:
        raise PayloadError(f"quality {raw_q!r} is not one of 'good', 'uncertain', 'bad'")
    return _QUALITIES[raw_q.lower()]


def _reading(obj: dict[str, Any]) -> Reading:
    if "value" not in obj:
        raise PayloadError("object has no 'value'")
    quality = _quality(obj)
    ts = _timestamp(obj["ts"]) if obj.get("ts") is not None else None
    return Reading(_value(obj["value"]), ts, quality)


def _json_document(payload: bytes | str, *, number_text: bool = False) -> Any:
    """The JSON document of a payload; ``PayloadError`` says why there is none."""
    try:
        if number_text:
            return json.loads(payload, parse_float=_NumberText)
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    # json's parser recurses per level: a payload of 100,000 '[' would end the connector
    except RecursionError:
        raise PayloadError("not JSON: nested too deeply") from None


def _batch_reading(item: Any) -> tuple[datetime, Reading]:
    """One item of a batch (a JSON array), an object that must carry its own ``ts``: that ts and the reading."""
    if not isinstance(item, dict):
        raise PayloadError(f"is a {type(item).__name__}, not an object")
    reading = _reading(item)
    if reading.ts is None:
        raise PayloadError("has no 'ts' (required in a batch)")
    return reading.ts, reading


def decode_payload(payload: bytes | str) -> tuple[list[Reading], list[str]]:
    """Readings of one message, and the reasons for what was skipped (empty when everything decoded)."""
    try:
        doc = _json_document(payload)
    except PayloadError as exc:
        return [], [str(exc)]
    if not isinstance(doc, list):
        return _decode_document(doc)
    out: list[Reading] = []
    errors: list[str] = []
    for i, item in enumerate(doc):
        try:
            out.append(_batch_reading(item)[1])
        except PayloadError as exc:
            errors.append(f"batch item {i}: {exc}")
    return out, errors


def decode_samples(
    path: str, payload: bytes | str, *, retained: bool = False, number_text: bool = False
) -> tuple[list[Sample], list[str]]:
    """Samples of one message for ``path``, and the reasons for what was skipped: ``decode_payload`` made Samples.

    ``number_text``: a number with a fraction or an exponent is its own text (``123456.20`` stays ``"123456.20"``
    where a float would drop the zero), for a signal whose binding declares it ``str``.

    The hot path of a batch payload: an item that is a plain object with a finite number, string or boolean
    ``value`` and a ``ts`` in epoch milliseconds or ISO 8601 with offset becomes a Sample directly; any other item
    goes through ``_reading`` for its exact verdict, so both paths accept and refuse the same items.
    """
    try:
        doc = _json_document(payload, number_text=number_text)
    except PayloadError as exc:
        return [], [str(exc)]
    if not isinstance(doc, list):
        readings, errors = _decode_document(doc)
        now = utcnow()
        out = []
        for r in readings:
            quality = r.quality
            if r.ts is None and retained:  # stored by the broker, of unknown age: not a fresh reading
                quality = max(quality, Quality.UNCERTAIN)
            out.append(Sample(path, r.ts or now, r.value, quality))
        return out, errors
    samples: list[Sample] = []
    errors = []
    append = samples.append
    fromtimestamp, fromisoformat, isfinite, good = (
        datetime.fromtimestamp,
        datetime.fromisoformat,
        math.isfinite,
        Quality.GOOD,
    )
    for i, item in enumerate(doc):
        if type(item) is dict:
            value: Any = item.get("value")
            raw_ts: Any = item.get("ts")
            raw_q: Any = item.get("quality")
            vt, tt = type(value), type(raw_ts)
            fast_q: Quality | None = (
                good if raw_q is None else _QUALITIES.get(raw_q.lower()) if type(raw_q) is str else None
            )
            if fast_q is not None and (
                vt is str or vt is int or vt is bool or (vt is float and isfinite(value))
            ):
                if (tt is int or tt is float) and _MS_MIN <= raw_ts <= _MS_MAX:
                    append(Sample(path, fromtimestamp(raw_ts / 1000, UTC), value, fast_q))
                    continue
                if tt is str:
                    try:
                        ts = fromisoformat(raw_ts)
                    except ValueError:
                        ts = None
                    if ts is not None and ts.tzinfo is not None:
                        append(Sample(path, ts.astimezone(UTC), value, fast_q))
                        continue
        try:  # the slow path names the reason
            ts, reading = _batch_reading(item)
            append(Sample(path, ts, reading.value, reading.quality))
        except PayloadError as exc:
            errors.append(f"batch item {i}: {exc}")
    return samples, errors


def decode_fields(
    rule: TopicRule, captures: dict[str, str], payload: bytes | str, *, retained: bool = False
) -> tuple[list[Sample], list[str]]:
    """Samples of a message whose members are signals (a rule with ``{field}``), and the reasons for what was
    skipped. A member name that makes no valid UNS path is refused by name; the others still count."""
    try:
        doc = _json_document(payload)
    except PayloadError as exc:
        return [], [str(exc)]
    single = isinstance(doc, dict)
    items = [doc] if single else doc if isinstance(doc, list) else None
    if items is None:
        return [], [f"a map rule with {{field}} needs an object of signals, not {type(doc).__name__}"]
    now = utcnow()
    out: list[Sample] = []
    errors: list[str] = []
    for i, item in enumerate(items):
        where = "" if single else f"batch item {i}: "
        if not isinstance(item, dict):
            errors.append(f"{where}is a {type(item).__name__}, not an object")
            continue
        try:
            ts = _timestamp(item["ts"]) if item.get("ts") is not None else None
            if ts is None and not single:
                raise PayloadError("has no 'ts' (required in a batch)")
            quality = _quality(item)
        except PayloadError as exc:
            errors.append(f"{where}{exc}")
            continue
        if ts is None and retained:
            quality = max(quality, Quality.UNCERTAIN)
        for key, raw in item.items():
            if key in ("ts", "quality") or raw is None or isinstance(raw, dict | list):
                continue
            try:
                out.append(Sample(rule.resolve(captures, key), ts or now, _value(raw), quality))
            except (PayloadError, UnsPathError) as exc:
                errors.append(f"{where}member {key!r}: {exc}")
    return out, errors


def _decode_document(doc: Any) -> tuple[list[Reading], list[str]]:
    try:
        if isinstance(doc, dict):
            return [_reading(doc)], []
        return [Reading(_value(doc))], []
    except PayloadError as exc:
        return [], [str(exc)]


def encode_sample(sample: Sample) -> bytes:
    """The object form of the payload format, which ``decode_payload`` reads back unchanged."""
    ts = sample.ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return json.dumps(
        {"value": sample.value, "ts": ts, "quality": sample.quality.name.lower()}, separators=(",", ":")
    ).encode()


def broker_status(name: str, kind: str, config: MqttConnectorConfig) -> ConnectorStatus:
    """The status of something that talks to an MQTT broker, its endpoint as ``mqtt(s)://host:port``."""
    scheme = "mqtts" if config.tls is not None else "mqtt"
    return ConnectorStatus(name=name, type=kind, endpoint=f"{scheme}://{config.host}:{config.port}")


def counting_queue(status: ConnectorStatus) -> type[asyncio.Queue[Any]]:
    """A queue for a client's incoming messages (sized by the client: ``MAX_QUEUED_MESSAGES``) that drops the oldest
    when full and counts it in ``status.dropped``; aiomqtt's own discards new messages silently."""

    class _CountingQueue(asyncio.Queue[Any]):
        def put_nowait(self, item: Any) -> None:
            if self.full():
                self.get_nowait()
                status.dropped += 1
            super().put_nowait(item)

    return _CountingQueue


def _client(
    config: MqttConnectorConfig,
    owner: str,
    client_id: str,
    queue_type: type[asyncio.Queue[Any]] | None = None,
    *,
    persistent: bool | None = None,
) -> aiomqtt.Client:
    """A configured (not yet connected) client. Secrets are read here, at connect time, and never logged.
    ``persistent`` (default: the settings' ``persistent_session``) keeps the session: clean session 0 in MQTT 3.1.1;
    clean start 0 and a session expiry in MQTT 5, where a session otherwise ends with its connection."""
    password: str | None = None
    if config.password is not None:
        password = config.password.get_secret_value()
    elif config.password_env is not None:
        password = os.environ.get(config.password_env)
        if password is None:
            raise ConnectorError(
                f"connector {owner}: environment variable {config.password_env} (its password_env) is not set"
            )
    tls: ssl.SSLContext | None = None
    if config.tls is not None:
        try:
            tls = config.tls.context()
        except (OSError, ssl.SSLError) as exc:
            raise ConnectorError(f"connector {owner}: TLS files unusable: {exc}") from exc
    keep = config.persistent_session if persistent is None else persistent
    properties: Properties | None = None
    if config.protocol == "5" and keep:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho is untyped here
        properties.SessionExpiryInterval = config.session_expiry_s
    return aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=password,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if config.protocol == "5" else aiomqtt.ProtocolVersion.V311,
        clean_session=(not keep) if config.protocol == "3.1.1" else None,
        clean_start=False if keep and config.protocol == "5" else paho.MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
        keepalive=config.keepalive_s,
        timeout=config.timeout_s,
        tls_context=tls,
        queue_type=queue_type,
        max_queued_incoming_messages=MAX_QUEUED_MESSAGES if queue_type is not None else None,
        logger=log,
    )


class MqttConnector(SessionConnector):
    """Subscribes to every bound topic of one broker. ``bindings`` maps a topic name to the UNS path it feeds."""

    protocol = "mqtt"
    logger = log

    def __init__(self, name: str, config: MqttConnectorConfig, bindings: Mapping[str, str]) -> None:
        super().__init__(broker_status(name, self.protocol, config), types_of(bindings))
        self.config = config
        self.bindings = dict(self._parsed(bindings, validate_topic))
        self.topic_map = TopicMap([TopicRule.compile(r.topic, r.path) for r in config.map])
        plant = plant_of(bindings)
        self.client_id = config.client_id or (f"werk-{plant}-{name}" if plant else f"werk-{name}")
        self._complaints = RateLimitedLog(log, LOG_EVERY_S)
        self.mapped_paths: set[str] = set()  # distinct paths the rules have fed, for the status and the log

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    def _loss_level(self, exc: Exception, was_connected: bool) -> int | None:
        return (
            logging.ERROR if isinstance(exc, ConnectorError) else None
        )  # configuration: retrying won't mend it

    async def _session(self) -> AsyncIterator[list[Sample]]:
        async with _client(self.config, self.name, self.client_id, counting_queue(self.status)) as client:
            await self._subscribe(client)
            self._up(topics=len(self.bindings), rules=len(self.topic_map.rules))
            async for batch in self._batches(client):
                yield batch

    def subscriptions(self) -> list[str]:
        """Every rule's filter, then each bound topic that no rule's filter already delivers."""
        filters = list(dict.fromkeys(rule.filter for rule in self.topic_map.rules))
        return filters + [t for t in self.bindings if not self.topic_map.covers(t)]

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        topics = self.subscriptions()
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            chunk = topics[i : i + SUBSCRIBE_CHUNK]
            subs: list[tuple[str, int]] = [(t, self.config.qos) for t in chunk]
            codes = await client.subscribe(subs)
            for topic, code in zip(chunk, codes, strict=True):
                if getattr(code, "is_failure", False) or code == 0x80:
                    reason = f"broker refused subscription to {topic!r}: {code}"
                    self.status.bad_bindings[self.bindings.get(topic, f"map {topic}")] = reason
                    log.error("mqtt.subscribe connector=%s topic=%s error=%s", self.name, topic, code)

    async def _batches(self, client: aiomqtt.Client) -> AsyncIterator[list[Sample]]:
        """One batch per wake-up: the message that woke us and every one already waiting behind it."""
        messages = client.messages
        while True:
            batch = self._samples(await anext(messages))
            for _ in range(min(len(messages), MAX_BATCH_MESSAGES)):
                batch.extend(self._samples(await anext(messages)))
            yield batch

    def _samples(self, message: aiomqtt.Message) -> list[Sample]:
        topic = message.topic.value
        payload = message.payload
        path = self.bindings.get(topic)
        rule: TopicRule | None = None
        captures: dict[str, str] = {}
        if path is None:
            found = self.topic_map.lookup(topic)
            if (
                found is None
            ):  # possible with a session or an overlapping subscription from someone else's config
                self._complain(topic, "no binding or map rule for this topic")
                return []
            rule, captures = found
        if not isinstance(payload, bytes | str):
            self._complain(topic, f"payload of type {type(payload).__name__}")
            return []
        if not payload:  # an empty retained message deletes the retained value (section 3.3.1.3): not data
            return []
        try:
            if rule is None:
                assert path is not None
                text = self.types.get(path) == "str"
                out, errors = decode_samples(path, payload, retained=message.retain, number_text=text)
            elif rule.fields:
                out, errors = decode_fields(rule, captures, payload, retained=message.retain)
            else:
                out, errors = decode_samples(rule.resolve(captures), payload, retained=message.retain)
        except UnsPathError as exc:
            self._complain(topic, f"map rule {rule.topic if rule else ''!r}: {exc}")
            return []
        if rule is not None:
            for sample in out:
                if sample.path not in self.mapped_paths:
                    self.mapped_paths.add(sample.path)
                    log.info("mqtt.mapped connector=%s topic=%s path=%s", self.name, topic, sample.path)
        for reason in errors:
            self._complain(topic, reason)
        return out

    def _complain(self, topic: str, reason: str) -> None:
        self.status.errors += 1
        self.status.last_error = f"{topic}: {reason}"
        self._complaints.warning(
            topic, "mqtt.payload connector=%s topic=%s error=%s", self.name, topic, reason
        )


class MqttPublisher:
    """Publishes werk's samples to a broker as ``<prefix>/<UNS path>``, one retained JSON object per sample.

    Retained (MQTT 3.1.1 section 3.3.1.3) so that a subscriber arriving late gets every signal's last value at once,
    which is what a Unified Namespace promises. ``publish`` never blocks: samples wait in a bounded queue (the oldest
    are dropped and counted in ``status.dropped`` beyond ``max_pending``) while a background task sends them and
    reconnects with back-off; a sample is taken off the queue only once the client accepted it.

    Use as ``async with MqttPublisher(...) as pub: pub.publish(batch)``; leaving waits up to ``drain_s`` for the
    queue to empty.
    """

    def __init__(
        self,
        name: str,
        config: MqttConnectorConfig,
        prefix: str,
        *,
        retain: bool = True,
        max_pending: int = 100_000,
        drain_s: float = 5.0,
        outbox: Outbox | None = None,
    ) -> None:
        if prefix:
            validate_topic(prefix, "topic prefix")
            if prefix.startswith("/") or prefix.endswith("/"):
                raise ConnectorError(f"topic prefix {prefix!r}: leave out the leading and trailing '/'")
        self.name = name
        self.config = config
        self.prefix = prefix
        self.retain = retain
        self.drain_s = drain_s
        self.status = broker_status(name, "mqtt-publish", config)
        # never the connector's own id: a broker drops the older of two clients with one id (MQTT 3.1.1 3.1.4)
        self.client_id = (
            f"{config.client_id}-pub" if config.client_id else f"werk-{name}-{uuid.uuid4().hex[:8]}"
        )
        # store-and-forward: a SqliteOutbox keeps what the broker has not acknowledged across outages and restarts
        self._pending: Outbox = outbox if outbox is not None else MemoryOutbox(max_pending)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def topic(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def publish(self, batch: Iterable[Sample]) -> None:
        """Queue samples for sending; returns at once. Call it from the event loop's thread."""
        self._pending.push([(self.topic(s.path), encode_sample(s)) for s in batch])
        self.status.dropped = self._pending.dropped
        if len(self._pending):
            self._idle.clear()
            self._wake.set()

    async def drain(self) -> None:
        """Until every queued sample has been handed to the broker connection."""
        await self._idle.wait()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"mqtt-publish-{self.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            async with asyncio.timeout(self.drain_s):
                await self.drain()
        except TimeoutError:
            log.warning("mqtt.publish.unsent publisher=%s pending=%d", self.name, len(self._pending))
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _send(self, client: aiomqtt.Client) -> None:
        """Publish the head of the queue concurrently (QoS 1/2 wait for their acknowledgement) and only then take
        it off the queue: a link that fails midway leaves it there, to be sent again, in order, after reconnecting
        (a receiver may see an item twice, never lose one: werk's samples are idempotent by (path, timestamp))."""
        chunk = self._pending.peek(PUBLISH_CHUNK)
        await asyncio.gather(
            *(client.publish(t, p, qos=self.config.qos, retain=self.retain) for t, p in chunk)
        )
        self._pending.pop(len(chunk))
        self.status.samples += len(chunk)
        self.status.last_sample = utcnow()

    async def _run(self) -> None:
        cfg = self.config
        delay = cfg.reconnect_min_s
        while True:
            try:
                # a clean session: it subscribes to nothing, and its outbox keeps what the broker did not take
                async with _client(cfg, self.name, self.client_id, persistent=False) as client:
                    self.status.connected = True
                    self.status.since = utcnow()
                    delay = cfg.reconnect_min_s
                    log.info(
                        "mqtt.publish.connected publisher=%s endpoint=%s", self.name, self.status.endpoint
                    )
                    # we subscribe to nothing, so this ends only when the connection does (with MqttError):
                    # without it an idle publisher would not notice a lost broker until its next sample
                    watch = asyncio.ensure_future(anext(client.messages))
                    wake: asyncio.Future[Any] | None = None
                    try:
                        while True:
                            wake = asyncio.ensure_future(self._wake.wait())
                            await asyncio.wait((wake, watch), return_when=asyncio.FIRST_COMPLETED)
                            if watch.done():
                                wake.cancel()
                                watch.result()  # raises MqttError: the connection is gone
                                watch = asyncio.ensure_future(anext(client.messages))  # a stray message
                                continue
                            self._wake.clear()
                            while len(self._pending):
                                await self._send(client)
                            self._idle.set()
                    finally:
                        watch.cancel()
                        if wake is not None:
                            wake.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.errors += 1
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("mqtt.publish.lost publisher=%s error=%s", self.name, self.status.last_error)
            finally:
                self.status.connected = False
            self.status.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, cfg.reconnect_max_s)


#: a binding's ``root`` is the prefix of the topic name
SPEC = ConnectorSpec.of(
    MqttConnectorConfig, MqttConnector, title="MQTT", reference=docs(__doc__, topic_map.__doc__)
)
