"""Wiring of downtime and OEE: derived states in, stops persisted and KPIs published, reasons from people.

Every ``kpi_interval_s`` it computes the current shift's report per asset, line and plant from the historian: the
same call as the shift report over the whole shift up to now, so the live figures and the report of that shift are
the same numbers, before and after a restart. KPIs are over the time werk observed, with their coverage (see
``kpi.py``). Outside every shift there are no live KPIs: the view says so and names the next shift. It publishes
each asset's ratios as ``<asset>/kpi.availability``, ``kpi.effectiveness``, ``kpi.quality``, ``kpi.oee`` and
``kpi.coverage`` samples, and ``downtime`` events for stops that became unqualified.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from werk.apps.oee.report import ReportBuilder
from werk.apps.oee.settings import OeeSettings
from werk.apps.oee.shifts import ShiftPeriod
from werk.apps.oee.stops import Stop, StopTracker, classify, pareto
from werk.apps.oee.store import OeeStore
from werk.apps.spec import App, AppContext
from werk.bus.base import Overflow
from werk.core.model import Event, Quality, Sample, event_key, to_micros
from werk.core.states import STATE_SIGNAL
from werk.errors import WerkError

log = logging.getLogger(__name__)

KPI_SIGNALS = {
    "availability": "availability",
    "effectiveness": "effectiveness",
    "quality": "quality_ratio",
    "oee": "oee",
    "coverage": "coverage",
}
RECENT_STOPS = 5000  # stops kept in memory for the live view; all are in the store


def _shift(p: ShiftPeriod | None) -> dict[str, str] | None:
    if p is None:
        return None
    return {"name": p.name, "key": p.key, "start": p.start.isoformat(), "end": p.end.isoformat()}


def _key(stop: Stop, what: str) -> str:
    """A downtime event's key from what caused it: a change by the stop's progress (its start, its end or still
    open, how many states it went through), the unqualified notice once per stop, a classification by when, who
    and which reason (the stop's id names asset and start)."""
    if what == "classified" and stop.history:
        c = stop.history[-1]
        return event_key("oee", stop.asset, "downtime.classified", c.ts, stop.id, c.who, c.reason)
    if what == "changed":
        end = "open" if stop.end is None else to_micros(stop.end)
        return event_key("oee", stop.asset, "downtime.changed", stop.start, end, len(stop.states))
    return event_key("oee", stop.asset, f"downtime.{what}", stop.start)


class ReasonError(WerkError, ValueError):
    """An unknown reason code, or a stop that does not exist."""


class OeeApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        config = ctx.config
        self.config = config
        self.settings: OeeSettings = ctx.settings
        self.store = OeeStore(ctx.db)
        self.builder = ReportBuilder(config, ctx.historian, self.store, self.settings)
        self.reasons = self.settings.reason_index()
        planned = frozenset(code for code, r in self.reasons.items() if r.planned)
        self.refs = {r.name: r for r in config.assets() if r.config.production}
        self._by_path = {r.path: r.name for r in self.refs.values()}
        self.trackers = {n: StopTracker(n, self.settings.micro_stop_s, planned) for n in self.refs}
        self.stops: dict[str, Stop] = {}
        self.live: dict[str, Any] = {}
        self._notified: set[str] = set()

    async def run(self) -> None:
        ctx = self.ctx
        # subscribed before the first await: states published while the stops load wait in the queue
        sub = ctx.bus.subscribe(f"+/+/+/+/+/+/{STATE_SIGNAL}", overflow=Overflow.BLOCK)
        try:
            recent = await asyncio.to_thread(self.store.query_stops, start=ctx.clock())
            last = await asyncio.to_thread(self.store.last_stops, list(self.refs)) if ctx.from_log else []
        except BaseException:
            sub.close()
            raise
        for (
            s
        ) in recent:  # stops still open when werk last stopped, of this instance's assets (a cluster's host
            if s.asset in self.refs:  # holds some; the table has every asset's)
                self.stops[s.id] = s
        if ctx.from_log:
            await self._resume(last)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._consume(sub))
                tg.create_task(self._periodic())
        finally:
            sub.close()

    async def serve(self) -> None:
        """Served (a cluster's API replica): the current shift's KPIs from the historian and the stops' table,
        as the running instance computes them, every ``kpi_interval_s``; nothing published."""
        while True:
            try:
                self.live = await asyncio.to_thread(self.compute_live, self.ctx.clock())
            except Exception:
                log.exception("oee.live_failed")
            await asyncio.sleep(self.settings.kpi_interval_s)

    async def _resume(self, last: list[Stop]) -> None:
        """Fed from a cluster's log, take each asset up where the last instance left it: a stop still open goes on
        in the asset's tracker (the next state continues or ends it, no second stop for one cause), and each
        asset's last stop's event is published again: the instance before may have stored the stop and been
        killed before its event was (the key stores it once); the states of the batch it was handling come again
        and find the stop as they left it."""
        for stop in last:
            self.stops[stop.id] = stop
            tracker = self.trackers.get(stop.asset)
            if tracker is not None:
                tracker.resume(stop)
        await self.ctx.bus.publish_events([self._event(s, "changed") for s in last if s.asset in self.refs])

    async def _consume(self, sub: Any) -> None:
        async for batch in sub:
            changed = self.feed(batch)
            if changed:
                await asyncio.to_thread(self.store.upsert_stops, changed)
                await self.ctx.bus.publish_events([self._event(s, "changed") for s in changed])

    def feed(self, batch: list[Sample]) -> list[Stop]:
        changed: dict[str, Stop] = {}
        for s in batch:
            name = self._by_path.get(s.path.rpartition("/")[0])
            if name is None or s.quality is Quality.BAD:
                continue
            for stop in self.trackers[name].on_state(s.ts, str(s.value)):
                self.stops[stop.id] = stop
                changed[stop.id] = stop
        if len(self.stops) > RECENT_STOPS:
            for key in sorted(self.stops, key=lambda k: self.stops[k].start)[
                : len(self.stops) - RECENT_STOPS
            ]:
                del self.stops[key]
        return list(changed.values())

    async def _periodic(self) -> None:
        while True:
            await self._publish_live()
            await asyncio.sleep(self.settings.kpi_interval_s)

    async def _publish_live(self) -> None:
        bus = self.ctx.bus
        now = self.ctx.clock()
        try:
            self.live = await asyncio.to_thread(self.compute_live, now)
        except Exception:
            log.exception("oee.live_failed")
            return
        samples = [
            Sample(f"{self.refs[name].path}/kpi.{sig}", now, round(float(v), 5))
            for name, rep in self.live.get("assets", {}).items()
            for sig, key in KPI_SIGNALS.items()
            if (v := rep[key]) is not None
        ]
        await bus.publish(samples)
        fresh = [s for s in self.unqualified(now) if s.id not in self._notified]
        if fresh and self.ctx.from_log:  # a person may have classified them through an API replica
            fresh = await asyncio.to_thread(self._unclassified, fresh, now)
        if fresh:
            self._notified.update(s.id for s in fresh)
            await bus.publish_events([self._event(s, "unqualified") for s in fresh])

    def compute_live(self, now: datetime) -> dict[str, Any]:
        """The current shift's report up to ``now`` (per asset, line and plant), or, outside every shift, no KPIs
        and when the next shift begins."""
        b = self.builder
        shift = b.current_shift(now)
        nxt, prev = b.next_shift(now), b.previous_shift(now)
        out: dict[str, Any] = {
            "now": now.isoformat(),
            "in_shift": shift is not None,
            "shift": _shift(shift),
            "next_shift": _shift(nxt),
            "previous_shift": _shift(prev),
            "window": None,
            "assets": {},
            "lines": {},
            "plant": None,
        }
        if shift is None or shift.start >= now:
            return out
        rows = b.report(shift.start, min(shift.end, now), now=now)
        out["window"] = {"start": shift.start.isoformat(), "end": min(shift.end, now).isoformat()}
        out["assets"] = {r.report.scope: r.report.as_dict() for r in rows if r.level == "asset"}
        out["lines"] = {r.report.scope: r.report.as_dict() for r in rows if r.level == "line"}
        out["plant"] = next(r.report.as_dict() for r in rows if r.level == "plant")
        return out

    def unqualified(self, now: datetime) -> list[Stop]:
        after = self.settings.unqualified_after_s
        return [s for s in self.stops.values() if s.status(now, after) == "unqualified"]

    def _unclassified(self, stops: list[Stop], now: datetime) -> list[Stop]:
        """Of ``stops``, those the table still has without a reason; the others take the table's reason (a
        person gave it through another process: the store keeps a person's reason against this instance's
        writes)."""
        stored = {s.id: s for s in self.store.query_stops(start=min(s.start for s in stops), end=now)}
        out = []
        for stop in stops:
            row = stored.get(stop.id)
            if row is not None and row.reason_source == "operator":
                stop.reason, stop.reason_source, stop.planned = row.reason, row.reason_source, row.planned
                stop.history = row.history
            else:
                out.append(stop)
        return out

    async def find(self, stop_id: str) -> Stop | None:
        """The stop of that id: this instance's copy, or the table's (always the table's where the instance only
        serves: the running one's copy is elsewhere, the table has what people decided)."""
        stop = None if self.ctx.served else self.stops.get(stop_id)
        if stop is not None:
            return stop
        asset, _, _ = stop_id.partition("@")
        found = [s for s in await asyncio.to_thread(self.store.query_stops, asset=asset) if s.id == stop_id]
        return found[0] if found else None

    async def classify(self, stop_id: str, reason: str, who: str, comment: str = "") -> Stop:
        """Set a stop's reason (operators and supervisors, through the API); the change is kept in its history.

        Where the instance only serves (a cluster's API replica), the reason goes to the shared table, where the
        worker following the asset keeps it (the store never lets its writes undo a person's reason) and finds
        it before it would call the stop unqualified; the ``downtime`` event says it was classified."""
        if reason not in self.reasons:
            raise ReasonError(f"unknown reason code {reason!r}; GET /api/downtime/reasons lists them")
        stop = await self.find(stop_id)
        if stop is None:
            raise ReasonError(f"no stop with id {stop_id!r}")
        classify(stop, reason, who, self.ctx.clock(), planned=self.reasons[reason].planned, comment=comment)
        await asyncio.to_thread(self.store.upsert_stops, [stop])
        await self.ctx.bus.publish_events([self._event(stop, "classified")])
        return stop

    def _event(self, stop: Stop, what: str) -> Event:
        ref = self.refs[stop.asset]
        return Event(
            "downtime",
            ref.path,
            stop.end or stop.start,
            {
                "id": stop.id,
                "what": what,
                "asset": stop.asset,
                "reason": stop.reason,
                "first_state": stop.first_state,
            },
            key=_key(stop, what),
        )

    def pareto(self, stops: list[Stop], now: datetime) -> list[dict[str, object]]:
        rows = pareto(stops, now, self.settings.unqualified_after_s)
        for r in rows:
            r["label"] = (
                self.reasons[str(r["reason"])].label if r["reason"] in self.reasons else str(r["reason"])
            )
        return rows

    def snapshot(self) -> dict[str, Any]:
        return self.live

    def asset_view(self, asset: str) -> dict[str, Any]:
        kpis = self.live.get("assets", {}).get(asset)
        return {"kpis": kpis} if kpis is not None else {}

    def plant_view(self) -> dict[str, Any]:
        """The current shift's plant aggregate (ISO 22400: the plant's times and counts summed, not a mean of
        the machines' ratios), the figure this app's page shows."""
        kpis = self.live.get("plant")
        return {"kpis": kpis} if kpis is not None else {}
