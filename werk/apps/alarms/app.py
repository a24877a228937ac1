"""Wiring of the alarm app: every sample in, ``alarm`` events out, the journal kept, people's actions applied.

The engine (:mod:`werk.apps.alarms.engine`) sees every sample of the bus (one catch-all subscription with
back-pressure: no sample is skipped) and answers journal rows; each row becomes an ``alarm`` event on the bus
(source the asset's UNS path) and a row of the journal, written in batches by one task so the evaluation never
waits for the disk. A clock task runs the engine's timers (delays, stale signals, shelves) once a second, and
marks every ``WATCH_S`` that werk is still watching the alarms (the span of this run in the store): the KPI report's
rates are over the time werk watched, which a stopped or not yet started werk did not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from werk.apps.alarms.engine import AlarmEngine, Entry, UnknownAlarm
from werk.apps.alarms.kpi import DeadbandSuggestion, suggest_deadband
from werk.apps.alarms.notify import Delivery, Planner, Sender
from werk.apps.alarms.settings import PRIORITY_RANK, AlarmsSettings, expand
from werk.apps.alarms.states import ACKABLE, LIVE_STATES, Transition, TransitionError
from werk.apps.alarms.store import AlarmStore
from werk.apps.spec import App, AppContext, reread_every
from werk.bus.base import Overflow
from werk.core.model import Event, Quality, event_key
from werk.core.sight import Sight
from werk.core.signals import describe
from werk.errors import CommandRefused, WerkError
from werk.i18n import N_, Translator

log = logging.getLogger(__name__)

TICK_S = 1.0
WATCH_S = 10.0  # how often the run's watched span is moved on in the store (a crash loses at most this much)
SERVED_REFRESH_S = 2.0  # where the app only serves, how often the alarms' states are read from the journal


class SourceError(WerkError):
    """A source's own alarm (an OPC UA condition) could not be acknowledged at the source."""


JOURNAL_QUEUE = 1024  # batches of rows waiting for the disk; beyond it the evaluator waits (nothing is lost)
DELIVERY_QUEUE = 10_000  # notifications waiting to be sent; beyond it they are dropped and counted
SENDERS = 4  # notifications sent at once
# the alarm types whose value is the watched signal's number (a stale or bad-quality alarm's, a discrete one's
# and an expression's are not in its unit)
UNITED = frozenset({"high", "high_high", "low", "low_low", "deviation", "rate"})


class AlarmsApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.settings: AlarmsSettings = ctx.settings
        self.alarms = {a.id: a for a in expand(ctx.config, self.settings)}
        self.engine = AlarmEngine(list(self.alarms.values()))
        self._of_asset: dict[str, list[Entry]] = {}  # the overview asks for every asset every second
        for e in self.engine.entries.values():
            self._of_asset.setdefault(e.alarm.asset, []).append(e)
        self.store = AlarmStore(ctx.db)
        # the unit of each alarm's value: its signal's, where the catalog knows it; none for a state or a text
        self._units = {
            a.id: describe(a.path.rpartition("/")[2]).unit for a in self.alarms.values() if a.d.type in UNITED
        }
        self._journal: asyncio.Queue[list[Transition]] = asyncio.Queue(JOURNAL_QUEUE)
        plant = ctx.config.plant
        self.planner = Planner(self.settings.notifications, plant.shifts, plant.timezone)
        self.sender: Sender | None = None
        self._deliveries: asyncio.Queue[Delivery] = asyncio.Queue(DELIVERY_QUEUE)
        self.deliveries_dropped = 0
        self.events = 0
        self.journal_errors = 0
        self._span: int | None = None  # this run's watched span in the store, while it runs
        self._watching_since = ctx.clock()  # when this run began watching

    async def run(self) -> None:
        ctx = self.ctx
        # subscribed before the first await: samples published while the journal loads wait in the queue
        sub = ctx.bus.subscribe("#", overflow=Overflow.BLOCK)
        try:
            await asyncio.to_thread(self.restore)
            self.engine.start(ctx.clock())
            # a run fed from the cluster's log misses nothing between instances: it goes on with the last span
            self._watching_since = ctx.clock()
            self._span = await asyncio.to_thread(self.store.watch, self._watching_since, go_on=ctx.from_log)
            async with httpx.AsyncClient(timeout=10.0) as client, asyncio.TaskGroup() as tg:
                self.sender = Sender(self.settings.notifications, client, self._log_delivery)
                tg.create_task(self._consume(sub))
                tg.create_task(self._tick())
                tg.create_task(self._write())
                for _ in range(SENDERS):
                    tg.create_task(self._send())
        finally:
            sub.close()
            await self._flush()
            if self._span is not None:
                span, self._span = self._span, None
                await asyncio.to_thread(self.store.watching, span, ctx.clock())

    async def serve(self) -> None:
        """Served (a cluster's API replica): every alarm's state as the journal has it, read again every
        ``SERVED_REFRESH_S``; the workers' instances decide and journal them (their journal queue commits within
        moments). Nothing is evaluated, notified or journalled here."""
        await reread_every(
            SERVED_REFRESH_S, lambda: asyncio.to_thread(self.from_journal), "alarms.journal_read_failed"
        )

    def from_journal(self) -> None:
        """Every alarm in the state its last journal rows left it (normal without one), with the shelves and
        out-of-service decisions that hold."""
        shelves, oos = self.store.decisions()
        self.engine.resume(self.store.latest(), shelves, oos)

    def restore(self) -> None:
        """Where the app runs, at its start: the alarms' states from the journal (an alarm still active is not
        raised again, an acknowledged one stays acknowledged; a timed shelve that ended meanwhile expires at the
        first tick, with a journal row stamped with its end), and what the delivery log says was sent for the
        activations still waiting, so nobody is told twice."""
        self.from_journal()
        states = [e.state for e in self.engine.entries.values()]
        waiting = {(s.alarm, s.raised) for s in states if s.state in ACKABLE}
        self.planner.sent = {d for d in self.store.delivered() if (d[0], d[1]) in waiting}
        live = sum(1 for s in states if s.state in LIVE_STATES)
        hidden = sum(1 for s in states if s.shelve is not None or s.out_of_service)
        if live or hidden:
            log.info("alarms.restored live=%d shelved_or_out_of_service=%d", live, hidden)

    async def _consume(self, sub: Any) -> None:
        async for batch in sub:
            rows = self.engine.feed(batch)
            if rows:
                await self._emit(rows)

    async def _tick(self) -> None:
        days = timedelta(days=self.settings.journal_days)
        pruned = watched = self.ctx.clock()
        while True:
            await asyncio.sleep(TICK_S)
            now = self.ctx.clock()
            rows = self.engine.tick(now)
            if rows:
                await self._emit(rows)
            if self._span is not None and (now - watched).total_seconds() >= WATCH_S:
                watched = now
                try:
                    await asyncio.to_thread(self.store.watching, self._span, now)
                except Exception:  # the disk's trouble shows in the journal's errors; evaluation goes on
                    log.exception("alarms.watch_failed")
            if self.planner.rules:
                self.notify(now)
            if now - pruned > timedelta(hours=1):
                pruned = now
                await asyncio.to_thread(self.store.prune, now - days)

    async def _write(self) -> None:
        while True:
            rows = await self._journal.get()
            while not self._journal.empty() and len(rows) < 10_000:
                rows += self._journal.get_nowait()
            try:
                await asyncio.to_thread(self.store.append, rows, self.alarms)
            except Exception:
                self.journal_errors += 1
                log.exception("alarms.journal_failed rows=%d", len(rows))

    def notify(self, now: datetime) -> None:
        """Queue the notifications due now; beyond the queue's bound they are dropped and counted (a mail
        server that is down must not hold up alarms)."""
        for d in self.planner.plan(now, ((e.alarm, e.state) for e in self.engine.entries.values())):
            try:
                self._deliveries.put_nowait(d)
            except asyncio.QueueFull:
                self.deliveries_dropped += 1
                log.warning("alarms.delivery_dropped alarm=%s target=%s: queue full", d.alarm, d.target)

    async def _send(self) -> None:
        while True:
            d = await self._deliveries.get()
            assert self.sender is not None
            await self.sender.deliver(d)

    async def _log_delivery(self, d: Delivery, status: str, attempts: int, error: str) -> None:
        if status == "failed":
            log.warning(
                "alarms.delivery_failed alarm=%s target=%s attempts=%d: %s",
                d.alarm,
                d.target,
                attempts,
                error,
            )
        await asyncio.to_thread(self.store.log_delivery, self.ctx.clock(), d, status, attempts, error)

    async def _flush(self) -> None:
        rows: list[Transition] = []
        while not self._journal.empty():
            rows += self._journal.get_nowait()
        if rows:
            await asyncio.to_thread(self.store.append, rows, self.alarms)

    async def _emit(self, rows: Sequence[Transition]) -> None:
        await self._journal.put(list(rows))
        self.events += len(rows)
        await self.ctx.bus.publish_events([self.event(r) for r in rows])

    def event(self, r: Transition) -> Event:
        a = self.alarms[r.alarm]
        return Event(
            "alarm",
            a.asset_path,
            r.ts,
            {
                "id": a.id,
                "asset": a.asset,
                "area": a.area,
                "priority": a.priority,
                "action": r.action,
                "from": r.before,
                "to": r.after,
                "who": r.who,
                "why": r.why,
                "value": r.value if isinstance(r.value, int | float | str | bool) else None,
                "annunciated": r.annunciated,
                "message": a.message(),
            },
            # by alarm, the instant of its cause (the sample's source time, or the person's action) and the
            # transition: evaluating a batch again gives the same keys
            key=event_key("alarms", a.asset, f"alarm.{r.action}", r.ts, a.id, r.after, r.who),
        )

    # -- people --------------------------------------------------------------------------------------------------
    async def act(
        self, action: str, alarm_id: str, who: str, why: str = "", until: datetime | None = None
    ) -> dict[str, Any]:
        """An operator's or supervisor's action on an alarm; its journal rows are written before it returns.

        Where the instance only serves (a cluster's API replica) the action goes as a command to the worker that
        holds the alarm's asset (:meth:`command`), whose state machine applies it as here: its journal rows, its
        events, who and when; the answer is that instance's view of the alarm, and this one reads the journal
        again. No worker holding the asset: RunsElsewhere (503)."""
        if self.ctx.served:
            return await self._act_where_run(action, alarm_id, who, why, until)
        now = self.ctx.clock()
        eng = self.engine
        if action == "acknowledge":
            entry = eng.entry(alarm_id)
            if entry.alarm.d.type == "condition" and entry.state.state in ACKABLE:
                await self._acknowledge_at_source(entry, who, why)
            rows = eng.acknowledge(alarm_id, now, who, why)
        elif action == "shelve":
            if until is not None and (until - now).total_seconds() > self.settings.max_shelve_s:
                raise TransitionError(
                    f"a shelve may last at most {self.settings.max_shelve_s:g} s (apps.alarms.max_shelve_s)"
                )
            rows = eng.shelve(alarm_id, now, who, why, until)
        elif action == "unshelve":
            rows = eng.unshelve(alarm_id, now, who, why)
        elif action == "remove_from_service":
            rows = eng.remove_from_service(alarm_id, now, who, why)
        elif action == "return_to_service":
            rows = eng.return_to_service(alarm_id, now, who, why)
        else:  # pragma: no cover - the API's schema allows only the above
            raise TransitionError(f"unknown action {action!r}")
        await asyncio.to_thread(self.store.append, rows, self.alarms)
        self.events += len(rows)
        await self.ctx.bus.publish_events([self.event(r) for r in rows])
        return self.row(eng.entry(alarm_id), now)

    async def command(self, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        """A person's action sent by a served instance (:meth:`act` on a cluster's API replica): ``action``,
        ``alarm``, ``who``, ``why`` and ``until`` (ISO 8601 or None). ``key`` is not kept: the state machine
        refuses an action applied twice (a second acknowledge is a TransitionError)."""
        until = body.get("until")
        return await self.act(
            str(body["action"]),
            str(body["alarm"]),
            str(body["who"]),
            str(body.get("why") or ""),
            datetime.fromisoformat(until) if isinstance(until, str) else None,
        )

    async def _act_where_run(
        self, action: str, alarm_id: str, who: str, why: str, until: datetime | None
    ) -> dict[str, Any]:
        entry = self.engine.entry(alarm_id)  # an unknown alarm is refused here (404), nothing sent
        if self.ctx.command is None:
            raise self.elsewhere(N_("an alarm's acknowledge, shelve or service"), action=True)
        body = {"action": action, "alarm": alarm_id, "who": who, "why": why, "until": until}
        try:
            row = await self.ctx.command(entry.alarm.asset_path, body, entry.alarm.asset)
        except CommandRefused as exc:  # the same answer the action gets where the app runs
            again = {
                "SourceError": SourceError,
                "TransitionError": TransitionError,
                "UnknownAlarm": UnknownAlarm,
            }
            if exc.kind not in again:
                raise
            raise again[exc.kind](str(exc)) from None
        await asyncio.to_thread(self.from_journal)
        return dict(row)

    async def _acknowledge_at_source(self, entry: Entry, who: str, why: str) -> None:
        """A source's own alarm is acknowledged at the source first (an OPC UA Acknowledge); if the source
        refuses, werk does not pretend it was acknowledged."""
        write = self.ctx.write
        if write is None:
            raise SourceError(
                f"alarm {entry.alarm.id!r} belongs to its source and nothing can be written to it here"
            )
        try:
            await write(entry.alarm.path, why or f"acknowledged in werk by {who}", who)
        except WerkError as exc:
            raise SourceError(
                f"alarm {entry.alarm.id!r}: its source did not take the acknowledge: {exc}"
            ) from None

    def observed(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The spans in which werk watched the alarms that overlap [start, end) (blocking: run it in a thread);
        this run's own goes on to now (the store has it up to ``WATCH_S`` ago)."""
        spans = self.store.watched(start, end)
        if self._span is not None:
            stored = spans.get(self._span)
            began = self._watching_since if stored is None else min(stored[0], self._watching_since)
            spans[self._span] = (began, self.ctx.clock())
        return list(spans.values())

    def acknowledge_all(self) -> list[str]:
        """Ids of the alarms waiting for an acknowledge (the page's "acknowledge all")."""
        return [i for i, e in self.engine.entries.items() if e.state.state in ACKABLE]

    def deadbands(self, tags: Sequence[str], start: datetime, end: datetime) -> list[DeadbandSuggestion]:
        """The rationalisation aid's deadbands for chattering limit alarms, from their signals' history (at most
        100,000 samples each; blocking: run it in a thread)."""
        window = self.settings.kpi.chatter.window_s
        out: list[DeadbandSuggestion] = []
        for tag in tags:
            a = self.alarms.get(tag)
            if a is None or a.d.limit is None or a.d.type not in ("high", "high_high", "low", "low_low"):
                continue
            rows = self.ctx.historian.query_raw(a.path, start, end, limit=100_000)
            samples = [
                (s.ts, float(s.value))
                for s in rows
                if s.quality is not Quality.BAD
                and isinstance(s.value, int | float)
                and not isinstance(s.value, bool)
            ]
            found = suggest_deadband(tag, a.d.type, a.d.limit, samples, window, a.d.deadband)
            if found is not None:
                out.append(found)
        return out

    # -- views ---------------------------------------------------------------------------------------------------
    def row(self, e: Entry, now: datetime, lang: str = "en") -> dict[str, Any]:
        a, s = e.alarm, e.state
        shelve = s.shelve
        return {
            "id": a.id,
            "name": a.name,
            "asset": a.asset,
            "area": a.area,
            "signal": a.path.rpartition("/")[2],
            "type": a.d.type,
            "priority": a.priority,
            "state": s.state,
            "active": s.active,
            "acknowledged": s.acked,
            "since": s.since,
            "active_since": s.active_since,
            "value": s.value if isinstance(s.value, int | float | str | bool) else None,
            "unit": self._units.get(a.id, ""),
            "limit": a.d.limit,
            "message": a.message(lang),
            "consequence": a.d.consequence,
            "response": a.d.response,
            "shelved_by": shelve.who if shelve else None,
            "shelved_why": shelve.why if shelve else None,
            "shelved_until": shelve.until if shelve else None,
            "out_of_service_by": s.oos_who or None,
            "out_of_service_why": s.oos_why or None,
            "suppressed_by": self.engine.machine_state.get(a.asset_path) if s.suppressed else None,
        }

    def rows(
        self,
        *,
        lang: str = "en",
        states: set[str] | None = None,
        area: str | None = None,
        priority: str | None = None,
        asset: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alarms by priority (high first), then newest first; by default those an operator sees (live)."""
        now = self.ctx.clock()
        want = LIVE_STATES if states is None else states
        out = [
            self.row(e, now, lang)
            for e in self.engine.entries.values()
            if (not want or e.state.state in want)
            and (area is None or e.alarm.area == area)
            and (priority is None or e.alarm.priority == priority)
            and (asset is None or e.alarm.asset == asset)
        ]
        out.sort(key=lambda r: -(r["since"] or now).timestamp())
        out.sort(key=lambda r: PRIORITY_RANK.get(r["priority"], 9))
        return out

    def counts(self, sight: Sight | None = None) -> dict[str, int]:
        """Alarms per state: over all alarms, or over those of the assets ``sight`` sees."""
        out: dict[str, int] = {}
        for e in self.engine.entries.values():
            if sight is not None and not sight.asset(e.alarm.asset):
                continue
            out[e.state.state] = out.get(e.state.state, 0) + 1
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"alarms": self.rows(), "counts": self.counts()}

    def diagnostics(self) -> dict[str, Any]:
        skipped = {i: e.cond.skipped for i, e in self.engine.entries.items() if e.cond.skipped}
        out: dict[str, Any] = {}
        if skipped:
            out["skipped_samples"] = skipped  # samples an alarm could not judge (BAD, text for a number)
        if self.journal_errors:
            out["journal_errors"] = self.journal_errors
        if self.sender is not None and self.sender.failed:
            out["notifications_failed"] = self.sender.failed
        if self.deliveries_dropped:
            out["notifications_dropped"] = self.deliveries_dropped
        return out

    def asset_view(self, asset: str) -> dict[str, Any]:
        entries = self._of_asset.get(asset)
        if not entries:
            return {}
        return {"alarms": sum(1 for e in entries if e.state.state in LIVE_STATES)}

    def banners(self, t: Translator) -> list[dict[str, str]]:
        """An unacknowledged high-priority alarm puts a banner on every page."""
        n = sum(
            1 for e in self.engine.entries.values() if e.alarm.priority == "high" and e.state.state == "unack"
        )
        if not n:
            return []
        text = t.ngettext(
            "{n} unacknowledged high-priority alarm", "{n} unacknowledged high-priority alarms", n
        )
        return [{"kind": "alarm", "text": text, "href": "/alarms"}]
