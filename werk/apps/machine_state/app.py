"""Wiring of the state mapping: signals in, ``<asset>/machine_state`` samples and ``state`` events out.

The derived state goes back on the Unified Namespace like any signal, so the historian keeps the state timeline and
other apps (OEE, maintenance) read it without knowing how each machine reports its state. At start and at a clean
shutdown every asset is stamped ``disconnected``: time when werk was not watching is unknown, not "still running".

Source time is kept. A state is stamped with the time of the sample it came from, whatever werk's own clock says:
- a source whose clock lags werk's start stamp: its states go in at their own times, and the start stamp takes the
  state the source was in at that instant (the stamp is overwritten while source time is behind it), so the lag
  does not turn into a disconnected gap;
- a source whose clock steps back, or that replays history: a state older than the newest one is stored at its
  own time (the historian keeps the timeline ordered by time), and the live state stays the one of the newest
  source time.

Fed from a cluster's log (``ctx.from_log``, werk.runtime.app_host) an instance is one of a series over the same
assets: it stamps nothing ``disconnected`` (the log kept what came while no instance ran), and it takes each asset
up where the state events say it was just before the first sample it is given (the last ``state`` event older
than that sample), and publishes that state again at its own time for the apps that read it: a batch delivered
again after a crash then derives the same changes, with the same keys, and a state that goes on is no new change.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from werk.apps.machine_state.mapping import StateMapper
from werk.apps.machine_state.settings import StateMappingConfig
from werk.apps.spec import App, AppContext
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Event, Quality, Sample, event_key
from werk.core.states import STATE_SIGNAL

TICK_S = 1.0
log = logging.getLogger(__name__)


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
        self.since: dict[str, datetime] = {}
        self.states: dict[str, str] = {}
        self.newest: dict[str, datetime] = {}  # newest source time of a state sample, per asset
        self._stamp: dict[str, datetime] = {}  # werk's start stamp, while the source's time is behind it
        self._logged: set[tuple[str, tuple[str, str, str]]] = set()
        self._paths: dict[str, str] = {}  # asset UNS path -> asset name
        self._state_paths: dict[str, str] = {}  # asset name -> the UNS path of its derived state signal
        self._resumed: set[str] = set()  # assets whose state was taken up from the store (from_log)
        self._resuming = asyncio.Lock()
        for ref in ctx.config.assets():
            if not ref.config.production:
                continue  # a sensor has no machine state
            self.mappers[ref.name] = StateMapper(mapping_for(ref))
            self._paths[ref.path] = ref.name
            self._state_paths[ref.name] = f"{ref.path}/{STATE_SIGNAL}"
            self.since[ref.name] = ctx.clock()

    async def run(self) -> None:
        ctx = self.ctx
        if not ctx.from_log:
            await ctx.bus.publish(self._all("disconnected"))
            self._stamp = dict(self.since)
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
        """Stamp every asset ``disconnected`` now: werk stops watching (unless another instance goes on from the
        log)."""
        if not self.ctx.from_log:
            await self.ctx.bus.publish(self._all("disconnected"))

    def _all(self, state: str) -> list[Sample]:
        now = self.ctx.clock()
        for name in self._paths.values():
            self.since[name], self.states[name] = now, state
        return [Sample(f"{p}/{STATE_SIGNAL}", now, state) for p in self._paths]

    async def _consume(self, sub: Any) -> None:
        bus = self.ctx.bus
        async for batch in sub:
            if self.ctx.from_log:
                await self._resume(batch)
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

    async def _resume(self, batch: list[Sample]) -> None:
        """Take up the state of the batch's assets not seen yet by this instance from their last ``state`` event
        before the batch (module docstring)."""
        first: dict[str, datetime] = {}
        for s in batch:
            asset_path = s.path.rpartition("/")[0]
            name = self._paths.get(asset_path)
            if name is not None and name not in self._resumed:
                first[asset_path] = min(first.get(asset_path, s.ts), s.ts)
        if not first:
            return
        again: list[Sample] = []
        async with self._resuming:
            for path, before in first.items():
                name = self._paths[path]
                if name in self._resumed:
                    continue
                found = await asyncio.to_thread(
                    self.ctx.historian.query_events, kinds=["state"], source=path, end=before, limit=1
                )
                self._resumed.add(name)
                if found and isinstance(state := found[0].data.get("to"), str):
                    ts = found[0].ts
                    self.states[name] = self.mappers[name].state = state
                    self.since[name] = self.newest[name] = ts
                    again.append(Sample(f"{path}/{STATE_SIGNAL}", ts, state))
                    log.info("machine_state.resumed asset=%s state=%s since=%s", name, state, ts.isoformat())
        # the state taken up, once more at its own time (the historian has it already): the apps that read the
        # states (maintenance counts a cycle's values only while running) know it before the next change
        await self.ctx.bus.publish(again)

    def feed(self, batch: list[Sample]) -> tuple[list[Sample], list[Event]]:
        """Apply a batch; return the derived state samples and the state-change events it caused, each stamped
        with its sample's source time."""
        samples: list[Sample] = []
        events: list[Event] = []
        for s in batch:
            asset_path, _, signal = s.path.rpartition("/")
            name = self._paths.get(asset_path)
            if name is None:
                continue
            mapper = self.mappers[name]
            derived = mapper.derive(s.ts, signal, s.value, s.quality is not Quality.BAD)
            if derived is None:
                continue
            self._log_unmapped(name, mapper)
            newest = self.newest.get(name)
            if newest is not None and s.ts < newest:
                # older than the newest state: history, stored in its place; the live state stays
                samples.append(Sample(f"{asset_path}/{STATE_SIGNAL}", s.ts, derived))
                events.append(self._event(asset_path, name, s.ts, None, derived, late=True))
                continue
            self._in_order(asset_path, name, s.ts, derived, samples, events)
        return samples, events

    def _in_order(
        self, path: str, name: str, ts: datetime, new: str, samples: list[Sample], events: list[Event]
    ) -> None:
        stamp = self._stamp.get(name)
        if stamp is not None and ts >= stamp:
            del self._stamp[name]  # the source's time has passed werk's start stamp
            stamp = None
        if new == self.states.get(name):
            self.newest[name] = max(self.newest.get(name, ts), ts)
            return
        smp, ev = self._changed(path, name, ts, new)
        samples.append(smp)
        events.append(ev)
        if stamp is not None:
            # source time behind werk's start stamp: at that instant the asset was in this state, not disconnected
            samples.append(Sample(f"{path}/{STATE_SIGNAL}", stamp, new))

    def _changed(self, path: str, name: str, ts: datetime, new: str) -> tuple[Sample, Event]:
        previous_since = self.since.get(name, ts)
        previous = self.states.get(name, "disconnected")
        self.since[name], self.states[name] = ts, new
        self.newest[name] = ts
        return Sample(f"{path}/{STATE_SIGNAL}", ts, new), self._event(
            path, name, ts, previous, new, previous_since
        )

    def _event(
        self,
        path: str,
        name: str,
        ts: datetime,
        previous: str | None,
        new: str,
        previous_since: datetime | None = None,
        *,
        late: bool = False,
    ) -> Event:
        duration = max(0.0, (ts - previous_since).total_seconds()) if previous_since is not None else None
        data: dict[str, Any] = {"asset": name, "from": previous, "to": new, "duration_s": duration}
        if late:
            data["late"] = True  # older than the newest state werk had: history, not the live state
        # keyed by asset, source time and the state entered: a batch handled again (by a fresh instance that saw
        # other states before it) gives the same key whatever the "from" it derives
        return Event("state", path, ts, data, key=event_key("machine_state", name, "state", ts, new))

    def _log_unmapped(self, name: str, mapper: StateMapper) -> None:
        for key, u in mapper.unmapped.items():
            if (name, key) not in self._logged:
                self._logged.add((name, key))
                log.warning(
                    "machine_state.unmapped_value asset=%s signal=%s value=%r: counted as unknown; map it in "
                    "the asset's states: section",
                    name,
                    u.signal,
                    u.value,
                )

    def unmapped(self, asset: str) -> list[dict[str, Any]]:
        """Values of the asset's state signals that its mapping has no state for, most frequent first."""
        m = self.mappers.get(asset)
        if m is None:
            return []
        rows = sorted(m.unmapped.values(), key=lambda u: (-u.count, u.signal, str(u.value)))
        return [
            {
                "signal": u.signal,
                "value": u.value,
                "count": u.count,
                "first_seen": u.first_seen.isoformat(),
                "last_seen": u.last_seen.isoformat(),
            }
            for u in rows
        ]

    def diagnostics(self) -> dict[str, Any]:
        """Unmapped state values per asset (only assets that had any)."""
        return {"unmapped": {name: rows for name in self.mappers if (rows := self.unmapped(name))}}

    def _served_view(self, asset: str) -> dict[str, Any]:
        """Where this instance only serves (a werk api replica): the state the running instance published into
        the log last, as this process's live values have it (seeded from the historian at start, then fed from the
        log), since that sample's time; its unmapped values are the running instance's to count."""
        latest = self.ctx.live.get(self._state_paths[asset])
        if latest is None or not isinstance(latest.value, str):
            return {"state": "disconnected", "since": None, "unmapped": []}
        return {"state": latest.value, "since": latest.ts.isoformat(), "unmapped": []}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(self.asset_view(name)) for name in self.mappers}

    def asset_view(self, asset: str) -> dict[str, Any]:
        m = self.mappers.get(asset)
        if m is None:
            return {}
        if self.ctx.served is not None:
            return self._served_view(asset)
        since = self.since.get(asset)
        return {
            "state": self.states.get(asset, m.state),
            "since": since.isoformat() if since is not None else None,
            "unmapped": self.unmapped(asset),
        }
