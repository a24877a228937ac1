"""Modbus TCP client connector (pymodbus): polled register maps, read in as few requests as the spec allows.

References are to the *Modbus Application Protocol Specification V1.1b3* (modbus.org, 2012) and the *Modbus
Messaging on TCP/IP Implementation Guide V1.0b*.

Address grammar
---------------
An asset binding maps a signal to one address string (``SourceBinding.signals``). Tokens are separated by spaces,
in any order; exactly one names the data item::

    <table>:<address>  [<type>] [<order>] [scale=<number>] [offset=<number>] [bit=<0..15>] [unit=<0..255>]

    table    hr  holding register    (function 0x03, clause 6.3)
             ir  input register      (function 0x04, clause 6.4)
             co  coil                (function 0x01, clause 6.1)
             di  discrete input      (function 0x02, clause 6.2)
    address  the protocol address, 0..65535 as it travels in the PDU (clause 4.4): register "40101" of a data
             sheet that counts from 1 is ``hr:100``
    type     int16 | uint16 | int32 | uint32 | float32 | float64 | bool
             default uint16 for hr/ir, bool for co/di (the only type coils and discrete inputs have)
    order    where the bytes of the value sit, A being the most significant byte of the big-endian value:
             ABCD  big-endian, high word first (the spec's own order, clause 4.2; the default)
             CDAB  words swapped ("little-endian word order", common on PLCs)
             BADC  bytes swapped inside each register
             DCBA  little-endian
             the same letters apply to 64-bit values (CDAB: the four words reversed) and to 16-bit ones (BADC, or
             the alias BA, swaps the two bytes); AB is an alias of ABCD
    scale    value = raw * scale + offset; given either, integers become floats
    bit      with type bool on a register: that bit, 0 = least significant; without it, bool is "register != 0"
    unit     the Unit Identifier of the MBAP header (TCP guide, "MBAP Header description") for this signal,
             overriding the connector's ``unit``: one connector to a gateway reaches several serial devices

Examples: ``hr:100 float32 CDAB``, ``ir:7 int16 scale=0.1``, ``hr:40 bool bit=3``, ``co:12``, ``di:0 unit=3``.
A binding's ``root`` is put in front of each of its addresses, so ``root: "unit=2 CDAB"`` sets defaults for an
asset; a later token wins over an earlier one.

Reading
-------
Bound items of one unit and table are sorted and merged into read requests: neighbours join while the request stays
within the spec's quantity limit (125 registers, clauses 6.3/6.4; 2000 bits, clauses 6.1/6.2) and the unbound hole
between them is at most ``max_gap``. A request the device answers with an exception (clause 7) is split into one
request per item when the exception is about the request (01-03), so a single bad address costs its own signal
and nothing else; an exception about the device (04 and up) fails every item of the request. A poll's values form
one batch.

Writing
-------
A signal the plant file marks ``writable`` is written to the same address, encoded as it is decoded (type, order,
``value = raw * scale + offset`` solved for raw and rounded to the device's step): a holding register with Write
Single Register (0x06, clause 6.6) or, for 32- and 64-bit types, Write Multiple Registers (0x10, clause 6.12); one
bit of a holding register with Mask Write Register (0x16, clause 6.16), so the other bits stay as the device has
them; a coil with Write Single Coil (0x05, clause 6.5). Input registers and discrete inputs cannot be written
(the protocol has no function for them). Requests of the poll and writes take turns on the one connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from werk.config.model import ConnectorSettings
from werk.connect.base import ConnectorStatus, RateLimitedLog, SessionConnector
from werk.connect.spec import ConnectorSpec, types_of
from werk.core.model import Quality, Sample, Value, utcnow
from werk.errors import ConnectorError


class ModbusConnectorConfig(ConnectorSettings):
    """A Modbus TCP server (a device or a gateway) polled for register maps; ``unit`` is the default unit identifier.

    ``max_gap`` is how many unbound registers (or bits) a single read may span to join two bound ones: reading
    them costs bytes, saves a round trip; 0 reads only truly adjacent addresses together.
    """

    type: Literal["modbus"]
    host: str = Field(default="127.0.0.1", min_length=1)
    """The device's or gateway's host name or address."""
    port: int = Field(default=502, ge=1, le=65535)
    """Its TCP port; 502 is Modbus TCP's (TCP guide, "TCP port 502")."""
    unit: int = Field(default=1, ge=0, le=255)
    """The Unit Identifier of the MBAP header for addresses without ``unit=``; a gateway routes by it."""
    poll_interval_ms: int = Field(default=1000, ge=10, le=3_600_000)
    """Milliseconds between the starts of two polls; a poll that overruns starts the next at once."""
    max_gap: int = Field(default=0, ge=0, le=124)
    """Unbound registers (or bits) one read may span to join two bound ones."""
    timeout_s: float = Field(default=2.0, gt=0)
    """Seconds to wait for a response; no response fails the session, which reconnects."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """Seconds before the first attempt to reconnect; doubled after each failure."""
    reconnect_max_s: float = Field(default=10.0, gt=0)
    """The most seconds between two attempts to reconnect."""


log = logging.getLogger(__name__)

Table = Literal["hr", "ir", "co", "di"]
DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64", "bool"]

#: Largest quantity one read may ask for: registers (clauses 6.3, 6.4) and bits (clauses 6.1, 6.2).
MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000
LOG_EVERY_S = 60.0  # a failing signal or topic is logged at most this often

_TABLES: dict[str, Table] = {"hr": "hr", "ir": "ir", "co": "co", "di": "di"}
_BIT_TABLES = ("co", "di")
#: struct format and width in registers, per data type; values on the wire are big-endian (clause 4.2)
_TYPES: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
    "float64": ("d", 4),
    "bool": ("H", 1),
}
#: order code -> (swap the bytes inside each register, reverse the order of the registers)
_ORDERS: dict[str, tuple[bool, bool]] = {
    "ABCD": (False, False),
    "AB": (False, False),
    "CDAB": (False, True),
    "BADC": (True, False),
    "BA": (True, False),
    "DCBA": (True, True),
}
#: exception codes of clause 7, for messages a plant engineer can look up
EXCEPTION_NAMES = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One parsed address: what to read and how to turn the raw registers or bit into a value."""

    table: Table
    address: int
    dtype: DataType
    byte_swap: bool = False
    word_swap: bool = False
    scale: float | None = None
    offset: float | None = None
    bit: int | None = None
    unit: int | None = None

    @property
    def width(self) -> int:
        """Registers (or bits, for coils and discrete inputs) this item occupies."""
        return 1 if self.table in _BIT_TABLES else _TYPES[self.dtype][1]

    def __str__(self) -> str:
        return f"{self.table}:{self.address}"


def parse_address(text: str) -> RegisterSpec:
    """Parse the address grammar of this module's docstring; a ConnectorError says which token is wrong and why."""
    table: Table | None = None
    address = -1
    dtype: str | None = None
    order: str | None = None
    opts: dict[str, float | int] = {}

    def fail(why: str) -> ConnectorError:
        return ConnectorError(
            f"modbus address {text!r}: {why} (grammar: '<hr|ir|co|di>:<0..65535> [type] [ABCD|CDAB|BADC|DCBA] "
            "[scale=..] [offset=..] [bit=..] [unit=..]', e.g. 'hr:100 float32 CDAB scale=0.1')"
        )

    for token in text.split():
        key, eq, raw = token.partition("=")
        if eq:
            if key in ("scale", "offset"):
                try:
                    number = float(raw)
                except ValueError:
                    raise fail(f"{key}={raw!r} is not a number") from None
                if not math.isfinite(number):
                    raise fail(f"{key} must be finite")
                if key == "scale" and number == 0:
                    raise fail("scale=0 would make every value the offset")
                opts[key] = number
            elif key in ("bit", "unit"):
                limit = 15 if key == "bit" else 255
                if not raw.isdigit() or int(raw) > limit:
                    raise fail(f"{key}={raw!r} must be an integer 0..{limit}")
                opts[key] = int(raw)
            else:
                raise fail(f"unknown option {key!r}; known: scale, offset, bit, unit")
        elif ":" in token:
            if table is not None:
                raise fail("more than one '<table>:<address>'")
            name, _, number_text = token.partition(":")
            if name.lower() not in _TABLES:
                raise fail(
                    f"unknown table {name!r}; use hr (holding register), ir (input register), co (coil) "
                    "or di (discrete input)"
                )
            if not number_text.isdigit() or int(number_text) > 65535:
                raise fail(
                    f"address {number_text!r} must be an integer 0..65535 (the zero-based PDU address)"
                )
            table, address = _TABLES[name.lower()], int(number_text)
        elif token.lower() in _TYPES:
            dtype = token.lower()
        elif token.upper() in _ORDERS:
            order = token.upper()
        else:
            raise fail(f"unknown token {token!r}")
    if table is None:
        raise fail("no '<table>:<address>'")
    if table in _BIT_TABLES:
        if dtype not in (None, "bool"):
            raise fail(f"{table} items are single bits: type must be bool, not {dtype}")
        if order is not None or "bit" in opts or "scale" in opts or "offset" in opts:
            raise fail(f"{table} items are single bits: order, bit, scale and offset do not apply")
        dtype = "bool"
    dtype = dtype or "uint16"
    if dtype == "bool" and ("scale" in opts or "offset" in opts):
        raise fail("scale and offset do not apply to bool")
    if "bit" in opts and dtype != "bool":
        raise fail("bit= needs type bool")
    width = 1 if table in _BIT_TABLES else _TYPES[dtype][1]
    if address + width - 1 > 65535:
        raise fail(f"{dtype} at {address} runs past address 65535")
    byte_swap, word_swap = _ORDERS[order or "ABCD"]
    return RegisterSpec(
        table=table,
        address=address,
        dtype=dtype,  # type: ignore[arg-type]  # checked against _TYPES above
        byte_swap=byte_swap,
        word_swap=word_swap,
        scale=float(opts["scale"]) if "scale" in opts else None,
        offset=float(opts["offset"]) if "offset" in opts else None,
        bit=int(opts["bit"]) if "bit" in opts else None,
        unit=int(opts["unit"]) if "unit" in opts else None,
    )


def encode_registers(spec: RegisterSpec, value: Value) -> list[int]:
    """The registers that hold ``value`` at a register item, as they go on the wire: :func:`decode_registers`
    reversed. ``ValueError`` when the value is no number or does not fit the type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range for {spec.dtype}") from None
    scaled = spec.scale is not None or spec.offset is not None
    if scaled:
        number = (number - (spec.offset or 0.0)) / (1.0 if spec.scale is None else spec.scale)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not finite")
    fmt, _ = _TYPES[spec.dtype]
    try:
        if spec.dtype.startswith("float"):
            raw = struct.pack(">" + fmt, number)
        else:
            if not scaled and number != int(number):
                raise ValueError(f"{value!r} is not a whole number, and {spec.dtype} holds only those")
            raw = struct.pack(">" + fmt, round(number))
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{value!r} is out of range for {spec.dtype}: {exc}") from None
    if spec.byte_swap:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if spec.word_swap:
        words.reverse()
    return words


def decode_registers(spec: RegisterSpec, registers: Sequence[int]) -> Value:
    """The value of a register item from its ``spec.width`` registers, as they came off the wire (16-bit ints)."""
    words = list(registers)
    if spec.word_swap:
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if spec.byte_swap:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    fmt, _ = _TYPES[spec.dtype]
    (number,) = struct.unpack(">" + fmt, raw)
    if spec.dtype == "bool":
        return bool(number >> spec.bit & 1) if spec.bit is not None else number != 0
    if spec.scale is None and spec.offset is None:
        return float(number) if spec.dtype.startswith("float") else int(number)
    return float(number) * (1.0 if spec.scale is None else spec.scale) + (spec.offset or 0.0)


@dataclass
class ReadBlock:
    """One read request: ``count`` registers or bits of ``table`` from ``start``, feeding ``items``."""

    unit: int
    table: Table
    start: int
    count: int
    items: list[tuple[str, RegisterSpec]] = field(default_factory=list)


def plan_reads(items: Iterable[tuple[str, RegisterSpec]], default_unit: int, max_gap: int) -> list[ReadBlock]:
    """Merge items into as few reads as the quantity limits and ``max_gap`` allow (see the module docstring)."""
    groups: dict[tuple[int, Table], list[tuple[str, RegisterSpec]]] = {}
    for path, spec in items:
        unit = default_unit if spec.unit is None else spec.unit
        groups.setdefault((unit, spec.table), []).append((path, spec))
    blocks: list[ReadBlock] = []
    for (unit, table), members in sorted(groups.items()):
        limit = MAX_BITS_PER_READ if table in _BIT_TABLES else MAX_REGISTERS_PER_READ
        block: ReadBlock | None = None
        for path, spec in sorted(members, key=lambda m: (m[1].address, m[1].width)):
            end = spec.address + spec.width
            if block is not None:
                gap = spec.address - (block.start + block.count)
                new_count = max(block.count, end - block.start)
                if gap <= max_gap and new_count <= limit:
                    block.count = new_count
                    block.items.append((path, spec))
                    continue
            block = ReadBlock(unit, table, spec.address, spec.width, [(path, spec)])
            blocks.append(block)
    return blocks


def _cancelled_meanwhile() -> None:
    """Raise the cancellation pymodbus swallowed: a request cancelled in flight can come back as an error response
    or a ModbusException, and the poll loop would go on after werk asked it to stop (a shutdown then gave up on it
    after 10 s)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class _ReadFailed(Exception):
    """The device answered a read with an exception response: the session is fine, this request is not."""

    def __init__(self, code: int, unit: int) -> None:
        super().__init__(f"exception {code} {EXCEPTION_NAMES.get(code, 'UNKNOWN')} (unit {unit})")
        self.code = code


#: exceptions about the request (clause 7: 01, 02, 03), which another request may not get; the others are about
#: the device or the gateway's path to it and hold for every request
_REQUEST_EXCEPTIONS = (1, 2, 3)


class ModbusConnector(SessionConnector):
    """Polls one Modbus TCP server. ``bindings`` maps an address string (grammar above) to the UNS path it feeds.

    Addresses that do not parse are reported in ``status.bad_bindings`` and skipped; the rest are polled.
    """

    protocol = "modbus"
    logger = log

    def __init__(self, name: str, config: ModbusConnectorConfig, bindings: Mapping[str, str]) -> None:
        endpoint = f"modbus+tcp://{config.host}:{config.port}"
        super().__init__(
            ConnectorStatus(name=name, type=self.protocol, endpoint=endpoint), types_of(bindings)
        )
        self.config = config
        self.bindings = dict(bindings)
        self.items = [(path, spec) for spec, path in self._parsed(bindings, parse_address)]
        self._spec_of = {path: spec for path, spec in self.items}
        self.blocks: list[ReadBlock] = []
        self.requests = 0  # read requests sent, for diagnostics
        self._client: AsyncModbusTcpClient | None = None
        self._turn = asyncio.Lock()  # one request at a time on the connection: the poll's and writes
        self._isolated: set[str] = set()
        self._failing: set[str] = set()
        self._complaints = RateLimitedLog(log, LOG_EVERY_S)

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    async def _session(self) -> AsyncIterator[list[Sample]]:
        cfg = self.config
        # pymodbus would reconnect on its own; reconnect_delay=0 leaves the policy (and the BAD batch) to us
        client = AsyncModbusTcpClient(
            cfg.host, port=cfg.port, timeout=cfg.timeout_s, retries=0, reconnect_delay=0, name=self.name
        )
        try:
            if not await client.connect():
                raise ConnectorError(f"cannot connect to {cfg.host}:{cfg.port}")
            self._isolated.clear()  # the device may have changed while we were away: try batches again
            self.blocks = plan_reads(self.items, cfg.unit, cfg.max_gap)
            self._up(items=len(self.items), reads=len(self.blocks))
            self._client = client
            async for batch in self._polls(client):
                yield batch
        finally:
            self._client = None
            client.close()

    async def _polls(self, client: AsyncModbusTcpClient) -> AsyncIterator[list[Sample]]:
        """One batch per poll interval; a poll that overruns the interval starts the next one at once."""
        interval = self.config.poll_interval_ms / 1000
        due = time.monotonic()
        while True:
            yield await self.poll(client)
            due += interval
            now = time.monotonic()
            if due < now:  # skip the ticks we missed rather than firing them back to back
                due = now
            await asyncio.sleep(due - now)

    async def poll(self, client: AsyncModbusTcpClient) -> list[Sample]:
        """Read every block once. Device exceptions mark signals BAD; a dead session raises."""
        batch: list[Sample] = []
        split: list[ReadBlock] = []
        for block in self.blocks:
            try:
                batch.extend(await self._read(client, block))
            except _ReadFailed as exc:
                if len(block.items) > 1 and exc.code in _REQUEST_EXCEPTIONS:
                    split.append(block)
                    continue
                for path, spec in block.items:
                    batch.extend(self._fail(path, f"{spec}: {exc}"))
        if split:
            # isolate every item of a refused request, read each alone from now on (until the next session)
            for block in split:
                self._isolated.update(path for path, _ in block.items)
            joined = [(p, s) for p, s in self.items if p not in self._isolated]
            alone = [(p, s) for p, s in self.items if p in self._isolated]
            self.blocks = plan_reads(joined, self.config.unit, self.config.max_gap) + [
                b for item in alone for b in plan_reads([item], self.config.unit, 0)
            ]
            log.info(
                "modbus.split connector=%s isolated=%d reads=%d",
                self.name,
                len(self._isolated),
                len(self.blocks),
            )
            for block in split:
                for item in block.items:
                    (single,) = plan_reads([item], self.config.unit, 0)
                    try:
                        batch.extend(await self._read(client, single))
                    except _ReadFailed as exc:
                        batch.extend(self._fail(item[0], f"{item[1]}: {exc}"))
        return batch

    async def _read(self, client: AsyncModbusTcpClient, block: ReadBlock) -> list[Sample]:
        self.requests += 1
        readers = {
            "hr": client.read_holding_registers,
            "ir": client.read_input_registers,
            "co": client.read_coils,
            "di": client.read_discrete_inputs,
        }
        try:
            async with self._turn:
                rr: ModbusPDU = await readers[block.table](
                    block.start, count=block.count, device_id=block.unit
                )
        except ModbusException as exc:
            _cancelled_meanwhile()
            raise ConnectorError(f"read {block.table}:{block.start} x{block.count}: {exc}") from exc
        _cancelled_meanwhile()
        if isinstance(rr, ExceptionResponse) or rr.isError():
            raise _ReadFailed(int(getattr(rr, "exception_code", 0)), block.unit)
        ts = utcnow()
        out: list[Sample] = []
        for path, spec in block.items:
            pos = spec.address - block.start
            if block.table in _BIT_TABLES:
                value: Value = bool(rr.bits[pos])
            else:
                value = decode_registers(spec, rr.registers[pos : pos + spec.width])
            if isinstance(value, float) and not math.isfinite(value):
                out.extend(self._fail(path, f"{spec}: {spec.dtype} is {value}"))
                continue
            if path in self._failing:
                self._failing.discard(path)
                self.status.bad_bindings.pop(path, None)  # parse errors never get here: they are not read
                log.info("modbus.recovered connector=%s path=%s address=%s", self.name, path, spec)
            out.append(Sample(path, ts, value))
        return out

    async def write(self, path: str, value: Value) -> None:
        """Write ``value`` to the item that feeds ``path`` (see "Writing" above). The plant file decides which
        signals may be written; this says whether the device took it. The next poll reads back what it holds."""
        spec = self._spec_of.get(path)
        if spec is None:
            raise ConnectorError(f"{self.name}: {path} is not a signal of this device")
        if spec.table in ("ir", "di"):
            kind = "an input register" if spec.table == "ir" else "a discrete input"
            raise ConnectorError(f"{self.name}: {spec} is {kind}, which Modbus has no function to write")
        client = self._client
        if client is None:
            raise ConnectorError(
                f"{self.name}: not connected to {self.config.host}:{self.config.port}; nothing was written"
            )
        unit = self.config.unit if spec.unit is None else spec.unit
        try:
            if spec.dtype == "bool" and not isinstance(value, bool):
                raise ValueError(f"{value!r} is not true or false")
            async with self._turn:
                if spec.table == "co":
                    rr: ModbusPDU = await client.write_coil(spec.address, bool(value), device_id=unit)
                elif spec.dtype == "bool" and spec.bit is not None:
                    # the bit as read is counted after the byte swap (BA): on the wire it sits in the other byte
                    bit = 1 << (spec.bit ^ 8 if spec.byte_swap else spec.bit)
                    rr = await client.mask_write_register(
                        address=spec.address,
                        and_mask=0xFFFF & ~bit,
                        or_mask=bit if value else 0,
                        device_id=unit,
                    )
                elif spec.dtype == "bool":
                    rr = await client.write_register(spec.address, 1 if value else 0, device_id=unit)
                else:
                    words = encode_registers(spec, value)
                    if len(words) == 1:
                        rr = await client.write_register(spec.address, words[0], device_id=unit)
                    else:
                        rr = await client.write_registers(spec.address, words, device_id=unit)
        except ValueError as exc:
            raise ConnectorError(
                f"{self.name}: {value!r} does not fit {spec} ({spec.dtype}): {exc}"
            ) from None
        except ModbusException as exc:
            _cancelled_meanwhile()
            raise ConnectorError(f"{self.name}: write {spec}: {exc}") from None
        _cancelled_meanwhile()
        if isinstance(rr, ExceptionResponse) or rr.isError():
            code = int(getattr(rr, "exception_code", 0))
            raise ConnectorError(
                f"{self.name}: the device refused the write to {spec} (unit {unit}): exception {code} "
                f"{EXCEPTION_NAMES.get(code, 'UNKNOWN')}"
            )
        log.info(
            "modbus.write connector=%s address=%s unit=%d path=%s value=%r",
            self.name,
            spec,
            unit,
            path,
            value,
        )

    def _fail(self, path: str, reason: str) -> list[Sample]:
        """Count a failed item; a BAD sample (with its last value) only when it goes from good to failing."""
        self.status.errors += 1
        self.status.last_error = reason
        self.status.bad_bindings[path] = reason
        self._complaints.warning(path, "modbus.read connector=%s path=%s error=%s", self.name, path, reason)
        first = path not in self._failing
        self._failing.add(path)
        if first and path in self._ledger.last:
            return [Sample(path, utcnow(), self._ledger.last[path], Quality.BAD)]
        return []


def _address(root: str, address: str) -> str:
    """A binding's ``root`` is default tokens in front of the address (``root: "unit=2 CDAB"``), which the
    address's own tokens override."""
    return f"{root} {address}".strip()


SPEC = ConnectorSpec.of(ModbusConnectorConfig, ModbusConnector, title="Modbus TCP", address=_address)
