"""MTConnect: an agent's HTTP API (``probe``, ``current``, ``sample``) and the SHDR adapter protocol over TCP.

References: *MTConnect Standard* Part 1 (Overview and Fundamentals: section 8 "Protocol", the request types
``probe``/``current``/``sample`` and their ``from``/``count`` parameters, the ``MTConnectError`` document and its
error codes such as ``OUT_OF_RANGE``), Part 2 (Device Information Model: ``Device``, ``Components``, ``DataItem``
with ``id``, ``name``, ``type``, ``subType``, ``category``) and Part 3 (Observation Information Model: the
``MTConnectStreams`` document, ``Samples``/``Events``/``Condition``, the value ``UNAVAILABLE``, condition states
``Normal``/``Warning``/``Fault``/``Unavailable`` keyed by ``nativeCode``). SHDR ("Simple Hierarchical Data
Representation") is the adapter protocol of the MTConnect reference agent (mtconnect/cppagent, README "Adapter
Agent Protocol"): pipe-separated lines ``timestamp|key|value|key|value...`` and heartbeats ``* PING`` /
``* PONG <ms>``.

Address grammar
---------------
An asset binding maps a signal to one address string (``SourceBinding.signals``; its ``root`` is put in front)::

    [id:|name:|type:]<ref>[/<SUBTYPE>][#<part>]

    <ref>          a DataItem's id, else its name (agent); the key the adapter sends (SHDR)
    id:<ref>       only the DataItem ``id`` (unique within an agent's document)
    name:<ref>     only the DataItem ``name`` (must be unique among the agent's DataItems)
    type:<TYPE>    the one DataItem of that ``type`` (and ``/<SUBTYPE>``), e.g. ``type:EXECUTION``,
                   ``type:ROTARY_VELOCITY/ACTUAL``; several candidates are an error naming their ids (agent only)
    #<part>        for a CONDITION DataItem: ``level`` (default: NORMAL, WARNING or FAULT, the worst active),
                   ``code`` (its nativeCode), ``severity``, ``qualifier``, ``text`` (the alarm message). In SHDR a
                   part also tells werk that the key is a condition.

Examples: ``execution``, ``id:dtop_2``, ``name:Sspeed``, ``type:PART_COUNT``, ``system_cond#text``.

Values
------
By the device model (the agent's probe; for SHDR the adapter's ``device_model``): SAMPLE observations are floats
(vectors such as PATH_POSITION ``"1 2 3"`` stay text); EVENTs are text except counts, the line number, overrides
and anything with ``units`` (``PART_COUNT``, ``LINE_NUMBER``, ``PATH_FEEDRATE_OVERRIDE``...), which become
integers (or floats); identifiers stay text (``PART_NUMBER``, ``TOOL_NUMBER``, ``PROGRAM``). A MESSAGE is its text
(``#code``: its nativeCode). A binding's declared type (``SourceBinding.types``) wins over the model and is read
from the observation's own text, so ``0815`` declared ``str`` stays ``0815``. SHDR without a model carries no
types: values are text. ``UNAVAILABLE`` becomes a BAD sample carrying the signal's last value (nothing, if it
never had one). Timestamps are the observation's (ISO 8601 UTC; SHDR: the line's first field, its receive time
when empty).

What is malformed (counted in ``status.errors``, logged once per kind per minute, skipped; the session goes on):
an SHDR line whose timestamp does not parse, a key without a value, a condition with fewer than five fields; an
observation whose value does not fit its DataItem's category or its declared type. A failed session (refused,
timed out, closed, no heartbeat) marks every signal BAD once and reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from pydantic import Field

from werk.config.model import ConnectorSettings
from werk.connect.base import ConnectorStatus, RateLimitedLog, SessionConnector
from werk.connect.spec import ConnectorSpec, docs, types_of
from werk.core.model import Quality, Sample, Value, coerce, utcnow
from werk.errors import ConnectorError, ObservationError


class MtconnectAgentConfig(ConnectorSettings):
    """An MTConnect agent's HTTP API (MTConnect Part 1 section 8): ``probe`` once, ``current``, then ``sample``.

    ``url`` is the agent's base address (``http://10.0.0.5:5000``); werk expects it on loopback or the plant LAN,
    so plain HTTP. ``device`` (name or uuid) scopes every request to one device; without it the agent's every
    device is read. Each ``sample`` asks for at most ``count`` observations; the next poll starts at once while the
    agent has more, otherwise after ``poll_interval_ms``.
    """

    type: Literal["mtconnect"]
    url: str = Field(pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    """The agent's base address (``http://10.0.0.5:5000``)."""
    device: str | None = Field(default=None, min_length=1, pattern=r"^[^/?#]+$")
    """One device's name or uuid, to read only it; none: every device of the agent."""
    poll_interval_ms: int = Field(default=1000, ge=10, le=3_600_000)
    """Milliseconds between two ``sample`` requests while the agent has nothing more."""
    count: int = Field(default=1000, ge=1, le=100_000)
    """The most observations one ``sample`` request asks for."""
    timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for the agent's answer."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """Seconds before the first attempt to reconnect; doubled after each failure."""
    reconnect_max_s: float = Field(default=10.0, gt=0)
    """The most seconds between two attempts to reconnect."""


class ShdrConfig(ConnectorSettings):
    """An MTConnect adapter speaking SHDR over TCP (port 7878 by convention), read directly without an agent.

    ``heartbeat``: send ``* PING`` and, when the adapter answers ``* PONG <ms>``, ping at that period and declare
    the link dead after two periods without a byte. ``idle_timeout_s``: for adapters without heartbeats, how long
    silence is tolerated (None: forever; an adapter only sends changes).
    """

    type: Literal["shdr"]
    host: str = Field(default="127.0.0.1", min_length=1)
    """The adapter's host name or address."""
    port: int = Field(default=7878, ge=1, le=65535)
    """The adapter's TCP port; 7878 by convention."""
    device_model: str | None = Field(default=None, min_length=1)
    """The adapter's device model: a Devices.xml file (the MTConnectDevices document an agent is configured with)
    or the URL of an agent's probe (``http://10.0.0.5:5000/probe``), read at every connect. It says what each key
    is (a CONDITION takes five fields, a MESSAGE two) and which values are numbers (SAMPLEs, counts,
    overrides); ``type:`` addresses need it. Without it, values are text unless a binding's ``types`` says
    otherwise."""
    device: str | None = Field(default=None, min_length=1)
    """The device of ``device_model`` the adapter speaks for (its name or uuid), when the model has several."""
    conditions: list[str] = Field(default_factory=list)
    """Keys that are CONDITIONs (``key|level|nativeCode|nativeSeverity|qualifier|text``), besides or instead of
    what the device model says."""
    messages: list[str] = Field(default_factory=list)
    """Keys that are MESSAGEs (``key|nativeCode|text``), besides or instead of what the device model says."""
    time_series: list[str] = Field(default_factory=list)
    """Keys that are TIME_SERIES samples (``key|sampleCount|sampleRate|v1 v2 ...``); their value is the values'
    text."""
    heartbeat: bool = True
    """Send ``* PING``; an adapter that answers ``* PONG <ms>`` is declared lost after twice <ms> of silence."""
    idle_timeout_s: float | None = Field(default=None, gt=0)
    """For adapters without heartbeats: how many seconds of silence are tolerated (None: forever; an adapter sends
    only changes)."""
    timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for the connection (and for a ``device_model`` URL)."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """Seconds before the first attempt to reconnect; doubled after each failure."""
    reconnect_max_s: float = Field(default=10.0, gt=0)
    """The most seconds between two attempts to reconnect."""


log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0  # a recurring problem (per DataItem or per kind of bad line) is logged at most this often
UNAVAILABLE = "UNAVAILABLE"
#: condition levels, least to most severe (Part 3, "Condition"); UNAVAILABLE is handled apart
LEVELS = ("NORMAL", "WARNING", "FAULT")
CONDITION_PARTS = ("level", "code", "severity", "qualifier", "text")
#: EVENT types whose values are numbers although EVENTs are text by default (Part 2, "DataItem Types for Event"):
#: counts and the feed and speed overrides (percent); the line number of the program (an integer, Part 2
#: "LineNumber"; "Line" before version 1.4). Identifiers are text however they read (``PART_NUMBER``,
#: ``SERIAL_NUMBER``, ``TOOL_NUMBER``, ``PROGRAM``: ``0815`` is not 815), and so is ``CONTROLLER_MODE_OVERRIDE``,
#: whose values are ``ON`` and ``OFF``.
NUMERIC_EVENT_SUFFIXES = ("_COUNT", "_OVERRIDE")
NUMERIC_EVENTS = frozenset({"LINE", "LINE_NUMBER"})
TEXT_EVENTS = frozenset({"CONTROLLER_MODE_OVERRIDE"})
SHDR_MAX_LINE = 64 * 1024  # bytes; a longer line is malformed (and skipped whole)
SHDR_MAX_BLOCK = 1024 * 1024  # bytes of a --multiline-- block; a larger one is malformed (and skipped whole)

AddressKind = Literal["any", "id", "name", "type"]
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_FRACTION = re.compile(r"\.(\d+)")


# --- addresses ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """One parsed address (grammar in the module docstring)."""

    kind: AddressKind
    ref: str
    sub_type: str | None = None
    part: str | None = None

    def __str__(self) -> str:
        text = self.ref if self.kind == "any" else f"{self.kind}:{self.ref}"
        text += f"/{self.sub_type}" if self.sub_type else ""
        return text + (f"#{self.part}" if self.part else "")


def parse_address(text: str) -> Address:
    """Parse the address grammar; a ConnectorError says what is wrong and shows the grammar."""

    def fail(why: str) -> ConnectorError:
        return ConnectorError(
            f"mtconnect address {text!r}: {why} (grammar: '[id:|name:|type:]<ref>[/<SUBTYPE>][#<part>]', "
            "e.g. 'execution', 'id:dtop_2', 'name:Sspeed', 'type:ROTARY_VELOCITY/ACTUAL', 'system_cond#text')"
        )

    body, hashmark, part = text.strip().partition("#")
    if hashmark and part not in CONDITION_PARTS:
        raise fail(f"unknown part {part!r}; known: {', '.join(CONDITION_PARTS)}")
    kind: AddressKind = "any"
    prefix, colon, rest = body.partition(":")
    if colon and prefix in ("id", "name", "type"):
        kind, body = prefix, rest  # type: ignore[assignment]  # one of the literals, checked just above
    sub_type: str | None = None
    if kind == "type":
        body, _, sub = body.partition("/")
        body, sub_type = body.upper(), (sub.upper() or None)
    if not body or any(c in body for c in "|\r\n"):
        raise fail("the reference is empty or holds '|' or a line break")
    return Address(kind, body, sub_type, part or None)


# --- values -------------------------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """An MTConnect timestamp (ISO 8601; UTC when it carries no offset, as SHDR's usually do)."""
    raw = text.strip().partition("@")[0]  # SHDR "timestamp@duration" (cppagent): the duration is not ours
    if not raw:
        raise ObservationError("empty timestamp")
    # Python reads at most six fractional digits; agents may send up to nine
    raw = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), raw, count=1)
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ObservationError(f"timestamp {text!r} is not ISO 8601") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def number(text: str) -> int | float:
    """``text`` as an int when it is integral, else a float; ObservationError when it is no finite number."""
    raw = text.strip()
    if _INTEGER.match(raw):
        return int(raw)
    if not _NUMBER.match(raw):
        raise ObservationError(f"{text!r} is not a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ObservationError(f"{text!r} is not finite")
    return value


class ConditionState:
    """The active conditions of one CONDITION DataItem, keyed by nativeCode (Part 3, "Condition").

    A Warning or Fault activates its nativeCode; Normal with a nativeCode clears that one, Normal without clears
    them all; Unavailable clears them all and makes the DataItem unavailable.
    """

    def __init__(self) -> None:
        self.active: dict[str, tuple[str, str, str, str, str]] = {}
        self.unavailable = False

    def update(self, level: str, code: str, severity: str, qualifier: str, text: str) -> None:
        level = level.upper()
        if level == UNAVAILABLE:
            self.active.clear()
            self.unavailable = True
            return
        if level not in LEVELS:
            raise ObservationError(
                f"condition level {level!r} is not one of {', '.join(LEVELS)}, {UNAVAILABLE}"
            )
        self.unavailable = False
        if level == "NORMAL":
            if code:
                self.active.pop(code, None)
            else:
                self.active.clear()
        else:
            self.active[code] = (level, code, severity, qualifier, text)

    def part(self, part: str) -> Value:
        """The value of one part: the most severe active condition (the latest among equals), or NORMAL."""
        if not self.active:
            return "NORMAL" if part == "level" else ""
        worst = max(reversed(self.active.values()), key=lambda c: LEVELS.index(c[0]))
        return worst[CONDITION_PARTS.index(part)]


# --- the agent's documents (Part 2 probe, Part 3 streams) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataItem:
    """A DataItem of a probe response (Part 2): what an observation's ``dataItemId`` refers to."""

    id: str
    name: str | None
    type: str
    sub_type: str | None
    category: str
    device: str
    units: str | None = None
    representation: str | None = None
    device_uuid: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether its observations are numbers (see "Values" in the module docstring)."""
        if self.category == "SAMPLE":
            return True
        return (
            self.category == "EVENT"
            and self.type not in TEXT_EVENTS
            and (
                self.type in NUMERIC_EVENTS
                or self.type.endswith(NUMERIC_EVENT_SUFFIXES)
                or self.units is not None
            )
        )

    def value(self, text: str) -> Value:
        if not self.numeric or self.representation not in (None, "VALUE"):
            return text
        try:
            value = number(text)
            return float(value) if self.category == "SAMPLE" else value  # one type per signal
        except ObservationError:
            if self.category == "SAMPLE" and len(text.split()) > 1:  # a vector (PATH_POSITION, ORIENTATION)
                return text
            raise ObservationError(
                f"{self.category} {self.type} {self.id}: {text!r} is not a number"
            ) from None


@dataclass(frozen=True, slots=True)
class Header:
    """The Header of an MTConnectStreams or MTConnectError document (Part 1); sequences are 0 when absent."""

    instance_id: str
    next_sequence: int = 0
    first_sequence: int = 0
    last_sequence: int = 0


@dataclass(frozen=True, slots=True)
class Observation:
    """One Sample, Event or Condition element of a streams document (Part 3)."""

    data_item_id: str
    ts: datetime
    sequence: int
    value: str
    category: str
    native_code: str = ""
    native_severity: str = ""
    qualifier: str = ""
    text: str = ""


class AgentError(ConnectorError):
    """The agent answered with an MTConnectError document (Part 1); ``codes`` are its errorCodes."""

    def __init__(self, codes: list[str], message: str, header: Header | None) -> None:
        super().__init__(f"agent error {', '.join(codes)}: {message}")
        self.codes = codes
        self.header = header


def _local(tag: str) -> str:
    """An element's name without its namespace: Streams 1.x and 2.x differ only in the namespace's version."""
    return tag.rpartition("}")[2]


def _root(document: bytes, expected: str) -> ET.Element:
    """The document's root element; an MTConnectError raises AgentError, anything else unexpected ConnectorError.

    ElementTree (expat >= 2.4.1, as Python 3.11 ships) refuses entity-expansion bombs; the agent sits on the plant
    LAN, and werk reads no external entities or DTDs.
    """
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise ConnectorError(f"agent sent no well-formed XML: {exc}") from None
    name = _local(root.tag)
    if name == "MTConnectError":
        codes, texts = [], []
        for el in root.iter():
            if _local(el.tag) == "Error":
                codes.append(el.get("errorCode", "UNKNOWN"))
                texts.append((el.text or "").strip())
        header = next((_header(el) for el in root if _local(el.tag) == "Header"), None)
        raise AgentError(codes or ["UNKNOWN"], "; ".join(t for t in texts if t), header)
    if name != expected:
        raise ConnectorError(f"agent sent a {name} document where {expected} was expected")
    return root


def _header(el: ET.Element) -> Header:
    def seq(attr: str) -> int:
        raw = el.get(attr, "0")
        if not raw.isdigit():
            raise ConnectorError(f"agent header {attr}={raw!r} is not a sequence number")
        return int(raw)

    return Header(el.get("instanceId", ""), seq("nextSequence"), seq("firstSequence"), seq("lastSequence"))


def parse_probe(document: bytes) -> tuple[Header, list[DataItem]]:
    """The header and every DataItem of an MTConnectDevices document (Part 2), in document order."""
    root = _root(document, "MTConnectDevices")
    header: Header | None = None
    items: list[DataItem] = []
    for el in root:
        if _local(el.tag) == "Header":
            header = _header(el)
        elif _local(el.tag) == "Devices":
            for device in el:
                device_name = device.get("name") or device.get("uuid") or device.get("id") or ""
                device_uuid = device.get("uuid")
                for di in device.iter():
                    if _local(di.tag) != "DataItem" or "id" not in di.attrib:
                        continue
                    items.append(
                        DataItem(
                            id=di.attrib["id"],
                            name=di.get("name"),
                            type=di.get("type", ""),
                            sub_type=di.get("subType"),
                            category=di.get("category", "").upper(),
                            device=device_name,
                            units=di.get("units"),
                            representation=di.get("representation"),
                            device_uuid=device_uuid,
                        )
                    )
    if header is None:
        raise ConnectorError("probe response has no Header")
    return header, items


_CONTAINERS = {"Samples": "SAMPLE", "Events": "EVENT", "Condition": "CONDITION"}


def parse_streams(document: bytes) -> tuple[Header, list[Observation], list[str]]:
    """Header, observations (in document order) and reasons for what was skipped, of an MTConnectStreams document.

    Observations are read by ``dataItemId``, so element names (``Execution``, ``PartCount``; ``Normal``/``Fault``
    for conditions) and namespaces do not matter. A DATA_SET or TABLE value (``Entry`` children) becomes its
    entries as ``key=value`` text.
    """
    root = _root(document, "MTConnectStreams")
    header: Header | None = None
    out: list[Observation] = []
    skipped: list[str] = []
    for el in root.iter():
        name = _local(el.tag)
        if name == "Header":
            header = _header(el)
            continue
        category = _CONTAINERS.get(name)
        if category is None:
            continue
        for obs in el:
            try:
                out.append(_observation(obs, category))
            except ObservationError as exc:
                skipped.append(str(exc))
    if header is None:
        raise ConnectorError("streams response has no Header")
    return header, out, skipped


def _observation(el: ET.Element, category: str) -> Observation:
    item = el.get("dataItemId")
    if not item:
        raise ObservationError(f"{_local(el.tag)} has no dataItemId")
    seq = el.get("sequence", "0")
    if not seq.isdigit():
        raise ObservationError(f"{item}: sequence {seq!r} is not a number")
    entries = [e for e in el if _local(e.tag) == "Entry"]
    if entries:
        value = " ".join(f"{e.get('key', '')}={(e.text or '').strip()}" for e in entries)
    else:
        value = (el.text or "").strip()
    ts = parse_timestamp(el.get("timestamp", ""))
    if category == "CONDITION":  # the element name is the state; its text is the message
        return Observation(
            item,
            ts,
            int(seq),
            _local(el.tag).upper(),
            category,
            el.get("nativeCode", ""),
            el.get("nativeSeverity", ""),
            el.get("qualifier", ""),
            value,
        )
    return Observation(item, ts, int(seq), value, category)


# --- SHDR ---------------------------------------------------------------------------------------------------


ShdrKind = Literal["value", "condition", "message", "time_series", "alarm", "asset"]
#: fields after the key, per kind of DataItem (cppagent's SHDR token mapper): a value; a CONDITION's level,
#: nativeCode, nativeSeverity, qualifier and text; a MESSAGE's nativeCode and text; a TIME_SERIES' sampleCount,
#: sampleRate and values; a (legacy) ALARM's code, nativeCode, severity, state and text
SHDR_FIELDS: dict[str, int] = {"value": 1, "condition": 5, "message": 2, "time_series": 3, "alarm": 5}
#: asset commands (cppagent "Assets"): the fields each takes; None: the rest of the line (the asset document)
ASSET_COMMANDS: dict[str, int | None] = {
    "@ASSET@": None,
    "@UPDATE_ASSET@": None,
    "@REMOVE_ASSET@": 1,
    "@REMOVE_ALL_ASSETS@": 1,
}
MULTILINE = "--multiline--"


@dataclass(frozen=True, slots=True)
class ShdrField:
    """One observation of an SHDR line: ``value`` is a value's text, a condition's level, a message's or an
    alarm's text, a time series' values (space-separated), an asset command's asset id or type. ``condition``
    holds a condition's five fields (level, nativeCode, nativeSeverity, qualifier, text); ``native_code`` a
    message's or an alarm's nativeCode."""

    key: str
    value: str
    condition: tuple[str, str, str, str, str] | None = None
    kind: ShdrKind = "value"
    native_code: str = ""


def parse_shdr_line(
    line: str, kinds: Mapping[str, ShdrKind] | Iterable[str] = (), *, version: int = 1
) -> tuple[datetime | None, list[ShdrField]]:
    """Timestamp (None: not given, use the receive time) and observations of one data line (not a ``*`` command).

    ``kinds`` says what each key is (a mapping from the device model or the connector's settings; an iterable
    names condition keys); a key it does not name is a value (``key|value``), read by what it is, never by how
    many fields follow. The one exception keeps unknown conditions from spoiling a healthy line: an unknown key
    followed by exactly five fields whose first is a condition level, which read as ``key|value`` pairs would give
    an empty key, is a condition. Observations of several fields (condition, message, time series, alarm) take
    the rest of the line as their last field in SHDR version 1 (the default, as cppagent reads it: they end the
    line, and a condition's message may hold ``|``); in version 2 (``* shdrVersion: 2``) they take their fields
    and the line goes on. A key ``device:key`` is looked up without its device too.
    """
    known: Mapping[str, ShdrKind] = kinds if isinstance(kinds, Mapping) else dict.fromkeys(kinds, "condition")
    fields = line.split("|")
    if len(fields) < 3:
        raise ObservationError("an SHDR line needs 'timestamp|key|value'")
    ts = parse_timestamp(fields[0]) if fields[0].strip() else None
    out: list[ShdrField] = []
    i = 1
    while i < len(fields):
        key = fields[i].strip()
        rest = len(fields) - i - 1
        if not key:
            raise ObservationError(f"field {i} has an empty key")
        if key in ASSET_COMMANDS:
            width = ASSET_COMMANDS[key]
            taken = fields[i + 1 :] if width is None else fields[i + 1 : i + 1 + width]
            out.append(ShdrField(key, taken[0].strip() if taken else "", kind="asset"))
            i += 1 + len(taken)
            continue
        kind = known.get(key) or known.get(key.partition(":")[2] or key)
        if kind is None:
            kind = "condition" if _looks_like_condition(fields[i + 1 :]) else "value"
        width = SHDR_FIELDS[kind]
        if rest < width:
            if kind == "value":
                raise ObservationError(f"key {key!r} has no value")
            needs = {
                "condition": "level|nativeCode|nativeSeverity|qualifier|text",
                "message": "nativeCode|text",
                "time_series": "sampleCount|sampleRate|values",
                "alarm": "code|nativeCode|severity|state|text",
            }[kind]
            raise ObservationError(f"{kind.replace('_', ' ')} {key!r} needs {needs}")
        ends_line = kind != "value" and version < 2
        taken = [f.strip() for f in fields[i + 1 : i + width]]
        last = "|".join(fields[i + width :]) if ends_line else fields[i + width]
        taken.append(last.strip())
        if kind == "condition":
            level, code, severity, qualifier, text = taken
            out.append(ShdrField(key, level, (level, code, severity, qualifier, text), "condition"))
        elif kind == "message":
            out.append(ShdrField(key, taken[1], kind="message", native_code=taken[0]))
        elif kind == "alarm":
            out.append(ShdrField(key, taken[4], kind="alarm", native_code=taken[1]))
        elif kind == "time_series":
            out.append(ShdrField(key, taken[2], kind="time_series"))
        else:
            out.append(ShdrField(key, taken[0]))
        if ends_line:
            break
        i += 1 + width
    return ts, out


def _looks_like_condition(after: list[str]) -> bool:
    """An unknown key's fields that only a condition explains (see :func:`parse_shdr_line`)."""
    return (
        len(after) == 5
        and after[0].strip().upper() in (*LEVELS, UNAVAILABLE)
        and not (after[1].strip() and after[3].strip())
    )


def shdr_kinds(items: Iterable[DataItem]) -> dict[str, ShdrKind]:
    """What each DataItem of a device model is in SHDR, by the keys an adapter may send for it (id and name)."""
    out: dict[str, ShdrKind] = {}
    for item in items:
        kind: ShdrKind = "value"
        if item.category == "CONDITION":
            kind = "condition"
        elif item.category == "EVENT" and item.type == "MESSAGE":
            kind = "message"
        elif item.category == "EVENT" and item.type == "ALARM":
            kind = "alarm"
        elif item.representation == "TIME_SERIES":
            kind = "time_series"
        for key in (item.id, item.name):
            if key:
                out.setdefault(key, kind)
    return out


# --- connectors ---------------------------------------------------------------------------------------------


@dataclass
class _Binding:
    path: str
    address: Address


@dataclass
class _Signals:
    """Bindings grouped by what the protocol delivers (a DataItem id, an SHDR key), with condition states."""

    by_key: dict[str, list[_Binding]] = field(default_factory=dict)
    conditions: dict[str, ConditionState] = field(default_factory=dict)


class _MtconnectBase(SessionConnector):
    """What the agent client and the SHDR client share: bindings and the samples they make."""

    protocol = "mtconnect"
    logger = log

    def __init__(self, name: str, endpoint: str, bindings: Mapping[str, str]) -> None:
        super().__init__(
            ConnectorStatus(name=name, type=self.protocol, endpoint=endpoint), types_of(bindings)
        )
        self.addresses = {path: address for address, path in self._parsed(bindings, parse_address)}
        self.signals = _Signals()
        self._complaints = RateLimitedLog(log, LOG_EVERY_S)

    def _bind(self, key: str, path: str, address: Address) -> None:
        self.signals.by_key.setdefault(key, []).append(_Binding(path, address))

    def _after_loss(self) -> None:
        self.signals.conditions.clear()

    def _complain(self, kind: str, reason: str) -> None:
        self.status.errors += 1
        self.status.last_error = reason
        self._complaints.warning(
            kind, "%s.observation connector=%s kind=%s error=%s", self.protocol, self.name, kind, reason
        )

    def _emit(
        self,
        key: str,
        ts: datetime,
        raw: str,
        item: DataItem | None = None,
        condition: tuple[str, str, str, str, str] | None = None,
        parts: Mapping[str, str] | None = None,
    ) -> list[Sample]:
        """Samples for one delivered observation of ``key``: a value (``raw``, typed by its binding's declared
        type, else by its DataItem ``item``, else text), a condition update, a message (``parts``: its ``code`` and
        ``text``), or UNAVAILABLE (a BAD sample carrying the last value)."""
        bound = self.signals.by_key.get(key)
        if not bound:
            return []
        state: ConditionState | None = None
        if condition is not None:
            state = self.signals.conditions.setdefault(key, ConditionState())
            try:
                state.update(*condition)
            except ObservationError as exc:
                self._complain(key, f"{key}: {exc}")
                return []
        out: list[Sample] = []
        for b in bound:
            part = b.address.part
            if (state is not None and state.unavailable) or (state is None and raw == UNAVAILABLE):
                if b.path in self._ledger.last:
                    out.append(Sample(b.path, ts, self._ledger.last[b.path], Quality.BAD))
            elif state is not None:
                out.append(Sample(b.path, ts, state.part(part or "level")))
            elif part is not None and (parts is None or part not in parts):
                kind = "a message's" if parts is not None else "a condition's"
                self._complain(key, f"{b.address}: {key} is not a condition, and {part!r} is not {kind} part")
            else:
                text = raw if part is None or parts is None else parts[part]
                try:
                    out.append(Sample(b.path, ts, self._value(b.path, text, item if part is None else None)))
                except (ObservationError, ValueError) as exc:
                    self._complain(key, f"{b.path}: {exc}")
        return out

    def _value(self, path: str, text: str, item: DataItem | None) -> Value:
        """An observation's text as a value: the type the binding declares, else the DataItem's, else text."""
        kind = self.types.get(path)
        if kind is not None:
            return coerce(text, kind)
        return item.value(text) if item is not None else text


class MtconnectConnector(_MtconnectBase):
    """Reads one MTConnect agent over HTTP. ``bindings`` maps an address (grammar above) to the UNS path it feeds.

    Session: ``probe`` (resolve addresses to DataItem ids), ``current`` (every item's latest value and the
    ``nextSequence``), then ``sample?from=<nextSequence>&count=<count>`` in a loop (Part 1, section 8). When the
    agent no longer holds ``from`` (``OUT_OF_RANGE``, or a ``firstSequence`` beyond it: the buffer wrapped while we
    were away) the gap is counted (``gaps``; the observations skipped in ``status.dropped``) and the session goes
    on from a new ``current``, whose snapshot carries each item's latest value. A different ``instanceId`` is a
    restarted agent whose device model may have changed: probe again, then ``current``.
    """

    protocol = "mtconnect"

    def __init__(self, name: str, config: MtconnectAgentConfig, bindings: Mapping[str, str]) -> None:
        base = config.url.rstrip("/")
        self.base_url = f"{base}/{config.device}" if config.device else base
        super().__init__(name, self.base_url, bindings)
        self.config = config
        self.items: dict[str, DataItem] = {}
        self.instance_id: str | None = None
        self.gaps = 0  # times the stream lost its place in the agent's buffer
        self.probes = 0  # probe requests, for diagnostics (a restarted agent is probed again)
        self._gap_from: int | None = None

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    async def _session(self) -> AsyncIterator[list[Sample]]:
        cfg = self.config
        async with httpx.AsyncClient(timeout=cfg.timeout_s, headers={"Accept": "application/xml"}) as client:
            await self._probe(client)
            self._up(items=len(self.items), signals=sum(len(v) for v in self.signals.by_key.values()))
            while True:  # one round: current, then samples until the stream loses its place
                header, batch = await self._read(client, "current")
                if self._gap_from is not None:
                    skipped = max(0, header.next_sequence - self._gap_from)
                    self.status.dropped += skipped
                    log.warning(
                        "mtconnect.gap connector=%s from=%d skipped=%d", self.name, self._gap_from, skipped
                    )
                    self._gap_from = None
                yield batch
                async for batch in self._samples(client, header.next_sequence):
                    yield batch

    async def _samples(self, client: httpx.AsyncClient, start: int) -> AsyncIterator[list[Sample]]:
        interval = self.config.poll_interval_ms / 1000
        due = time.monotonic()
        nxt = start
        while True:
            due += interval
            try:
                header, batch = await self._read(client, f"sample?from={nxt}&count={self.config.count}")
            except AgentError as exc:
                if exc.header is not None and exc.header.instance_id != self.instance_id:
                    await self._restarted(client, exc.header)  # its sequence numbers started again
                    return
                if "OUT_OF_RANGE" not in exc.codes:
                    raise
                self._gap(nxt, str(exc))
                return
            if header.instance_id != self.instance_id:
                await self._restarted(client, header)
                return
            if header.first_sequence > nxt:
                self._gap(nxt, f"firstSequence {header.first_sequence} is past from={nxt}")
                return
            yield batch
            nxt = header.next_sequence
            now = time.monotonic()
            if nxt <= header.last_sequence or due < now:  # more waiting, or we overran: go on at once
                due = now
            await asyncio.sleep(due - now)

    def _gap(self, nxt: int, why: str) -> None:
        """The agent no longer holds ``nxt``; the next ``current`` tells how many observations were skipped."""
        self.gaps += 1
        self._gap_from = nxt
        log.info("mtconnect.out_of_range connector=%s from=%d reason=%s", self.name, nxt, why)

    async def _restarted(self, client: httpx.AsyncClient, header: Header) -> None:
        log.warning(
            "mtconnect.restart connector=%s instance_was=%s instance=%s",
            self.name,
            self.instance_id,
            header.instance_id,
        )
        self.signals.conditions.clear()
        await self._probe(client)

    async def _get(self, client: httpx.AsyncClient, request: str) -> bytes:
        response = await client.get(f"{self.base_url}/{request}")
        if response.status_code >= 500:
            raise ConnectorError(f"GET {request}: HTTP {response.status_code}")
        return response.content  # 4xx bodies are MTConnectError documents, which the parsers raise

    async def _probe(self, client: httpx.AsyncClient) -> None:
        """Read the device model and resolve every address to a DataItem id (Part 2)."""
        self.probes += 1
        header, items = parse_probe(await self._get(client, "probe"))
        self.instance_id = header.instance_id
        self.items = {i.id: i for i in items}
        self.signals.by_key.clear()
        for path, address in self.addresses.items():
            found = resolve(address, items)
            if isinstance(found, str):
                self._bad_binding(path, found)
                continue
            self.status.bad_bindings.pop(path, None)
            if address.part is not None and found.category != "CONDITION":
                self._bad_binding(path, f"{address}: {found.id} is a {found.category}, not a CONDITION")
                continue
            self._bind(found.id, path, address)

    async def _read(self, client: httpx.AsyncClient, request: str) -> tuple[Header, list[Sample]]:
        """Fetch a streams document and turn its observations into samples (sequence order)."""
        header, observations, skipped = parse_streams(await self._get(client, request))
        for reason in skipped:
            self._complain("document", reason)
        if request == "current" and header.instance_id != self.instance_id:
            await self._restarted(client, header)
            header, observations, skipped = parse_streams(await self._get(client, request))
        batch: list[Sample] = []
        for obs in sorted(observations, key=lambda o: o.sequence):
            item = self.items.get(obs.data_item_id)
            if item is None or obs.data_item_id not in self.signals.by_key:
                continue
            if obs.category == "CONDITION":
                condition = (obs.value, obs.native_code, obs.native_severity, obs.qualifier, obs.text)
                batch.extend(self._emit(item.id, obs.ts, obs.value, condition=condition))
            elif item.type == "MESSAGE":
                parts = {"code": obs.native_code, "text": obs.value}
                batch.extend(self._emit(item.id, obs.ts, obs.value, item, parts=parts))
            else:
                batch.extend(self._emit(item.id, obs.ts, obs.value, item))
        return header, batch


def resolve(address: Address, items: Iterable[DataItem]) -> DataItem | str:
    """The DataItem an address names, or why there is none (or more than one)."""
    items = list(items)
    if address.kind == "type":
        found = [
            i
            for i in items
            if i.type.upper() == address.ref
            and (address.sub_type is None or (i.sub_type or "").upper() == address.sub_type)
        ]
    else:
        found = [i for i in items if address.kind in ("any", "id") and i.id == address.ref]
        if not found and address.kind in ("any", "name"):
            found = [i for i in items if i.name == address.ref]
    if len(found) == 1:
        return found[0]
    if not found:
        return f"{address}: no such DataItem in the agent's probe response"
    return f"{address}: ambiguous, matches DataItems {', '.join(i.id for i in found[:10])}; use id:<id>"


class ShdrConnector(_MtconnectBase):
    """Reads one SHDR adapter over TCP (cppagent "Adapter Agent Protocol"). ``bindings``: address -> UNS path.

    Addresses name the keys the adapter sends (``id:``/``name:`` are accepted and mean the same; ``type:`` needs a
    device model). What each key is (a value, a condition, a message, a time series) and a value's type come from
    the device model (``device_model``) and the settings' ``conditions``, ``messages`` and ``time_series``, never
    from how the line looks (:func:`parse_shdr_line`); without a model and a declared type, values are text.

    Heartbeat: on connect werk sends ``* PING``; an adapter that answers ``* PONG <ms>`` is pinged every <ms> and is
    declared lost after twice that without a byte from it. ``* shdrVersion: <n>`` sets how multi-field observations
    end (:func:`parse_shdr_line`); other ``*`` lines (``* uuid: ...``) are logged at debug level. Asset commands
    (``@ASSET@``, ``@UPDATE_ASSET@``, ``@REMOVE_ASSET@``, ``@REMOVE_ALL_ASSETS@``, an asset's XML in one line or in
    a ``--multiline--<tag>`` block up to :data:`SHDR_MAX_BLOCK` bytes) are counted in ``assets`` and not mapped.
    """

    protocol = "shdr"

    def __init__(self, name: str, config: ShdrConfig, bindings: Mapping[str, str]) -> None:
        super().__init__(name, f"shdr://{config.host}:{config.port}", bindings)
        self.config = config
        self.heartbeat_s: float | None = None  # the period the adapter announced, while connected
        self.pings = 0
        self.version = 1  # the SHDR version the adapter announced (1 until it says otherwise)
        self.assets = 0  # asset commands received, for diagnostics
        self.model: dict[
            str, DataItem
        ] = {}  # the device model's DataItems by the keys an adapter sends (id, name)
        self.kinds: dict[str, ShdrKind] = {}
        self._block: _Multiline | None = None
        for path, address in self.addresses.items():
            if address.kind != "type":
                self._bind(address.ref, path, address)
            elif config.device_model is None:
                self._bad_binding(path, f"{address}: a type: address needs the adapter's device_model")
        self._learn_kinds()

    def _learn_kinds(self) -> None:
        """What each key is: the settings' lists over the device model, a binding's condition part below both."""
        kinds = shdr_kinds(self.model.values())
        for key, bound in self.signals.by_key.items():
            if any(b.address.part for b in bound):
                kinds.setdefault(key, "condition")
        cfg = self.config
        for keys, kind in (
            (cfg.conditions, "condition"),
            (cfg.messages, "message"),
            (cfg.time_series, "time_series"),
        ):
            kinds.update(dict.fromkeys(keys, kind))  # type: ignore[arg-type]  # one of ShdrKind's literals
        self.kinds = kinds

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    def _loss_level(self, exc: Exception, was_connected: bool) -> int | None:
        # a device model that cannot be read is configuration: retrying alone will not mend it
        return logging.ERROR if isinstance(exc, ModelError) else None

    async def _load_model(self) -> None:
        """Read the device model (a Devices.xml file or an agent's probe URL) and resolve ``type:`` addresses."""
        cfg = self.config
        source = cfg.device_model
        assert source is not None
        try:
            if source.startswith(("http://", "https://")):
                async with httpx.AsyncClient(timeout=cfg.timeout_s) as client:
                    response = await client.get(source)
                    response.raise_for_status()
                    document = response.content
            else:
                document = await asyncio.to_thread(Path(source).read_bytes)
            _, items = parse_probe(document)
        except (OSError, httpx.HTTPError, ConnectorError) as exc:
            raise ModelError(f"device_model {source!r} cannot be read: {exc}") from None
        if cfg.device is not None:
            items = [i for i in items if cfg.device in (i.device, i.device_uuid)]
            if not items:
                raise ModelError(f"device_model {source!r} has no device {cfg.device!r}")
        self.model = {k: i for i in items for k in (i.id, i.name) if k}
        for path, address in self.addresses.items():
            if address.kind != "type" or any(
                b.path == path for bs in self.signals.by_key.values() for b in bs
            ):
                continue
            found = resolve(address, items)
            if isinstance(found, str):
                self._bad_binding(path, found)
                continue
            self.status.bad_bindings.pop(path, None)
            for key in {found.id, found.name or found.id}:
                self._bind(key, path, address)
        self._learn_kinds()

    async def _session(self) -> AsyncIterator[list[Sample]]:
        cfg = self.config
        self.heartbeat_s = None
        self.version = 1
        self._block = None
        if cfg.device_model is not None:
            await self._load_model()
        async with asyncio.timeout(cfg.timeout_s):
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port, limit=SHDR_MAX_LINE)
        pinger: asyncio.Task[None] | None = None
        try:
            self._up(keys=len(self.signals.by_key), model=len(self.model))
            if cfg.heartbeat:
                await self._ping(writer)
            while True:
                silence = 2 * self.heartbeat_s if self.heartbeat_s else cfg.idle_timeout_s
                try:
                    async with asyncio.timeout(silence):
                        raw = await _read_line(reader)
                except TimeoutError:
                    raise ConnectorError(f"nothing from the adapter for {silence:g} s") from None
                if raw is None:
                    self._complain("line", f"line longer than {SHDR_MAX_LINE} bytes")
                    continue
                if not raw:
                    raise ConnectorError("the adapter closed the connection")
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if self._block is not None:
                    whole = self._block.add(line)
                    if whole is not None:
                        block, self._block = self._block, None
                        if block.size > SHDR_MAX_BLOCK:
                            self._complain("multiline", f"multiline block over {SHDR_MAX_BLOCK} bytes")
                        else:
                            yield self._line(whole)
                    continue
                if line.startswith("*"):
                    if self._command(line) and pinger is None:
                        pinger = asyncio.create_task(self._pinger(writer), name=f"shdr-ping-{self.name}")
                    continue
                head, bar, last = line.rpartition("|")
                # a block's body follows on lines of its own, up to its marker
                if bar and last.strip().startswith(MULTILINE) and len(last.strip()) > len(MULTILINE):
                    self._block = _Multiline(head + bar, last.strip())
                    continue
                if line.strip():
                    yield self._line(line)
        finally:
            if pinger is not None:
                pinger.cancel()
                await asyncio.gather(pinger, return_exceptions=True)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _command(self, line: str) -> bool:
        """Handle a ``*`` line; True when it is the first PONG, which starts the heartbeat."""
        words = line[1:].split()
        if words[:1] == ["PONG"]:
            first = self.heartbeat_s is None
            try:
                self.heartbeat_s = int(words[1]) / 1000 if len(words) > 1 and int(words[1]) > 0 else None
            except ValueError:
                self._complain("pong", f"PONG period {words[1]!r} is not milliseconds")
            return first and self.heartbeat_s is not None
        if words[:1] == ["shdrVersion:"] and len(words) > 1 and words[1].isdigit():
            self.version = int(words[1])
        log.debug("shdr.command connector=%s line=%s", self.name, line[:200])
        return False

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* PING\n")
        await writer.drain()
        self.pings += 1

    async def _pinger(self, writer: asyncio.StreamWriter) -> None:
        while self.heartbeat_s:
            await asyncio.sleep(self.heartbeat_s)
            await self._ping(writer)

    def _line(self, line: str) -> list[Sample]:
        try:
            ts, fields = parse_shdr_line(line, self.kinds, version=self.version)
        except ObservationError as exc:
            self._complain("line", f"{exc}: {line[:120]!r}")
            return []
        when = ts or utcnow()
        out: list[Sample] = []
        for f in fields:
            if f.kind == "asset":
                self.assets += 1
                log.debug("shdr.asset connector=%s command=%s asset=%s", self.name, f.key, f.value[:120])
                continue
            key = f.key if f.key in self.signals.by_key else f.key.partition(":")[2] or f.key
            item = self.model.get(key)
            if f.kind in ("message", "alarm"):
                parts = {"code": f.native_code, "text": f.value}
                out.extend(self._emit(key, when, f.value, item, parts=parts))
            else:
                out.extend(self._emit(key, when, f.value, item, f.condition))
        return out


class ModelError(ConnectorError):
    """The SHDR adapter's device model cannot be read or has not the device named."""


@dataclass
class _Multiline:
    """An SHDR ``--multiline--<tag>`` block (cppagent "Assets"): the line that opened it, up to the marker, and
    the lines after it until one that is the marker alone; the whole is one line with the lines as its last
    field."""

    head: str
    terminator: str
    lines: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, line: str) -> str | None:
        """Take the next line; the whole block once ``line`` is its terminator, else None. Past
        :data:`SHDR_MAX_BLOCK` bytes the lines are counted, not kept."""
        if line.strip() == self.terminator:
            return self.head + "\n".join(self.lines)
        self.size += len(line) + 1
        if self.size <= SHDR_MAX_BLOCK:
            self.lines.append(line)
        return None


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line; b"" at the end of the stream; None for a line over the reader's limit, skipped whole."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return b""  # closed; a last line without its newline is incomplete and not used
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    while True:  # drop what is buffered up to the newline (or all of it) until the newline has gone too
        try:
            await reader.readexactly(consumed)
            await reader.readuntil(b"\n")
            return None
        except asyncio.IncompleteReadError:
            return b""
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed


#: a binding's ``root`` is the prefix of the reference (``root: "id:"``)
AGENT_SPEC = ConnectorSpec.of(MtconnectAgentConfig, MtconnectConnector, title="MTConnect agent")
SHDR_SPEC = ConnectorSpec.of(
    ShdrConfig,
    ShdrConnector,
    title="MTConnect SHDR adapter",
    reference=docs(
        "Addresses and values are those of the MTConnect agent (above); what SHDR adds:",
        ShdrConnector.__doc__,
        parse_shdr_line.__doc__,
    ),
)
