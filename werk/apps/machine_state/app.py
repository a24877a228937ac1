"""Wiring of the machine-state engine: bus in, state events and KPI samples out.

Outputs go back on the Unified Namespace, like any signal: ``<asset>/kpi.availability``, ``kpi.effectiveness``,
``kpi.quality``, ``kpi.oee`` (ratios 0..1), so they are stored, charted and exported like the machine's own data.
"""

from __future__ import annotations

import asyncio
from typing import Any

from werk.apps.base import AppContext
from werk.apps.machine_state.engine import MachineStateTracker
from werk.bus.base import Overflow
from werk.core.model import Event, Quality, Sample, utcnow

WATCHED = ("state", "item_state", "good_count", "scrap_count")
KPI_SIGNALS = ("availability", "effectiveness", "quality", "oee")


class MachineStateApp:
    name = "machine_state"

    def __init__(self) -> None:
        self.trackers: dict[str, MachineStateTracker] = {}
        self._by_path: dict[str, str] = {}  # asset UNS path -> asset name
        self._state_signal: dict[str, str] = {}  # asset -> the signal that carries its state

    def _setup(self, ctx: AppContext) -> None:
        start = utcnow()
        sim = ctx.config.sim
        for ref in ctx.config.assets():
            ideal = ref.config.ideal_cycle_s
            if ideal is not None and sim is not None and ref.config.sim is not None:
                # a simulated asset runs `acceleration` times faster than the wall clock its samples are stamped
                # with; its ideal cycle, given in simulated seconds, shrinks by the same factor
                ideal /= sim.acceleration
            self.trackers[ref.name] = MachineStateTracker(ref.name, ideal, start)
            self._by_path[ref.path] = ref.name
            bound = set(ref.config.source.signals) if ref.config.source else set()
            self._state_signal[ref.name] = "state" if "state" in bound or not bound else "item_state"

    async def run(self, ctx: AppContext) -> None:
        self._setup(ctx)
        # One subscription per watched signal name; the bus matches them by pattern on the UNS path.
        subs = [ctx.bus.subscribe(f"+/+/+/+/+/+/{sig}", overflow=Overflow.BLOCK) for sig in WATCHED]
        interval = ctx.config.apps.machine_state.kpi_interval_s
        try:
            async with asyncio.TaskGroup() as tg:
                for sub in subs:
                    tg.create_task(self._consume(ctx, sub))
                tg.create_task(self._publish_kpis(ctx, interval))
        finally:
            for sub in subs:
                sub.close()

    async def _consume(self, ctx: AppContext, sub: Any) -> None:
        async for batch in sub:
            events = self.feed(batch)
            if events:
                await ctx.bus.publish_events(events)

    def feed(self, batch: list[Sample]) -> list[Event]:
        """Apply a batch to the trackers; return the state-change events it caused."""
        events: list[Event] = []
        for s in batch:
            asset_path, _, signal = s.path.rpartition("/")
            name = self._by_path.get(asset_path)
            if name is None:
                continue
            tr = self.trackers[name]
            if signal == self._state_signal[name]:
                ch = tr.on_state(s.ts, s.value, s.quality is not Quality.BAD)
                if ch is not None:
                    events.append(
                        Event(
                            "state",
                            asset_path,
                            ch.ts,
                            {"asset": name, "from": ch.previous, "to": ch.state, "duration_s": ch.duration_s},
                        )
                    )
            elif signal in ("good_count", "scrap_count") and s.quality is not Quality.BAD:
                tr.on_count(signal, s.value)
        return events

    async def _publish_kpis(self, ctx: AppContext, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            now = utcnow()
            samples: list[Sample] = []
            for asset_path, name in self._by_path.items():
                k = self.trackers[name].kpis(now)
                for sig in KPI_SIGNALS:
                    v = getattr(k, sig)
                    if v is not None:
                        samples.append(Sample(f"{asset_path}/kpi.{sig}", now, round(float(v), 5)))
            await ctx.bus.publish(samples)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        now = utcnow()
        out: dict[str, dict[str, Any]] = {}
        for name, tr in self.trackers.items():
            out[name] = {
                "state": tr.state,
                "since": tr.since.isoformat() if tr.since else None,
                "time_in_state_s": {k: round(v, 1) for k, v in tr.time_in_state.items()},
                "kpis": tr.kpis(now).as_dict(),
            }
        return out
