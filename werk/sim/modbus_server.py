"""The virtual factory's energy meters on Modbus TCP (pymodbus), one unit per machine, like a meter bus behind a
gateway: unit k is the k-th simulated asset; holding registers 0-1 active power (float32, kW) and 2-5 active energy
(float64, kWh), big-endian word and byte order (ABCD), read-only. Values are filled in at read time from the
factory, so every read sees the current tick."""

from __future__ import annotations

import struct
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from werk.sim.factory import Factory

REGISTERS = 6


def meter_registers(power_kw: float, energy_kwh: float) -> list[int]:
    raw = struct.pack(">fd", power_kw, energy_kwh)
    return list(struct.unpack(">6H", raw))


class SimModbusServer:
    def __init__(self, factory: Factory, port: int) -> None:
        self.factory = factory
        self.port = port
        self.units = {i + 1: name for i, name in enumerate(factory.assets)}
        self.server: ModbusTcpServer | None = None

    def _device(self, unit: int) -> SimDevice:
        name = self.units[unit]

        async def action(
            fc: int, start: int, address: int, count: int, regs: list[int], values: Any
        ) -> ExcCodes | None:
            if values is not None:
                return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only
            v = self.factory.assets[name].model.values()
            regs[:REGISTERS] = meter_registers(float(v["power"]), float(v["energy"]))
            return None

        regs = [SimData(0, values=[0] * REGISTERS, datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        return SimDevice(id=unit, simdata=(bits, bits, regs, regs), action=action)

    async def start(self) -> None:
        self.server = ModbusTcpServer([self._device(u) for u in self.units], address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None
