"""One simulated machine as an MTConnect adapter speaking SHDR over TCP (MTConnect Part 1, "Adapter Agent
Protocol"): a machine tool of the kind that has no OPC UA, only an MTConnect adapter.

Each client gets the full state on connect, then one line per tick with what changed:
``<timestamp>|execution|ACTIVE|part_count_all|12|Sspeed|2800.5|...``. ``* PING`` is answered ``* PONG <ms>``.
Keys: ``avail``, ``execution`` (MTConnect Execution), ``mode`` (ControllerMode), ``part_count_all``,
``part_count_good``, ``part_count_bad``, ``Sspeed`` (rpm), ``Sload`` (%), ``temp`` (degC), ``vib`` (mm/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from werk.sim.factory import Factory

log = logging.getLogger(__name__)
HEARTBEAT_MS = 10_000

EXECUTION = {
    "running": "ACTIVE",
    "idle": "READY",
    "starved": "WAIT",
    "blocked": "WAIT",
    "setup": "INTERRUPTED",
    "fault": "STOPPED",
    "maintenance": "STOPPED",
}
MODE = {"setup": "MANUAL", "maintenance": "MANUAL"}  # AUTOMATIC otherwise


def shdr_values(values: dict[str, float | int | str]) -> dict[str, str]:
    state = str(values["state"])
    return {
        "avail": "AVAILABLE",
        "execution": EXECUTION.get(state, "READY"),
        "mode": MODE.get(state, "AUTOMATIC"),
        "part_count_all": str(values["cycle_count"]),
        "part_count_good": str(values["good_count"]),
        "part_count_bad": str(values["scrap_count"]),
        "Sspeed": f"{float(values.get('spindle_speed', 0.0)):g}",
        "Sload": f"{float(values['load']):g}",
        "temp": f"{float(values['temperature']):g}",
        "vib": f"{float(values['vibration']):g}",
    }


def shdr_line(ts: datetime, fields: dict[str, str]) -> bytes:
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ("|".join([stamp, *(f"{k}|{v}" for k, v in fields.items())]) + "\n").encode()


class SimShdrAdapter:
    def __init__(self, factory: Factory, asset: str, port: int) -> None:
        if asset not in factory.assets:
            raise ValueError(f"sim.shdr_asset {asset!r} is not a simulated asset")
        self.factory = factory
        self.asset = asset
        self.port = port
        self._clients: set[asyncio.StreamWriter] = set()
        self._last: dict[str, str] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._clients):
                w.close()
            await self._server.wait_closed()
            self._server = None

    def _current(self) -> dict[str, str]:
        return shdr_values(self.factory.assets[self.asset].model.values())

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            writer.write(shdr_line(self.factory.now, self._current()))
            await writer.drain()
            while line := await reader.readline():
                if line.strip().upper().startswith(b"* PING"):
                    writer.write(f"* PONG {HEARTBEAT_MS}\n".encode())
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def tick(self, ts: datetime) -> None:
        """After a simulator step: send what changed to every connected agent."""
        now = self._current()
        changed = {k: v for k, v in now.items() if self._last.get(k) != v}
        self._last = now
        if not changed:
            return
        line = shdr_line(ts, changed)
        for w in list(self._clients):
            if w.is_closing():
                self._clients.discard(w)
                continue
            w.write(line)
