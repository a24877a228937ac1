"""The Modbus TCP connector against an in-process pymodbus server on loopback: decoding, batching, device
exceptions, losing the server and getting it back.

Register contents are written out by hand from the encodings (not produced by the code under test), so a decoder
that agrees with itself but not with the wire fails here.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.conftest import free_port, wait_until
from werk.config.model import WerkConfig
from werk.connect import build_connectors
from werk.connect.modbus import (
    MAX_REGISTERS_PER_READ,
    ModbusConnector,
    ModbusConnectorConfig,
    decode_registers,
    encode_registers,
    parse_address,
    plan_reads,
)
from werk.core.model import Quality, Sample
from werk.errors import ConnectorError

P = "acme/berlin/press-shop/line-1/cell-1/press-1/"

# holding registers of unit 1, addresses 0..17, by hand from the encodings
HR: dict[int, int] = {
    0: 0xFFFE,  # int16 -2
    1: 1234,  # uint16, scaled 0.1 offset -40 -> 83.4
    2: 0x0102,  # int32 0x01020304 = 16909060, ABCD
    3: 0x0304,
    4: 0x0304,  # same value, CDAB (words swapped)
    5: 0x0102,
    6: 0x0201,  # same value, BADC (bytes swapped in each word)
    7: 0x0403,
    8: 0x0403,  # same value as uint32, DCBA (little-endian)
    9: 0x0201,
    10: 0x3FC0,  # float32 1.5, ABCD
    11: 0x0000,
    12: 0x2D18,  # float64 pi 0x400921FB54442D18, CDAB: the four words reversed
    13: 0x5444,
    14: 0x21FB,
    15: 0x4009,
    16: 0x0008,  # bit 3 set
    17: 0x0000,
}
SIGNALS = {
    "hr:0 int16": P + "s16",
    "hr:1 uint16 scale=0.1 offset=-40": P + "scaled",
    "hr:2 int32 ABCD": P + "abcd",
    "hr:4 int32 CDAB": P + "cdab",
    "hr:6 int32 BADC": P + "badc",
    "hr:8 uint32 DCBA": P + "dcba",
    "hr:10 float32": P + "f32",
    "hr:12 float64 CDAB": P + "f64",
    "hr:16 bool bit=3": P + "bit3",
    "hr:16 bool bit=2": P + "bit2",
    "hr:17 bool": P + "zero",
    "ir:5 int16 BA": P + "ir-swapped",  # -300 = 0xFED4, bytes swapped on the wire: 0xD4FE
    "co:3": P + "coil3",
    "co:17": P + "coil17",
    "di:1": P + "di1",
    "hr:0 unit=2": P + "unit2",
}
EXPECTED: dict[str, object] = {
    "s16": -2,
    "scaled": 83.4,
    "abcd": 16909060,
    "cdab": 16909060,
    "badc": 16909060,
    "dcba": 16909060,
    "f32": 1.5,
    "f64": math.pi,
    "bit3": True,
    "bit2": False,
    "zero": False,
    "ir-swapped": -300,
    "coil3": True,
    "coil17": False,
    "di1": True,
    "unit2": 777,
}


class Device:
    """A pymodbus server that records every request and refuses reads of the addresses in ``refuse``
    (exception 2, as it does for addresses outside its map)."""

    def __init__(self, port: int, *, hr_extra: dict[int, int] | None = None) -> None:
        self.port = port
        self.requests: list[tuple[int, int, int]] = []  # (function code, address, count)
        self.refuse: set[int] = set()
        self.refuse_with = ExcCodes.ILLEGAL_ADDRESS
        self.hr = dict(HR) | (hr_extra or {})
        self.server: ModbusTcpServer | None = None

    async def _action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: Any
    ) -> ExcCodes | None:
        if fc in (3, 4) and self.refuse & set(range(address, address + count)):
            return self.refuse_with
        return None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        """Every request the server receives, including those it refuses before looking at the data."""
        if not sending:
            self.requests.append((pdu.function_code, pdu.address, pdu.count))
        return pdu

    def _unit1(self) -> SimDevice:
        coils = [False] * 32
        coils[3] = True
        discrete = [False, True] + [False] * 14
        hr = [SimData(0, values=[self.hr.get(a, 0) for a in range(20)], datatype=DataType.REGISTERS)]
        extra = sorted(a for a in self.hr if a >= 20)
        hr += [SimData(a, values=[self.hr[a]], datatype=DataType.REGISTERS) for a in extra]
        ir = [SimData(0, values=[0, 0, 0, 0, 0, 0xD4FE], datatype=DataType.REGISTERS)]
        return SimDevice(
            id=1,
            simdata=(
                [SimData(0, values=coils, datatype=DataType.BITS)],
                [SimData(0, values=discrete, datatype=DataType.BITS)],
                hr,
                ir,
            ),
            action=self._action,
        )

    def _unit2(self) -> SimDevice:
        regs = [SimData(0, values=[777], datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        return SimDevice(id=2, simdata=(bits, bits, regs, regs), action=self._action)

    async def start(self) -> None:
        self.server = ModbusTcpServer(
            [self._unit1(), self._unit2()], address=("127.0.0.1", self.port), trace_pdu=self._trace
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None


@pytest.fixture
async def device() -> AsyncIterator[Device]:
    dev = Device(free_port())
    await dev.start()
    try:
        yield dev
    finally:
        await dev.stop()


def _config(port: int, **kw: Any) -> ModbusConnectorConfig:
    base: dict[str, Any] = {
        "type": "modbus",
        "host": "127.0.0.1",
        "port": port,
        "poll_interval_ms": 50,
        "timeout_s": 0.5,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
    }
    return ModbusConnectorConfig(**(base | kw))


async def _next(stream: AsyncIterator[list[Sample]], until: Callable[[list[Sample]], bool]) -> list[Sample]:
    """Samples from the stream up to and including the batch that makes ``until`` true."""
    got: list[Sample] = []
    async with asyncio.timeout(15):
        async for batch in stream:
            got.extend(batch)
            if until(got):
                return got
    raise AssertionError("stream ended")


# --- the address grammar and the read planner (pure) -------------------------------------------------------


def test_address_grammar() -> None:
    spec = parse_address("hr:100 float32 CDAB scale=0.5 offset=-1 unit=3")
    assert (spec.table, spec.address, spec.dtype, spec.width) == ("hr", 100, "float32", 2)
    assert (spec.byte_swap, spec.word_swap, spec.scale, spec.offset, spec.unit) == (False, True, 0.5, -1.0, 3)
    assert parse_address("co:7").dtype == "bool"
    assert parse_address("ir:3").dtype == "uint16"
    # a root's defaults come first; later tokens override them
    assert parse_address("unit=2 CDAB hr:1 int32 ABCD").word_swap is False
    for text, why in [
        ("xr:1", "unknown table 'xr'"),
        ("hr:-1", "must be an integer 0..65535"),
        ("hr:65535 float32", "runs past address 65535"),
        ("hr:1 float16", "unknown token 'float16'"),
        ("hr:1 scale=abc", "scale='abc' is not a number"),
        ("co:1 int16", "type must be bool"),
        ("co:1 scale=2", "do not apply"),
        ("hr:1 uint16 bit=3", "bit= needs type bool"),
        ("hr:1 bool bit=16", "bit='16' must be an integer 0..15"),
        ("hr:1 hr:2", "more than one"),
        ("float32", "no '<table>:<address>'"),
        ("hr:1 colour=red", "unknown option 'colour'"),
    ]:
        with pytest.raises(ConnectorError, match=why):
            parse_address(text)


def test_decode_known_encodings() -> None:
    regs = [0x0102, 0x0304]
    assert decode_registers(parse_address("hr:0 int32"), regs) == 0x01020304
    assert decode_registers(parse_address("hr:0 int32 DCBA"), regs) == 0x04030201
    assert decode_registers(parse_address("hr:0 uint32 BADC"), regs) == 0x02010403
    assert decode_registers(parse_address("hr:0 uint32 CDAB"), regs) == 0x03040102
    assert decode_registers(parse_address("hr:0 float32"), [0xC0A0, 0x0000]) == -5.0
    # little-endian float64 of pi: bytes 18 2D 44 54 FB 21 09 40
    assert decode_registers(parse_address("hr:0 float64 DCBA"), [0x182D, 0x4454, 0xFB21, 0x0940]) == math.pi
    assert decode_registers(parse_address("hr:0 int16 scale=0.1"), [0xFF9C]) == pytest.approx(-10.0)


def test_plan_respects_the_125_register_limit_and_max_gap() -> None:
    items = [(f"p{a}", parse_address(f"hr:{a}")) for a in range(130)]
    blocks = plan_reads(items, 1, 0)
    assert [(b.start, b.count) for b in blocks] == [(0, MAX_REGISTERS_PER_READ), (125, 5)]
    # a float32 that would straddle the limit starts a new read rather than being cut in two
    items = [(f"p{a}", parse_address(f"hr:{a}")) for a in range(124)] + [
        ("f", parse_address("hr:124 float32"))
    ]
    assert [(b.start, b.count) for b in plan_reads(items, 1, 0)] == [(0, 124), (124, 2)]
    gappy = [("a", parse_address("hr:0")), ("b", parse_address("hr:4 float32")), ("c", parse_address("ir:0"))]
    assert [(b.table, b.start, b.count) for b in plan_reads(gappy, 1, 0)] == [
        ("hr", 0, 1),
        ("hr", 4, 2),
        ("ir", 0, 1),
    ]
    assert [(b.table, b.start, b.count) for b in plan_reads(gappy, 1, 3)] == [("hr", 0, 6), ("ir", 0, 1)]
    # another unit is another device: never one read
    units = [("a", parse_address("hr:0")), ("b", parse_address("hr:1 unit=2"))]
    assert len(plan_reads(units, 1, 10)) == 2


def test_build_connectors_puts_the_root_in_front_as_defaults() -> None:
    asset = {
        "kind": "press",
        "source": {
            "connector": "plc",
            "root": "unit=2 CDAB",
            "signals": {
                "force": "hr:10 float32",
                "pressure": "hr:12 float32 ABCD unit=3",
                "bad": "hr:1 int8",
            },
        },
    }
    cells = {"c": {"assets": {"press-1": asset}}}
    config = WerkConfig.model_validate(
        {
            "plant": {
                "enterprise": "acme",
                "sites": {"s": {"areas": {"a": {"lines": {"l": {"cells": cells}}}}}},
            },
            "connectors": {"plc": {"type": "modbus", "port": 5020, "unit": 1}},
        }
    )
    (conn,) = build_connectors(config)
    assert isinstance(conn, ModbusConnector)
    specs = {path.rsplit("/", 1)[1]: spec for path, spec in conn.items}
    assert (specs["force"].unit, specs["force"].word_swap) == (2, True)
    assert (specs["pressure"].unit, specs["pressure"].word_swap) == (3, False)
    assert "unknown token 'int8'" in conn.status.bad_bindings["acme/s/a/l/c/press-1/bad"]
    assert conn.status.endpoint == "modbus+tcp://127.0.0.1:5020"


# --- against the server ------------------------------------------------------------------------------------


async def test_values_types_and_orders_arrive_in_few_reads(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port), SIGNALS)
    stream = conn.stream()
    try:
        first = await _next(stream, lambda g: True)
        after_first = len(device.requests)
        second = await _next(stream, lambda g: True)
        per_poll = len(device.requests) - after_first
        assert conn.status.connected and conn.status.errors == 0 and not conn.status.bad_bindings
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    by_name = {s.path.removeprefix(P): s for s in first}
    assert set(by_name) == set(EXPECTED)
    for name, want in EXPECTED.items():
        got = by_name[name]
        assert got.quality is Quality.GOOD
        assert type(got.value) is type(want), name
        assert got.value == pytest.approx(want), name
    assert {s.path for s in second} == set(SIGNALS.values())
    # hr of unit 1 (0..17, adjacent) is one read; ir, di, unit 2 one each; the coils 3 and 17 are 13 apart: two
    assert per_poll == len(conn.blocks) == 6


async def test_max_gap_joins_reads(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port, max_gap=16), {"co:3": P + "a", "co:17": P + "b"})
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)
        before = len(device.requests)
        got = await _next(stream, lambda g: True)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert len(device.requests) - before == 1
    assert device.requests[-1][0] == 1  # read coils
    assert {s.path: s.value for s in got} == {P + "a": True, P + "b": False}


async def test_device_exception_costs_only_its_own_signal(device: Device) -> None:
    bindings = {"hr:0 int16": P + "s16", "hr:2 int32": P + "abcd", "hr:110": P + "ghost"}
    conn = ModbusConnector("plc", _config(device.port, max_gap=110), bindings)
    stream = conn.stream()
    try:
        # hr:110 lies outside the device's map: the joined read 0..110 is refused, then split per signal
        got = await _next(stream, lambda g: {s.path for s in g} >= {P + "s16", P + "abcd"})
        assert (3, 0, 111) in device.requests  # the joined read was tried
        assert P + "ghost" not in {s.path for s in got}
        assert "ILLEGAL DATA ADDRESS" in conn.status.bad_bindings[P + "ghost"]
        assert conn.status.errors >= 1 and conn.status.connected
        # a signal that worked and starts failing turns BAD once, carrying its last value; the others go on
        device.refuse.add(2)
        got = await _next(stream, lambda g: any(s.quality is Quality.BAD for s in g))
        bad = [s for s in got if s.quality is Quality.BAD]
        assert [(s.path, s.value) for s in bad] == [(P + "abcd", 16909060)]
        got = await _next(stream, lambda g: len(g) >= 3)
        assert {s.path for s in got} == {P + "s16"}
        assert all(s.quality is Quality.GOOD for s in got)
        # and comes back on its own
        device.refuse.clear()
        await _next(stream, lambda g: any(s.path == P + "abcd" and s.quality is Quality.GOOD for s in g))
        assert P + "abcd" not in conn.status.bad_bindings
        assert P + "ghost" in conn.status.bad_bindings
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_device_level_exception_fails_the_whole_read_without_splitting(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port), {"hr:0 int16": P + "s16", "hr:1": P + "raw"})
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)
        device.refuse_with = (
            ExcCodes.DEVICE_BUSY
        )  # about the device, not the addresses: splitting cannot help
        device.refuse.add(1)
        got = await _next(stream, lambda g: len(g) >= 2)
        assert {(s.path, s.quality) for s in got} == {(P + "s16", Quality.BAD), (P + "raw", Quality.BAD)}
        assert "SERVER DEVICE BUSY" in conn.status.bad_bindings[P + "s16"]
        # while it fails no batch comes, so drive the stream in a task and watch the server's side
        before = len(device.requests)
        recovered = asyncio.ensure_future(anext(stream))
        await wait_until(lambda: len(device.requests) - before >= 3)
        device.refuse.clear()
        back = await asyncio.wait_for(recovered, 10)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert {(s.path, s.quality) for s in back} == {(P + "s16", Quality.GOOD), (P + "raw", Quality.GOOD)}
    assert len(conn.blocks) == 1
    assert set(device.requests[before:]) == {(3, 0, 2)}  # still the one joined read, never split


async def test_unparseable_address_is_reported_and_the_rest_is_polled(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port), {"hr:0 int16": P + "s16", "hr:x": P + "broken"})
    assert "address 'x' must be an integer" in conn.status.bad_bindings[P + "broken"]
    assert "modbus address 'hr:x'" in conn.status.bad_bindings[P + "broken"]
    stream = conn.stream()
    try:
        got = await _next(stream, lambda g: True)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert [(s.path, s.value) for s in got] == [(P + "s16", -2)]


async def test_server_restart_marks_bad_then_recovers(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port), {"hr:0 int16": P + "s16", "hr:10 float32": P + "f32"})
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)
        assert conn.status.connected
        await device.stop()
        lost = await _next(stream, lambda g: any(s.quality is Quality.BAD for s in g))
        bad = {s.path: s.value for s in lost if s.quality is Quality.BAD}
        assert bad == {P + "s16": -2, P + "f32": 1.5}
        assert not conn.status.connected and conn.status.errors >= 1
        restarted = Device(device.port, hr_extra={0: 0x0005})
        await restarted.start()
        try:
            back = await _next(stream, lambda g: any(s.quality is Quality.GOOD for s in g))
            assert {s.path: s.value for s in back if s.quality is Quality.GOOD}[P + "s16"] == 5
            assert conn.status.connected and conn.status.reconnects >= 1
        finally:
            await restarted.stop()
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


# --- writing ---------------------------------------------------------------------------------------------------


def test_encoding_gives_the_hand_written_registers() -> None:
    """encode_registers is decode_registers reversed, checked against the registers written out by hand above."""
    for address, path in SIGNALS.items():
        spec = parse_address(address)
        name = path.removeprefix(P)
        if spec.table != "hr" or spec.dtype == "bool" or spec.unit is not None:
            continue
        words = encode_registers(spec, EXPECTED[name])  # type: ignore[arg-type]
        assert words == [HR[spec.address + i] for i in range(spec.width)], address


@pytest.mark.parametrize(
    ("address", "value", "why"),
    [
        ("hr:0 int16", 1.5, "not a whole number"),
        ("hr:0 int16", 40000, "out of range"),
        ("hr:0 uint16", -1, "out of range"),
        ("hr:0 float32", 1e39, "out of range"),
        ("hr:0 float32", math.nan, "not finite"),
        ("hr:0 int16", "7", "not a number"),
        ("hr:0 int16", True, "not a number"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_with_the_reason(address: str, value: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        encode_registers(parse_address(address), value)


async def test_writes_reach_the_device_and_come_back_in_the_poll(device: Device) -> None:
    conn = ModbusConnector("plc", _config(device.port), SIGNALS)
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)  # connected
        device.requests.clear()
        for name, value in [("s16", -7), ("f64", 2.5), ("scaled", 50.0), ("bit2", True), ("coil17", True)]:
            await conn.write(P + name, value)
        codes = [fc for fc, *_ in device.requests]
        assert codes == [6, 16, 6, 22, 5]  # single register, multiple registers, mask write, single coil

        def latest(got: list[Sample]) -> dict[str, object]:
            return {s.path.removeprefix(P): s.value for s in got}

        got = await _next(stream, lambda g: latest(g).get("bit2") is True)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    values = latest(got)
    assert values["s16"] == -7 and values["f64"] == 2.5 and values["coil17"] is True
    assert values["scaled"] == pytest.approx(50.0)
    assert values["bit3"] is True  # the mask write left the register's other bits as they were


async def test_writes_the_device_or_the_protocol_cannot_take_are_refused(device: Device) -> None:
    signals = {
        "hr:0 int16": P + "s16",
        "ir:5 int16": P + "input",
        "hr:900 int16": P + "unmapped",
        "hr:1 uint16 scale=0.5": P + "half",
    }
    conn = ModbusConnector("plc", _config(device.port), signals)
    with pytest.raises(ConnectorError, match="not connected"):
        await conn.write(P + "s16", 1)
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)
        with pytest.raises(ConnectorError, match="input register, which Modbus has no function to write"):
            await conn.write(P + "input", 1)
        with pytest.raises(ConnectorError, match="ILLEGAL DATA ADDRESS"):
            await conn.write(P + "unmapped", 1)
        with pytest.raises(ConnectorError, match="does not fit hr:0"):
            await conn.write(P + "s16", 1.5)
        with pytest.raises(ConnectorError, match="is not a signal of this device"):
            await conn.write(P + "elsewhere", 1)
        with pytest.raises(ConnectorError, match="out of range"):  # an xs:integer beyond any float
            await conn.write(P + "half", 10**400)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_a_bit_of_a_byte_swapped_register_is_written_where_it_is_read(device: Device) -> None:
    """``BA bit=3`` reads bit 3 of the byte-swapped value, which is bit 11 on the wire: the write sets that one."""
    conn = ModbusConnector(
        "plc", _config(device.port), {"hr:17 bool BA bit=3": P + "flag", "hr:17": P + "raw"}
    )
    stream = conn.stream()
    try:
        await _next(stream, lambda g: True)
        await conn.write(P + "flag", True)
        got = await _next(stream, lambda g: any(s.path == P + "flag" and s.value is True for s in g))
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    raw = [s.value for s in got if s.path == P + "raw"][-1]
    assert raw == 0x0800


def test_scale_zero_is_refused() -> None:
    with pytest.raises(ConnectorError, match="scale=0"):
        parse_address("hr:0 scale=0")


async def test_a_cancelled_poll_ends_the_stream(device: Device) -> None:
    """pymodbus can turn a cancelled request into an error response: the stream must end anyway, at any point of
    a poll (a platform's shutdown waited 10 s for a connector that went on polling)."""
    rng = random.Random(7)
    for _ in range(40):
        conn = ModbusConnector("plc", _config(device.port, poll_interval_ms=10), SIGNALS)

        async def consume(stream: AsyncIterator[list[Sample]]) -> None:
            async for _batch in stream:
                pass

        task = asyncio.create_task(consume(conn.stream()))
        await asyncio.sleep(rng.uniform(0.02, 0.15))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert done, "the stream went on after it was cancelled"
