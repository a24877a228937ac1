"""The MTConnect agent client and the SHDR client against real peers on loopback.

The agent is a small HTTP server in this file serving documents built at test time from the cppagent demo model in
``../shared/data/mtconnect/Devices.xml`` (Okuma + Mazak, schema 2.7, 216 DataItems): its probe is that file, its
``current``/``sample`` responses are MTConnectStreams documents over a bounded buffer, answering ``OUT_OF_RANGE``
as cppagent does. The adapter is an ``asyncio`` TCP server speaking SHDR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from tests.conftest import free_port, shared_data, wait_until
from tests.connect.conftest import Reader, _listen
from werk.config import load_config
from werk.config.model import WerkConfig
from werk.connect import Bindings, build_connectors
from werk.connect.mtconnect import (
    Address,
    ConditionState,
    MtconnectAgentConfig,
    MtconnectConnector,
    ObservationError,
    ShdrConfig,
    ShdrConnector,
    ShdrKind,
    parse_address,
    parse_probe,
    parse_shdr_line,
    parse_streams,
)
from werk.core.model import Quality, Sample
from werk.errors import ConfigError, ConnectorError

P = "acme/berlin/machining/line-1/cell-1/"
T0 = datetime(2026, 3, 4, 5, 6, 7, 250000, UTC)


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- a replaying agent ---------------------------------------------------------------------------------------


@dataclass
class _Item:
    id: str
    category: str
    type: str
    device: str
    uuid: str
    component: str
    component_id: str


@dataclass
class _Obs:
    seq: int
    item: str
    value: str
    ts: datetime
    attrs: dict[str, str]
    message: str = ""


class FakeAgent:
    """An MTConnect agent (Part 1 section 8) over HTTP/1.1 on a free loopback port.

    ``probe`` serves the shared Devices.xml with this run's instanceId; ``current`` serves every DataItem's latest
    observation; ``sample`` serves the bounded buffer and answers ``OUT_OF_RANGE`` (cppagent) when ``from`` is
    outside it, or, with ``legacy=True``, silently starts at ``firstSequence`` as some older agents do.
    """

    def __init__(
        self, devices_xml: Path, *, version: str = "2.7", buffer_size: int = 1024, legacy: bool = False
    ):
        self.devices_text = devices_xml.read_text()
        self.version = version
        self.buffer_size = buffer_size
        self.legacy = legacy
        self.port = free_port()
        self.items: dict[str, _Item] = {}
        ns = "{urn:mtconnect.org:MTConnectDevices:2.7}"
        for device in ET.fromstring(self.devices_text).iter(f"{ns}Device"):
            self._collect(device, device, device)
        self.instance_id = 1_700_000_000
        self.requests: list[str] = []
        self.errors_served = 0
        self._server: asyncio.Server | None = None
        self._reset()

    def _collect(self, device: ET.Element, component: ET.Element, el: ET.Element) -> None:
        for child in el:
            tag = child.tag.rpartition("}")[2]
            if tag == "DataItem":
                self.items[child.attrib["id"]] = _Item(
                    child.attrib["id"],
                    child.attrib["category"],
                    child.attrib["type"],
                    device.attrib["name"],
                    device.attrib["uuid"],
                    component.tag.rpartition("}")[2],
                    component.attrib["id"],
                )
            elif tag in ("Components", "DataItems") or "id" not in child.attrib:
                self._collect(device, component, child)
            else:
                self._collect(device, child, child)

    def _reset(self) -> None:
        """A fresh start: every DataItem UNAVAILABLE, sequence numbers from 1 (what an agent does at start)."""
        self.next_seq = 1
        self.buffer: deque[_Obs] = deque(maxlen=self.buffer_size)
        self.latest: dict[str, _Obs] = {}
        for item in self.items.values():
            self.add(item.id, "UNAVAILABLE", T0 - timedelta(hours=1))

    def add(self, item: str, value: str, ts: datetime, message: str = "", **attrs: str) -> int:
        """Record an observation; ``attrs`` (nativeCode...) and ``message`` are for conditions."""
        obs = _Obs(self.next_seq, item, value, ts, attrs, message)
        self.next_seq += 1
        self.buffer.append(obs)
        self.latest[item] = obs
        return obs.seq

    def restart(self) -> None:
        self.instance_id += 1
        self._reset()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = request.split(" ")[1]
            self.requests.append(target)
            status, body = self.respond(target)
            head = (
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def respond(self, target: str) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        request = path.rstrip("/").rpartition("/")[2]
        if request == "probe":
            text = re.sub(r'instanceId="\d+"', f'instanceId="{self.instance_id}"', self.devices_text, count=1)
            return 200, text.encode()
        first = self.buffer[0].seq
        if request == "current":
            return 200, self._streams(sorted(self.latest.values(), key=lambda o: o.seq), self.next_seq)
        if request == "sample":
            args = parse_qs(query)
            start, count = int(args["from"][0]), int(args.get("count", ["100"])[0])
            if start < first and self.legacy:
                start = first
            if not first <= start <= self.next_seq:
                self.errors_served += 1
                return 400, self._error("OUT_OF_RANGE", f"'from' must be between {first} and {self.next_seq}")
            chosen = [o for o in self.buffer if o.seq >= start][:count]
            return 200, self._streams(chosen, chosen[-1].seq + 1 if chosen else start)
        return 404, self._error("INVALID_REQUEST", f"unknown request {request}")

    def _header(self, nxt: int) -> str:
        return (
            f'<Header creationTime="{_iso(datetime.now(UTC))}" sender="werk-test" instanceId="{self.instance_id}" '
            f'version="{self.version}" bufferSize="{self.buffer_size}" nextSequence="{nxt}" '
            f'firstSequence="{self.buffer[0].seq}" lastSequence="{self.next_seq - 1}"/>'
        )

    def _error(self, code: str, text: str) -> bytes:
        ns = f"urn:mtconnect.org:MTConnectError:{self.version}"
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><MTConnectError xmlns="{ns}">{self._header(self.next_seq)}'
            f'<Errors><Error errorCode="{code}">{text}</Error></Errors></MTConnectError>'
        ).encode()

    def _streams(self, observations: list[_Obs], nxt: int) -> bytes:
        """An MTConnectStreams document: DeviceStream > ComponentStream > Samples/Events/Condition (Part 3)."""
        ns = f"urn:mtconnect.org:MTConnectStreams:{self.version}"
        root = ET.Element("MTConnectStreams", {"xmlns": ns})
        root.append(ET.fromstring(self._header(nxt)))
        streams = ET.SubElement(root, "Streams")
        devices: dict[str, ET.Element] = {}
        components: dict[tuple[str, str], ET.Element] = {}
        for obs in observations:
            item = self.items[obs.item]
            dev = devices.get(item.device)
            if dev is None:
                dev = devices[item.device] = ET.SubElement(
                    streams, "DeviceStream", {"name": item.device, "uuid": item.uuid}
                )
            comp = components.get((item.device, item.component_id))
            if comp is None:
                comp = components[(item.device, item.component_id)] = ET.SubElement(
                    dev, "ComponentStream", {"component": item.component, "componentId": item.component_id}
                )
            group = {"SAMPLE": "Samples", "EVENT": "Events", "CONDITION": "Condition"}[item.category]
            container = comp.find(group)
            if container is None:
                container = ET.SubElement(comp, group)
            attrs = {"dataItemId": item.id, "timestamp": _iso(obs.ts), "sequence": str(obs.seq)}
            if item.category == "CONDITION":
                tag = obs.value.capitalize()  # Normal, Warning, Fault, Unavailable
                el = ET.SubElement(container, tag, {**attrs, "type": item.type, **obs.attrs})
                el.text = obs.message or None
            else:
                tag = "".join(w.capitalize() for w in item.type.split("_"))  # PART_COUNT -> PartCount
                el = ET.SubElement(container, tag, attrs)
                el.text = obs.value
        return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root)


@pytest.fixture
def devices_xml() -> Path:
    return shared_data("mtconnect", "Devices.xml")


@contextlib.asynccontextmanager
async def running(agent: FakeAgent) -> AsyncIterator[FakeAgent]:
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


def _agent_config(url: str, **kw: Any) -> MtconnectAgentConfig:
    base: dict[str, Any] = {
        "type": "mtconnect",
        "url": url,
        "poll_interval_ms": 50,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "timeout_s": 2.0,
    }
    return MtconnectAgentConfig(**(base | kw))


def _latest(samples: list[Sample]) -> dict[str, Sample]:
    return {s.path.removeprefix(P): s for s in samples}


# --- pure parts ----------------------------------------------------------------------------------------------


def test_address_grammar() -> None:
    assert parse_address("execution") == Address("any", "execution")
    assert parse_address("id:dtop_2") == Address("id", "dtop_2")
    assert parse_address("name:Sspeed") == Address("name", "Sspeed")
    assert parse_address("type:rotary_velocity/actual") == Address("type", "ROTARY_VELOCITY", "ACTUAL")
    assert parse_address("system_cond#text") == Address("any", "system_cond", None, "text")
    assert str(parse_address("type:ROTARY_VELOCITY/ACTUAL")) == "type:ROTARY_VELOCITY/ACTUAL"
    for bad, why in (("x#colour", "unknown part"), ("id:", "empty"), ("a|b", "holds '|'")):
        with pytest.raises(ConnectorError, match=why):
            parse_address(bad)


def test_probe_reads_every_data_item_of_the_shared_model(devices_xml: Path) -> None:
    header, items = parse_probe(devices_xml.read_bytes())
    assert header.instance_id == "1"
    assert len(items) == 216
    by_id = {i.id: i for i in items}
    assert len(by_id) == 216  # ids are unique across the document
    assert {i.device for i in items} == {"OKUMA", "Mazak"}
    ex = by_id["Lpexecution"]
    assert (ex.name, ex.type, ex.category, ex.device, ex.numeric) == (
        "pexecution",
        "EXECUTION",
        "EVENT",
        "OKUMA",
        False,
    )
    rpm = by_id["Srpm"]
    assert (rpm.type, rpm.sub_type, rpm.category, rpm.units, rpm.numeric) == (
        "ROTARY_VELOCITY",
        "ACTUAL",
        "SAMPLE",
        "REVOLUTION/MINUTE",
        True,
    )
    assert by_id["PartCountAct"].numeric and not by_id["mode"].numeric
    assert by_id["system_cond"].category == "CONDITION"
    assert by_id["pathpos"].value("1.5 2 3") == "1.5 2 3"  # a vector stays text
    with pytest.raises(ObservationError, match="not a number"):
        by_id["Srpm"].value("fast")


def test_streams_in_1x_and_2x_namespaces_and_errors(devices_xml: Path) -> None:
    for version in ("1.3", "1.8", "2.0", "2.7"):
        agent = FakeAgent(devices_xml, version=version)
        agent.add("execution", "ACTIVE", T0)
        _, body = agent.respond("/sample?from=217&count=5")
        header, observations, skipped = parse_streams(body)
        assert (header.first_sequence, header.next_sequence, skipped) == (1, 218, [])
        (obs,) = observations
        assert (obs.data_item_id, obs.value, obs.ts, obs.sequence) == ("execution", "ACTIVE", T0, 217)
    status, body = agent.respond("/sample?from=999")
    assert status == 400
    with pytest.raises(ConnectorError, match="OUT_OF_RANGE") as info:
        parse_streams(body)
    assert info.value.header is not None and info.value.header.instance_id == str(agent.instance_id)  # type: ignore[attr-defined]


def test_shdr_lines() -> None:
    ts, fields = parse_shdr_line("2026-03-04T05:06:07.250Z|execution|ACTIVE|PartCountAct|17|Sspeed|1200.5")
    assert ts == T0
    assert [(f.key, f.value) for f in fields] == [
        ("execution", "ACTIVE"),
        ("PartCountAct", "17"),
        ("Sspeed", "1200.5"),
    ]
    # a known condition key takes the rest of the line, so its message may hold '|'
    line = "2026-03-04T05:06:07.250123456|system_cond|FAULT|2001|HIGH||Spindle | overheat"
    ts, (cond,) = parse_shdr_line(line, ["system_cond"])
    assert ts == T0.replace(microsecond=250123)  # nine digits read as six; no offset means UTC
    assert cond.condition == ("FAULT", "2001", "HIGH", "", "Spindle | overheat")
    ts, (unavailable,) = parse_shdr_line("|Xtravel|UNAVAILABLE||||")
    assert ts is None and unavailable.condition is not None and unavailable.condition[0] == "UNAVAILABLE"
    assert parse_shdr_line("2026-03-04T05:06:07Z@100.0|mode|MANUAL")[0] == T0.replace(microsecond=0)
    for bad, why in (
        ("garbage", "needs"),
        ("yesterday|a|1", "not ISO 8601"),
        ("2026-03-04T05:06:07Z|a|1|b", "has no value"),
        ("2026-03-04T05:06:07Z||1", "empty key"),
    ):
        with pytest.raises(ObservationError, match=why):
            parse_shdr_line(bad)
    with pytest.raises(ObservationError, match="needs level"):
        parse_shdr_line("2026-03-04T05:06:07Z|system_cond|FAULT|2001", ["system_cond"])


def test_an_unavailable_value_followed_by_more_pairs_is_a_value_not_a_condition() -> None:
    line = "2026-03-04T05:06:07Z|part_id|UNAVAILABLE|execution|ACTIVE|mode|AUTOMATIC"
    _, fields = parse_shdr_line(line)
    assert [(f.key, f.value, f.condition) for f in fields] == [
        ("part_id", "UNAVAILABLE", None),
        ("execution", "ACTIVE", None),
        ("mode", "AUTOMATIC", None),
    ]
    # what a key is comes from the model, whatever follows it: a condition is one because the model says so
    kinds: dict[str, ShdrKind] = {"system": "condition", "msg": "message", "ts1": "time_series"}
    _, (cond,) = parse_shdr_line("2026-03-04T05:06:07Z|system|FAULT|2001|HIGH|LOW|overheat", kinds)
    assert cond.condition == ("FAULT", "2001", "HIGH", "LOW", "overheat")
    _, (msg,) = parse_shdr_line("2026-03-04T05:06:07Z|msg|E42|door open|not a key", kinds)
    assert (msg.kind, msg.native_code, msg.value) == ("message", "E42", "door open|not a key")
    _, (series,) = parse_shdr_line("2026-03-04T05:06:07Z|ts1|3|100|1.5 2 2.5", kinds)
    assert (series.kind, series.value) == ("time_series", "1.5 2 2.5")
    # version 2: an observation of several fields takes its own and the line goes on
    _, fields = parse_shdr_line("|msg|E42|door open|execution|READY", kinds, version=2)
    assert [(f.key, f.value) for f in fields] == [("msg", "door open"), ("execution", "READY")]


def test_asset_commands_take_their_own_fields() -> None:
    _, fields = parse_shdr_line("2026-03-04T05:06:07Z|@REMOVE_ASSET@|KSSP300R.1|execution|READY")
    assert [(f.key, f.value, f.kind) for f in fields] == [
        ("@REMOVE_ASSET@", "KSSP300R.1", "asset"),
        ("execution", "READY", "value"),
    ]
    _, (asset,) = parse_shdr_line("2026-03-04T05:06:07Z|@ASSET@|T1|CuttingTool|<CuttingTool a='|'/>")
    assert (asset.key, asset.value, asset.kind) == ("@ASSET@", "T1", "asset")


def test_event_identifiers_stay_text_and_overrides_that_are_switches_are_no_numbers(
    devices_xml: Path,
) -> None:
    _, items = parse_probe(devices_xml.read_bytes())
    by_id = {i.id: i for i in items}
    assert by_id["Tool_number"].value("0012") == "0012"  # TOOL_NUMBER: an identifier
    assert by_id["program"].value("0001") == "0001"
    assert by_id["cmosingleblock"].value("ON") == "ON"  # CONTROLLER_MODE_OVERRIDE: ON or OFF
    assert by_id["Fovr"].value("100") == 100 and by_id["Lp1linenumber"].value("0042") == 42
    assert by_id["PartCountAct"].value("17") == 17 and by_id["Srpm"].value("1200.50") == 1200.5


def test_condition_state_follows_native_codes() -> None:
    state = ConditionState()
    assert state.part("level") == "NORMAL" and state.part("text") == ""
    state.update("WARNING", "10", "", "", "coolant low")
    state.update("FAULT", "20", "HIGH", "", "overheat")
    assert (state.part("level"), state.part("code"), state.part("text")) == ("FAULT", "20", "overheat")
    state.update("NORMAL", "20", "", "", "")
    assert (state.part("level"), state.part("text")) == ("WARNING", "coolant low")
    state.update("NORMAL", "", "", "", "")
    assert state.part("level") == "NORMAL"
    state.update("UNAVAILABLE", "", "", "", "")
    assert state.unavailable
    with pytest.raises(ObservationError):
        state.update("BROKEN", "", "", "", "")


def test_build_connectors_makes_mtconnect_shdr_and_sparkplug() -> None:
    def asset(connector: str, root: str, signals: dict[str, str]) -> dict[str, Any]:
        return {"kind": "cnc", "source": {"connector": connector, "root": root, "signals": signals}}

    assets = {
        "mazak": asset("agent", "", {"execution": "execution"}),
        "okuma": asset("adapter", "", {"speed": "name:S1speed"}),
        "press": asset("sp", "G1/edge/press/", {"force": "F"}),
    }
    cells = {"lines": {"l": {"cells": {"c": {"assets": assets}}}}}
    config = WerkConfig.model_validate(
        {
            "plant": {"enterprise": "acme", "sites": {"s": {"areas": {"a": cells}}}},
            "connectors": {
                "agent": {"type": "mtconnect", "url": "http://127.0.0.1:5000", "device": "Mazak"},
                "adapter": {"type": "shdr", "port": 7878},
                "sp": {"type": "sparkplug", "host_id": "werk"},
            },
        }
    )
    agent, adapter, sp = build_connectors(config)
    assert isinstance(agent, MtconnectConnector) and isinstance(adapter, ShdrConnector)
    assert agent.status.endpoint == "http://127.0.0.1:5000/Mazak"
    assert agent.addresses == {"acme/s/a/l/c/mazak/execution": Address("any", "execution")}
    assert adapter.status.endpoint == "shdr://127.0.0.1:7878" and "S1speed" in adapter.signals.by_key
    assert sp.status.type == "sparkplug"
    assert sp.bindings == {("G1", "edge", "press", "F"): "acme/s/a/l/c/press/force"}  # type: ignore[attr-defined]


def test_config_models_refuse_what_cannot_work(tmp_path: Path) -> None:
    for bad in (
        {"url": "ftp://agent"},
        {"url": "http://agent", "device": "a/b"},
        {"url": "http://a", "count": 0},
    ):
        with pytest.raises(ValidationError):
            MtconnectAgentConfig(type="mtconnect", **bad)
    assert ShdrConfig(type="shdr").port == 7878 and ShdrConfig(type="shdr").heartbeat
    plant = tmp_path / "plant.yaml"
    plant.write_text(
        "plant:\n  enterprise: acme\n  sites: {}\nconnectors:\n  adapter:\n    type: shdr\n    port: 0\n"
    )
    with pytest.raises(ConfigError, match=r"plant.yaml:7: connectors.adapter.port: "):
        load_config(plant)  # the message names the key path without the union's tag


# --- against the replaying agent -----------------------------------------------------------------------------


AGENT_BINDINGS = {
    "execution": P + "mazak/execution",
    "name:pexecution": P + "okuma/execution",
    "id:PartCountAct": P + "mazak/part_count",
    "name:S1speed": P + "okuma/spindle_speed",
    "type:ROTARY_VELOCITY/ACTUAL": P + "ambiguous",
    "Sload": P + "mazak/spindle_load",
    "mode": P + "mazak/controller_mode",
    "system_cond": P + "mazak/system",
    "system_cond#text": P + "mazak/system_text",
    "system_cond#code": P + "mazak/system_code",
    "id:Srpm#level": P + "not_a_condition",
    "no_such_item": P + "missing",
}


@pytest.mark.parametrize("version", ["1.3", "2.7"])
async def test_agent_values_types_and_timestamps(
    devices_xml: Path, readers: list[Reader], version: str
) -> None:
    agent = FakeAgent(devices_xml, version=version)
    agent.add("execution", "ACTIVE", T0)
    agent.add("Lpexecution", "READY", T0)
    agent.add("PartCountAct", "17", T0)
    agent.add("LS1speed", "1200.5", T0 + timedelta(seconds=1))
    agent.add("Sload", "33", T0)
    agent.add("mode", "AUTOMATIC", T0)
    agent.add(
        "system_cond", "FAULT", T0, nativeCode="2001", nativeSeverity="HIGH", message="Spindle overheat"
    )
    async with running(agent):
        conn = MtconnectConnector("agent", _agent_config(agent.url), AGENT_BINDINGS)
        reader = await _listen(readers, conn)
        got = _latest(await reader.until(lambda g: len(g) >= 9))
    assert {k: (v.value, v.ts) for k, v in got.items()} == {
        "mazak/execution": ("ACTIVE", T0),
        "okuma/execution": ("READY", T0),
        "mazak/part_count": (17, T0),
        "okuma/spindle_speed": (1200.5, T0 + timedelta(seconds=1)),
        "mazak/spindle_load": (33.0, T0),
        "mazak/controller_mode": ("AUTOMATIC", T0),
        "mazak/system": ("FAULT", T0),
        "mazak/system_text": ("Spindle overheat", T0),
        "mazak/system_code": ("2001", T0),
    }
    assert type(got["mazak/part_count"].value) is int and type(got["mazak/spindle_load"].value) is float
    assert all(s.quality is Quality.GOOD for s in got.values())
    bad = conn.status.bad_bindings
    assert set(bad) == {P + "ambiguous", P + "not_a_condition", P + "missing"}
    assert "ambiguous" in bad[P + "ambiguous"] and "LS1speed" in bad[P + "ambiguous"]
    assert "not a CONDITION" in bad[P + "not_a_condition"]
    assert "no such DataItem" in bad[P + "missing"]
    assert agent.requests[:2] == ["/probe", "/current"] and conn.probes == 1


async def test_agent_streams_every_observation_from_next_sequence(
    devices_xml: Path, readers: list[Reader]
) -> None:
    agent = FakeAgent(devices_xml)
    async with running(agent):
        conn = MtconnectConnector("agent", _agent_config(agent.url, count=3), {"PartCountAct": P + "count"})
        reader = await _listen(readers, conn)
        await wait_until(lambda: any(r.startswith("/sample") for r in agent.requests))
        first = agent.next_seq
        seqs = [agent.add("PartCountAct", str(n), T0 + timedelta(seconds=n)) for n in range(1, 8)]
        got = await reader.until(lambda g: len(g) >= 7)
    assert [(s.value, s.ts) for s in got] == [(n, T0 + timedelta(seconds=n)) for n in range(1, 8)]
    froms = [
        int(r.partition("from=")[2].partition("&")[0]) for r in agent.requests if r.startswith("/sample")
    ]
    # it asked from the nextSequence of current, then from each response's nextSequence, three at a time
    assert froms[0] == first and seqs[0] == first
    assert {first, first + 3, first + 6} <= set(froms) and all("count=3" in r for r in agent.requests[2:])
    assert conn.gaps == 0 and conn.status.dropped == 0


@pytest.mark.parametrize("legacy", [False, True], ids=["out_of_range", "first_sequence_past_from"])
async def test_agent_sequence_gap_restarts_from_current(
    devices_xml: Path, readers: list[Reader], legacy: bool
) -> None:
    agent = FakeAgent(devices_xml, buffer_size=32, legacy=legacy)
    async with running(agent):
        cfg = _agent_config(agent.url, count=2, poll_interval_ms=200)
        conn = MtconnectConnector("agent", cfg, {"PartCountAct": P + "count", "execution": P + "exec"})
        reader = await _listen(readers, conn)
        await wait_until(lambda: any(r.startswith("/sample") for r in agent.requests))
        agent.add("execution", "ACTIVE", T0)
        for n in range(1, 61):  # all at once, before the next poll: the buffer (32) wraps past `from`
            agent.add("PartCountAct", str(n), T0 + timedelta(seconds=n))
        got = await reader.until(lambda g: any(s.value == 60 for s in g))
        values = [s.value for s in got if s.path == P + "count"]
        assert (
            values[-1] == 60 and len(values) < 60
        )  # the latest arrived through a new current, not one by one
        assert _latest(got)["exec"].value == "ACTIVE"
        assert conn.gaps == 1 and conn.status.dropped >= 40
        assert agent.errors_served == (0 if legacy else 1)
        assert agent.requests.count("/current") == 2 and conn.status.connected
        n = len(reader.samples)
        agent.add("PartCountAct", "61", T0)
        got = await reader.until(lambda g: len(g) > n)
        assert got[-1].value == 61  # and it streams on


async def test_agent_restart_is_probed_again(devices_xml: Path, readers: list[Reader]) -> None:
    agent = FakeAgent(devices_xml)
    agent.add("execution", "ACTIVE", T0)
    async with running(agent):
        conn = MtconnectConnector(
            "agent", _agent_config(agent.url), {"execution": P + "exec", "mode": P + "mode"}
        )
        reader = await _listen(readers, conn)
        await reader.until(lambda g: len(g) >= 1)
        await wait_until(lambda: any(r.startswith("/sample") for r in agent.requests))
        agent.restart()  # new instanceId; every item UNAVAILABLE; sequences from 1 again
        agent.add("execution", "READY", T0 + timedelta(minutes=1))
        got = await reader.until(lambda g: any(s.value == "READY" for s in g))
    assert conn.probes == 2 and agent.requests.count("/probe") == 2
    assert conn.instance_id == str(agent.instance_id)
    assert [(s.value, s.quality) for s in got] == [("ACTIVE", Quality.GOOD), ("READY", Quality.GOOD)]
    assert conn.gaps == 0


async def test_agent_loss_marks_bad_then_recovers(devices_xml: Path, readers: list[Reader]) -> None:
    agent = FakeAgent(devices_xml)
    agent.add("execution", "ACTIVE", T0)
    agent.add("Lpexecution", "UNAVAILABLE", T0)
    await agent.start()
    try:
        bindings = {"execution": P + "exec", "Lpexecution": P + "okuma", "mode": P + "mode"}
        conn = MtconnectConnector("agent", _agent_config(agent.url), bindings)
        reader = await _listen(readers, conn)
        await reader.until(lambda g: len(g) >= 1)
        await agent.stop()
        got = await reader.until(lambda g: any(s.quality is Quality.BAD for s in g))
        assert [(s.path, s.value) for s in got if s.quality is Quality.BAD] == [(P + "exec", "ACTIVE")]
        assert not conn.status.connected and conn.status.errors >= 1
        await agent.start()
        agent.add("execution", "STOPPED", T0 + timedelta(seconds=5))
        got = await reader.until(lambda g: g[-1].value == "STOPPED")
        assert got[-1].quality is Quality.GOOD and conn.status.connected and conn.status.reconnects >= 1
    finally:
        await agent.stop()


async def test_agent_unavailable_is_bad_with_the_last_value(devices_xml: Path, readers: list[Reader]) -> None:
    agent = FakeAgent(devices_xml)
    agent.add("Srpm", "800", T0)
    async with running(agent):
        conn = MtconnectConnector("agent", _agent_config(agent.url), {"Srpm": P + "rpm"})
        reader = await _listen(readers, conn)
        await reader.until(lambda g: len(g) >= 1)
        await wait_until(lambda: any(r.startswith("/sample") for r in agent.requests))
        agent.add("Srpm", "UNAVAILABLE", T0 + timedelta(seconds=1))
        agent.add("Srpm", "not-a-number", T0 + timedelta(seconds=2))
        agent.add("Srpm", "900", T0 + timedelta(seconds=3))
        got = await reader.until(lambda g: len(g) >= 3)
    assert [(s.value, s.quality) for s in got] == [
        (800.0, Quality.GOOD),
        (800.0, Quality.BAD),
        (900.0, Quality.GOOD),
    ]
    assert got[1].ts == T0 + timedelta(seconds=1)
    assert conn.status.errors == 1 and "not a number" in conn.status.last_error


# --- SHDR ----------------------------------------------------------------------------------------------------


class FakeAdapter:
    """An SHDR adapter on a free loopback port: sends the lines it is given, answers ``* PING`` with ``* PONG``."""

    def __init__(self, pong_ms: int | None = 10_000) -> None:
        self.port = free_port()
        self.pong_ms = pong_ms
        self.pings = 0
        self.connections = 0
        self.mute = False
        self.connected = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in self._writers:
                w.close()
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None
        self.connected.clear()

    async def send(self, *lines: str) -> None:
        for w in self._writers:
            w.write("".join(line + "\n" for line in lines).encode())
            await w.drain()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        self.connected.set()
        try:
            while line := await reader.readline():
                if line.strip() == b"* PING":
                    self.pings += 1
                    if self.pong_ms is not None and not self.mute:
                        writer.write(f"* PONG {self.pong_ms}\n".encode())
                        await writer.drain()
        except ConnectionError:
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()


@pytest.fixture
async def adapters() -> AsyncIterator[list[FakeAdapter]]:
    made: list[FakeAdapter] = []
    yield made
    for a in made:
        await a.stop()


async def _adapter(adapters: list[FakeAdapter], pong_ms: int | None = 10_000) -> FakeAdapter:
    adapter = FakeAdapter(pong_ms)
    adapters.append(adapter)
    await adapter.start()
    return adapter


def _shdr_config(port: int, **kw: Any) -> ShdrConfig:
    base: dict[str, Any] = {"type": "shdr", "port": port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2}
    return ShdrConfig(**(base | kw))


SHDR_BINDINGS = {
    "execution": P + "exec",
    "PartCountAct": P + "count",
    "Sspeed": P + "speed",
    "mode": P + "mode",
    "system_cond": P + "system",
    "system_cond#text": P + "system_text",
    "id:Sload": P + "load",
}


async def test_shdr_values_conditions_and_unavailable(
    adapters: list[FakeAdapter], readers: list[Reader]
) -> None:
    adapter = await _adapter(adapters)
    # SHDR carries no types: the plant file declares the numbers (without a device model they stay text)
    typed = Bindings(SHDR_BINDINGS, types={P + "count": "int", P + "speed": "float", P + "load": "int"})
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), typed)
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    before = datetime.now(UTC)
    await adapter.send(
        "* shdrVersion: 2",
        "2026-03-04T05:06:07.250Z|execution|ACTIVE|PartCountAct|17|Sspeed|1200.5|unbound|x",
        "2026-03-04T05:06:08Z|system_cond|FAULT|2001|HIGH||Spindle overheat",
        "|mode|AUTOMATIC|Sload|33",
        "2026-03-04T05:06:09Z|Sspeed|UNAVAILABLE",
        "2026-03-04T05:06:10Z|system_cond|NORMAL||||",
    )
    got = await reader.until(lambda g: len(g) >= 10)
    rows = [(s.path.removeprefix(P), s.value, s.quality) for s in got]
    assert rows == [
        ("exec", "ACTIVE", Quality.GOOD),
        ("count", 17, Quality.GOOD),
        ("speed", 1200.5, Quality.GOOD),
        ("system", "FAULT", Quality.GOOD),
        ("system_text", "Spindle overheat", Quality.GOOD),
        ("mode", "AUTOMATIC", Quality.GOOD),
        ("load", 33, Quality.GOOD),
        ("speed", 1200.5, Quality.BAD),
        ("system", "NORMAL", Quality.GOOD),
        ("system_text", "", Quality.GOOD),
    ]
    assert got[0].ts == T0 and got[3].ts == T0 + timedelta(seconds=0.75)
    assert got[5].ts >= before  # no timestamp: the time it was received
    assert conn.status.errors == 0 and conn.status.samples == 10


async def test_shdr_heartbeat_pings_and_detects_a_silent_adapter(
    adapters: list[FakeAdapter], readers: list[Reader]
) -> None:
    adapter = await _adapter(adapters, pong_ms=100)
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), {"execution": P + "exec"})
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    await wait_until(lambda: adapter.pings >= 4, timeout=5)  # the first PING, then one every 100 ms
    assert conn.heartbeat_s == 0.1 and conn.status.connected and conn.status.errors == 0
    await adapter.send("2026-03-04T05:06:07Z|execution|ACTIVE")
    await reader.until(lambda g: len(g) >= 1)
    adapter.mute = True  # connected but silent: no PONG, no data
    got = await reader.until(lambda g: any(s.quality is Quality.BAD for s in g), timeout=5)
    assert (got[-1].value, got[-1].quality) == ("ACTIVE", Quality.BAD)
    assert "nothing from the adapter for 0.2 s" in conn.status.last_error
    adapter.mute = False
    await wait_until(lambda: adapter.connections >= 2 and conn.status.connected, timeout=5)


async def test_shdr_malformed_lines_are_counted_and_skipped(
    adapters: list[FakeAdapter], readers: list[Reader], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werk.connect.mtconnect")
    adapter = await _adapter(adapters)
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), SHDR_BINDINGS)
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    await adapter.send(
        "garbage",
        "2026-13-45T00:00:00Z|execution|ACTIVE",
        "2026-03-04T05:06:07Z|execution",
        "2026-03-04T05:06:07Z|system_cond|FAULT|2001",
        "x" * 70_000,
        "2026-03-04T05:06:07Z|execution|READY",
    )
    got = await reader.until(lambda g: len(g) >= 1)
    assert [(s.path, s.value) for s in got] == [(P + "exec", "READY")]
    assert conn.status.errors == 5 and conn.status.connected and conn.status.reconnects == 0
    logged = [r.getMessage() for r in caplog.records if "shdr.observation" in r.getMessage()]
    assert len(logged) == 1 and "kind=line" in logged[0]  # one line per kind a minute, the rest counted


async def test_shdr_adapter_restart_marks_bad_then_recovers(
    adapters: list[FakeAdapter], readers: list[Reader]
) -> None:
    adapter = await _adapter(adapters)
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), {"execution": P + "exec", "mode": P + "mode"})
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    await adapter.send("2026-03-04T05:06:07Z|execution|ACTIVE")
    await reader.until(lambda g: len(g) >= 1)
    await adapter.stop()
    got = await reader.until(lambda g: any(s.quality is Quality.BAD for s in g))
    assert [(s.path, s.value) for s in got if s.quality is Quality.BAD] == [(P + "exec", "ACTIVE")]
    assert "closed the connection" in conn.status.last_error
    await adapter.start()
    await asyncio.wait_for(adapter.connected.wait(), 5)
    await wait_until(lambda: conn.status.connected)
    await adapter.send("2026-03-04T05:06:08Z|execution|READY")
    got = await reader.until(lambda g: g[-1].value == "READY")
    assert got[-1].quality is Quality.GOOD and conn.status.reconnects >= 1


async def test_shdr_reads_keys_by_the_device_model_and_keeps_identifiers_as_sent(
    adapters: list[FakeAdapter], readers: list[Reader], devices_xml: Path
) -> None:
    adapter = await _adapter(adapters)
    bindings = Bindings(
        {
            "execution": P + "exec",
            "Srpm": P + "speed",
            "PartCountAct": P + "count",
            "program": P + "program",
            "Tool_number": P + "tool",
            "cmosingleblock": P + "single_block",
            "system_cond": P + "system",
            "pallet_num": P + "pallet",
            "operator_msg": P + "message",
            "operator_msg#code": P + "message_code",
        },
        types={P + "pallet": "int"},  # the plant file may still say a number is one
    )
    cfg = _shdr_config(adapter.port, device_model=str(devices_xml), device="Mazak", messages=["operator_msg"])
    conn = ShdrConnector("adapter", cfg, bindings)
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    assert conn.kinds["system_cond"] == "condition" and len(conn.model) > 100
    await adapter.send(
        # an unavailable value followed by more pairs: each pair is read by what its key is
        "2026-03-04T05:06:07Z|program|UNAVAILABLE|execution|ACTIVE|Srpm|1200.50",
        "2026-03-04T05:06:08Z|program|0001|Tool_number|0012|PartCountAct|0017|cmosingleblock|ON|pallet_num|007",
        "2026-03-04T05:06:09Z|system_cond|FAULT|2001|HIGH|LOW|overheat",
        "2026-03-04T05:06:10Z|operator_msg|M12|check coolant",
    )
    got = await reader.until(lambda g: len(g) >= 10)
    assert [(s.path.removeprefix(P), s.value) for s in got] == [
        ("exec", "ACTIVE"),
        ("speed", 1200.5),
        ("program", "0001"),
        ("tool", "0012"),
        ("count", 17),
        ("single_block", "ON"),
        ("pallet", 7),
        ("system", "FAULT"),
        ("message", "check coolant"),
        ("message_code", "M12"),
    ]
    assert conn.status.errors == 0, conn.status.last_error


async def test_shdr_without_a_model_keeps_values_as_text_unless_the_binding_types_them(
    adapters: list[FakeAdapter], readers: list[Reader]
) -> None:
    adapter = await _adapter(adapters)
    bindings = Bindings(
        {"part_id": P + "part_id", "count": P + "count", "load": P + "load"},
        types={P + "count": "int", P + "load": "float"},
    )
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), bindings)
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    await adapter.send(
        "2026-03-04T05:06:07Z|part_id|123456.20|count|0012|load|33",
        "2026-03-04T05:06:08Z|part_id|0001|count|many|load|34.5",
    )
    got = await reader.until(lambda g: len(g) >= 5)
    assert [(s.path.removeprefix(P), s.value) for s in got] == [
        ("part_id", "123456.20"),
        ("count", 12),
        ("load", 33.0),
        ("part_id", "0001"),
        ("load", 34.5),
    ]
    assert conn.status.errors == 1 and "'many' is not a whole number" in conn.status.last_error


async def test_a_multiline_asset_is_no_error_on_a_healthy_stream(
    adapters: list[FakeAdapter], readers: list[Reader]
) -> None:
    adapter = await _adapter(adapters)
    conn = ShdrConnector("adapter", _shdr_config(adapter.port), {"execution": P + "exec"})
    reader = await _listen(readers, conn)
    await adapter.connected.wait()
    await adapter.send(
        "2026-03-04T05:06:07Z|@ASSET@|KSSP300R.1|CuttingTool|--multiline--0FED07ACED",
        '<CuttingTool serialNumber="1" toolId="KSSP300R" assetId="KSSP300R.1">',
        "  <Description>a | pipe, and a line that looks like data: 2026-03-04T05:06:07Z|execution|STOPPED",
        "--multiline--0FED07ACEDX",
        "</CuttingTool>",
        "--multiline--0FED07ACED",
        "2026-03-04T05:06:08Z|@REMOVE_ASSET@|KSSP300R.1",
        "2026-03-04T05:06:09Z|execution|READY",
    )
    got = await reader.until(lambda g: len(g) >= 1)
    assert [(s.path, s.value) for s in got] == [(P + "exec", "READY")]
    assert conn.status.errors == 0, conn.status.last_error
    assert conn.assets == 2
