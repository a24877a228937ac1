"""Wiring of the state mapping: signals in, ``<asset>/machine_state`` samples and ``state`` events out.

The derived state goes back on the Unified Namespace like any signal, so the historian keeps the state timeline and
other apps (OEE, maintenance) read it without knowing how each machine reports its state. At start and at a clean
shutdown every asset is stamped ``disconnected``: time when werk was not watching is unknown, not "still running".
"""

from __future__ import annotations

import asyncio
from typing import Any

from werk.apps.machine_state.mapping import StateMapper
from werk.apps.machine_state.settings import StateMappingConfig
from werk.apps.spec import App, AppContext
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Event, Quality, Sample
from werk.core.states import STATE_SIGNAL

TICK_S = 1.0


def mapping_for(ref: AssetRef) -> StateMappingConfig:
    """The asset's configured mapping, or a guess from what it has bound: werk states, else Machinery."""
    configured = ref.config.plugin("states")
    if isinstance(configured, StateMappingConfig):
        return configured
    bound = set(ref.config.bound_signals())
    if "state" in bound or not bound:
        return StateMappingConfig(source="werk")
    if "item_state" in bound:
        return StateMappingConfig(source="machinery")
    if "execution" in bound:
        return StateMappingConfig(source="mtconnect")
    return StateMappingConfig(source="werk")


class MachineStateApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.mappers: dict[str, StateMapper] = {}
        self.since: dict[str, Any] = {}
        self.states: dict[str, str] = {}
        self._paths: dict[str, str] = {}  # asset UNS path -> asset name
        for ref in ctx.config.assets():
            if not ref.config.production:
                continue  # a sensor has no machine state
            self.mappers[ref.name] = StateMapper(mapping_for(ref))
            self._paths[ref.path] = ref.name
            self.since[ref.name] = ctx.clock()

    async def run(self) -> None:
        ctx = self.ctx
        await ctx.bus.publish(self._all("disconnected"))
        signals = sorted({sig for m in self.mappers.values() for sig in m.signals})
        subs = [ctx.bus.subscribe(f"+/+/+/+/+/+/{sig}", overflow=Overflow.BLOCK) for sig in signals]
        try:
            async with asyncio.TaskGroup() as tg:
                for sub in subs:
                    tg.create_task(self._consume(sub))
                tg.create_task(self._tick())
        finally:
            for sub in subs:
                sub.close()

    async def stop(self) -> None:
        """Stamp every asset ``disconnected`` now: werk stops watching."""
        await self.ctx.bus.publish(self._all("disconnected"))

    def _all(self, state: str) -> list[Sample]:
        now = self.ctx.clock()
        for name in self._paths.values():
            self.since[name], self.states[name] = now, state
        return [Sample(f"{p}/{STATE_SIGNAL}", now, state) for p in self._paths]

    async def _consume(self, sub: Any) -> None:
        bus = self.ctx.bus
        async for batch in sub:
            samples, events = self.feed(batch)
            if samples:
                await bus.publish(samples)
                await bus.publish_events(events)

    async def _tick(self) -> None:
        bus = self.ctx.bus
        while True:
            await asyncio.sleep(TICK_S)
            now = self.ctx.clock()
            samples, events = [], []
            for path, name in self._paths.items():
                new = self.mappers[name].tick(now)
                if new is not None:
                    s, e = self._changed(path, name, now, new)
                    samples.append(s)
                    events.append(e)
            if samples:
                await bus.publish(samples)
                await bus.publish_events(events)

    def feed(self, batch: list[Sample]) -> tuple[list[Sample], list[Event]]:
        """Apply a batch; return the derived state samples and the state-change events it caused."""
        samples: list[Sample] = []
        events: list[Event] = []
        for s in batch:
            asset_path, _, signal = s.path.rpartition("/")
            name = self._paths.get(asset_path)
            if name is None:
                continue
            new = self.mappers[name].feed(s.ts, signal, s.value, s.quality is not Quality.BAD)
            if new is not None:
                smp, ev = self._changed(asset_path, name, s.ts, new)
                samples.append(smp)
                events.append(ev)
        return samples, events

    def _changed(self, path: str, name: str, ts: Any, new: str) -> tuple[Sample, Event]:
        # A source may stamp its first value before werk started (the value is older than our "disconnected"
        # stamp); the timeline must not go back in time, so such a state starts when werk saw it.
        previous_since = self.since.get(name, ts)
        ts = max(ts, previous_since)
        previous = self.states.get(name, "disconnected")
        self.since[name], self.states[name] = ts, new
        duration = max(0.0, (ts - previous_since).total_seconds())
        data = {"asset": name, "from": previous, "to": new, "duration_s": duration}
        return Sample(f"{path}/{STATE_SIGNAL}", ts, new), Event("state", path, ts, data)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(self.asset_view(name)) for name in self.mappers}

    def asset_view(self, asset: str) -> dict[str, Any]:
        m = self.mappers.get(asset)
        if m is None:
            return {}
        since = self.since.get(asset)
        return {"state": m.state, "since": since.isoformat() if since is not None else None}
