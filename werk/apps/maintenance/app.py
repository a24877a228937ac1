"""Wiring of predictive maintenance: signals in; health score, RUL, warnings and work orders out.

Per asset it builds per-cycle rows (``cycles.CycleAggregator``), keeps a healthy baseline and an anomaly score
(``health.AssetHealth``), and, when a model file ``<models_dir>/<asset>.rul.werkmodel`` exists, a remaining useful
life. A model file that is corrupt or was trained on other features is refused with its reason (shown in the API);
serving goes on without it. Simulated assets without a model file get one trained in a worker thread at start
(``auto_train``). Baselines and warning states live in the app's table ``maintenance_health`` and are read back at
start. Outputs on the Unified Namespace: ``<asset>/health.score``, ``health.threshold``, ``rul.cycles`` per cycle,
``health.state`` (learning, ok, watch, warning, alarm) when it changes, with a ``maintenance`` event that gives its
reason; a ``maintenance`` event when a warning is raised or clears. Work orders: one open order per asset and cause
(``anomaly``, ``rul``); a warning raised again while it is open updates it (``last_seen``, ``count``, its trigger),
and a warning that clears says so on it (``cleared``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from werk.apps.maintenance.cycles import CycleAggregator
from werk.apps.maintenance.health import AssetHealth, Warning
from werk.apps.maintenance.model_file import load_model, model_path
from werk.apps.maintenance.orders import TITLES, TRANSITIONS, WorkOrder, took
from werk.apps.maintenance.reliability import BREAKDOWN
from werk.apps.maintenance.rul import RulModel
from werk.apps.maintenance.settings import MaintenanceSettings, sides_of
from werk.apps.maintenance.store import MaintenanceStore
from werk.apps.spec import App, AppContext, reread_every
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Event, Quality, Sample, Value, event_key, to_micros
from werk.core.states import STATE_SIGNAL, STOP_STATES
from werk.errors import ModelFileError, WerkError
from werk.sim.spec import sim_of

log = logging.getLogger(__name__)

STOP_LOOKBACK = timedelta(days=7)  # how far before a work order a stop it explains may have begun
MAX_STATES_KEPT = 1000
SERVED_REFRESH_S = 5.0  # where the app only serves, how often the health states are read again from the store
SAVE_EVERY_CYCLES = 10  # a baseline being learned is stored every so many cycles (and when it is complete)


def breakdowns(timeline: Sequence[tuple[int, Value]]) -> list[tuple[int, int | None, set[str]]]:
    """Stops with a fault or a repair in them, from (µs, state) changes: (start, end or None, states), by the
    rule every app counts stops by (:data:`werk.core.states.STOP_STATES`)."""
    out: list[tuple[int, int | None, set[str]]] = []
    start: int | None = None
    states: set[str] = set()
    for ts, value in timeline:
        state = str(value)
        if state in STOP_STATES:
            if start is None:
                start, states = ts, set()
            states.add(state)
        elif start is not None:
            if BREAKDOWN & states:
                out.append((start, ts, states))
            start = None
    if start is not None and BREAKDOWN & states:
        out.append((start, None, states))
    return out


class WorkOrderError(WerkError, ValueError):
    """A work order that does not exist, or a move its state does not allow."""


class MaintenanceApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.config = ctx.config
        self.settings: MaintenanceSettings = ctx.settings
        self.store = MaintenanceStore(ctx.db)
        self.refs: dict[str, AssetRef] = {}
        for ref in ctx.config.assets():
            bound = set(ref.config.bound_signals())
            if "cycle_count" in bound and set(self.settings.signals) <= bound:
                self.refs[ref.name] = ref
        self._by_path = {r.path: n for n, r in self.refs.items()}
        self.health: dict[str, AssetHealth] = {}
        self.aggregators: dict[str, CycleAggregator] = {}
        self.model_errors: dict[str, str] = {}
        self.training_status: dict[str, Any] = {}
        self._in_maintenance: dict[str, bool] = {}
        self._states: dict[str, list[tuple[int, str]]] = {}  # recent state changes per asset (µs, state)
        self._dirty: set[str] = set()  # assets whose stored health state is behind
        self._published: dict[str, str] = {}  # the health state last published per asset
        self._events: list[Event] = []  # health-state events feed() decided, for the consumer to publish
        self._orders = asyncio.Lock()
        self.health = self._stored_health()
        for name in self.refs:
            self.aggregators[name] = CycleAggregator(self.settings.signals)
        self.load_models()

    def _stored_health(self) -> dict[str, AssetHealth]:
        """Every asset's health state as the store has it (a new one where it has none)."""
        st = self.settings
        stored = self.store.load_health()
        health: dict[str, AssetHealth] = {}
        for name in self.refs:
            h = AssetHealth(
                name,
                tuple(st.signals),
                st.baseline_cycles,
                st.anomaly_cycles,
                st.rul_warning_cycles,
                clear_cycles=st.clear_cycles,
                smoothing_cycles=st.smoothing_cycles,
                false_alarms_per_month=st.false_alarms_per_month,
                sides=sides_of(st),
                skip_before_repair=st.skip_before_repair,
            )
            if name in stored and not h.restore(stored[name]):
                log.warning("maintenance.baseline_dropped asset=%s reason=other signals", name)
            health[name] = h
        return health

    async def serve(self) -> None:
        """Served (a cluster's API replica): the health states as the workers stored them, read again every
        ``SERVED_REFRESH_S`` (a worker stores them after each batch that changed them); the RUL models from this
        process's ``models_dir``."""
        await reread_every(
            SERVED_REFRESH_S,
            lambda: asyncio.to_thread(self._reload_health),
            "maintenance.health_reload_failed",
            at_once=False,
        )

    def _reload_health(self) -> None:
        """The stored health states in place of these, with the models this process loaded."""
        health = self._stored_health()
        for name, h in health.items():
            h.rul_model, h.rul_refused = self.health[name].rul_model, self.health[name].rul_refused
        self.health = health

    def load_models(self) -> None:
        """(Re)read every asset's RUL model file; a bad file is reported and skipped, never fatal."""
        for name, h in self.health.items():
            path = model_path(self.settings.models_dir, name)
            if not path.exists():
                continue
            try:
                loaded = load_model(path, expected_kind=RulModel.kind)
            except ModelFileError as exc:
                self.model_errors[name] = str(exc)
                log.error("maintenance.model_refused asset=%s error=%s", name, exc)
                h.rul_model = h.rul_rmse = None
                continue
            assert isinstance(loaded.model, RulModel)
            missing = set(loaded.model.spec.signals) - set(self.settings.signals)
            if missing:
                self.model_errors[name] = (
                    f"model file {path}: needs signals {sorted(missing)} werk does not watch"
                )
                h.rul_model = h.rul_rmse = None
                continue
            self.model_errors.pop(name, None)
            h.rul_model = loaded.model
            h.rul_rmse = loaded.metrics.get("rmse_cycles_holdout")
        for name, h in self.health.items():
            h.rul_refused = self.model_errors.get(name)

    async def run(self) -> None:
        ctx = self.ctx
        names = {*self.settings.signals, "cycle_count", STATE_SIGNAL}
        subs = [ctx.bus.subscribe(f"+/+/+/+/+/+/{sig}", overflow=Overflow.BLOCK) for sig in sorted(names)]
        try:
            async with asyncio.TaskGroup() as tg:
                for sub in subs:
                    tg.create_task(self._consume(sub))
                if self.settings.auto_train and sim_of(self.config) is not None:
                    tg.create_task(self._train_missing())
        finally:
            for sub in subs:
                sub.close()

    async def _consume(self, sub: Any) -> None:
        async for batch in sub:
            out, warnings = self.feed(batch)
            if out:
                await self.ctx.bus.publish(out)
            events, self._events = self._events, []
            if events:
                await self.ctx.bus.publish_events(events)
            for name, w in warnings:
                await self._warn(name, w)
            if self._dirty:
                await asyncio.to_thread(self.store.save_health, self._take_dirty(), self.ctx.clock())

    async def stop(self) -> None:
        self._dirty.update(self.health)
        await asyncio.to_thread(self.store.save_health, self._take_dirty(), self.ctx.clock())

    def _take_dirty(self) -> dict[str, dict[str, Any]]:
        """The states to store, taken in the event loop's thread (feed() changes them there)."""
        dirty, self._dirty = self._dirty, set()
        return {n: self.health[n].to_state() for n in dirty}

    def save_states(self) -> None:
        """Store the health state of every asset whose state changed since it was last stored."""
        states = self._take_dirty()
        if states:
            self.store.save_health(states, self.ctx.clock())

    def feed(self, batch: list[Sample]) -> tuple[list[Sample], list[tuple[str, Warning]]]:
        """Samples in; the samples to publish and the warnings raised or cleared (``Warning.change``) out. Health
        state changes are queued as events (published by the consumer) and assets to store are marked."""
        out: list[Sample] = []
        warnings: list[tuple[str, Warning]] = []
        for s in batch:
            asset_path, _, signal = s.path.rpartition("/")
            name = self._by_path.get(asset_path)
            if name is None or s.quality is Quality.BAD:
                continue
            agg = self.aggregators[name]
            if signal == STATE_SIGNAL:
                state = str(s.value)
                seen = self._states.setdefault(name, [])
                seen.append((to_micros(s.ts), state))
                del seen[:-MAX_STATES_KEPT]
                if state == "maintenance":
                    self._in_maintenance[name] = True
                elif state == "running" and self._in_maintenance.pop(name, False):
                    self.health[name].renewed()
                    self._dirty.add(name)
                agg.state(state)
            elif signal == "cycle_count" and isinstance(s.value, int | float):
                row = agg.cycle(int(s.value))
                if row is not None:
                    h = self.health[name]
                    before = (h.detector is None, h.relearning is not None)
                    changes = h.on_cycle(row, s.ts.timestamp())
                    out.extend(self._outputs(asset_path, h, s))
                    out.extend(self._state_change(name, asset_path, h, s))
                    warnings.extend((name, w) for w in changes)
                    learned = before != (h.detector is None, h.relearning is not None) or (
                        len(h.relearning if h.relearning is not None else h.baseline) % SAVE_EVERY_CYCLES == 0
                        and (h.detector is None or h.relearning is not None)
                    )
                    if changes or learned:
                        self._dirty.add(name)
            elif isinstance(s.value, int | float) and not isinstance(s.value, bool):
                agg.value(signal, float(s.value))
        return out, warnings

    @staticmethod
    def _outputs(path: str, h: AssetHealth, at: Sample) -> list[Sample]:
        out = []
        if h.score is not None and h.detector is not None:
            out.append(Sample(f"{path}/health.score", at.ts, round(h.score, 4)))
            out.append(Sample(f"{path}/health.threshold", at.ts, round(h.detector.threshold, 4)))
        if h.rul is not None:
            out.append(Sample(f"{path}/rul.cycles", at.ts, round(h.rul, 2)))
        return out

    def _state_change(self, name: str, path: str, h: AssetHealth, at: Sample) -> list[Sample]:
        state, reason = h.status()
        if self._published.get(name) == state:
            return []
        before = self._published.get(name)
        self._published[name] = state
        self._events.append(
            Event(
                "maintenance",
                path,
                at.ts,
                {"asset": name, "health_state": state, "from": before, "reason": reason},
                key=event_key("maintenance", name, "health_state", at.ts, state),
            )
        )
        return [Sample(f"{path}/health.state", at.ts, state)]

    async def _warn(self, name: str, w: Warning) -> None:
        """A warning raised or cleared: the open order of its asset and cause is updated, or one is opened.

        Keyed by the cycle that caused it, as its event is: a warning handled again (a batch delivered again to
        the next instance after a takeover) finds it on the order and changes nothing there; its event is
        published again and stored once by its key (the instance before may have died between the two)."""
        ref = self.refs[name]
        now = self.ctx.clock()
        # by the cycle that caused it (not by the work order's id: a batch handled again by another instance
        # finds or opens the order anew); a warning without its cycle's time has no key
        key = (
            None
            if w.at_s is None
            else event_key(
                "maintenance", name, f"warning.{w.reason}.{w.change}", datetime.fromtimestamp(w.at_s, UTC)
            )
        )
        async with self._orders:
            wo = await asyncio.to_thread(self.store.open_work_order, name, w.reason)
            if w.change == "cleared":
                if wo is None:
                    return
                if not took(wo, key):
                    wo.cleared = now
                    wo.history.append(
                        {"ts": now.isoformat(), "who": "werk", "event": "cleared", "trigger": w.detail}
                    )
                    await asyncio.to_thread(self.store.upsert_work_order, wo)
            elif wo is None:
                wo = WorkOrder(
                    id=uuid.uuid4().hex[:12],
                    asset=name,
                    title=TITLES[w.reason].format(asset=name),  # the pages show it translated (title_of)
                    created=now,
                    created_by="werk",
                    source=w.reason,
                    trigger=w.detail,
                    last_seen=now,
                )
                took(wo, key)
                await asyncio.to_thread(self.store.upsert_work_order, wo)
            elif not took(wo, key):
                wo.trigger, wo.last_seen, wo.cleared = w.detail, now, None
                wo.count += 1
                wo.history.append(
                    {"ts": now.isoformat(), "who": "werk", "event": "raised", "trigger": w.detail}
                )
                await asyncio.to_thread(self.store.upsert_work_order, wo)
        event = Event(
            "maintenance",
            ref.path,
            now,
            {"asset": name, "reason": w.reason, "change": w.change, "work_order": wo.id, **w.detail},
            key=key,
        )
        await self.ctx.bus.publish_events([event])
        log.warning(
            "maintenance.warning asset=%s reason=%s change=%s work_order=%s count=%d",
            name,
            w.reason,
            w.change,
            wo.id,
            wo.count,
        )

    async def _train_missing(self) -> None:
        """Models for simulated assets, trained in a worker thread so the plant keeps running meanwhile."""
        from werk.apps.maintenance.training import missing_models, train_missing

        assets = list(self.refs)
        if not missing_models(self.config, assets):
            return
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def trained(_asset: str) -> None:  # worker thread: hand the reload to the event loop
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody to reload for
                loop.call_soon_threadsafe(self.load_models)

        try:
            await asyncio.to_thread(train_missing, self.config, assets, self.training_status, trained, stop)
        except asyncio.CancelledError:
            stop.set()  # the platform stops: the thread ends within a life, not after every model
            raise
        except Exception as exc:
            self.training_status.update({"state": "failed", "error": str(exc)})
            log.exception("maintenance.training_failed")
            return
        self.load_models()

    # --- work orders from people ------------------------------------------------------------------------------

    async def create_work_order(self, asset: str, title: str, who: str, **fields: Any) -> WorkOrder:
        wo = WorkOrder(
            id=uuid.uuid4().hex[:12],
            asset=asset,
            title=title,
            created=self.ctx.clock(),
            created_by=who,
            **fields,
        )
        await asyncio.to_thread(self.store.upsert_work_order, wo)
        return wo

    async def update_work_order(self, wo_id: str, who: str, changes: dict[str, Any]) -> WorkOrder:
        """Move a work order along open -> planned -> in_progress -> done; set parts, notes, linked stops."""
        wo = await asyncio.to_thread(self.store.get_work_order, wo_id)
        if wo is None:
            raise WorkOrderError(f"no work order with id {wo_id!r}")
        now = self.ctx.clock()
        new = changes.pop("status", None)
        if new is not None and new != wo.status:
            if new not in TRANSITIONS.get(wo.status, set()):
                raise WorkOrderError(f"a work order that is {wo.status!r} cannot become {new!r}")
            wo.history.append({"ts": now.isoformat(), "who": who, "from": wo.status, "to": new})
            wo.status = new
            if new == "in_progress" and wo.started is None:
                wo.started = now
            if new == "done":
                wo.done = now
                wo.started = wo.started or now
                if not wo.downtime_ids and changes.get("downtime_ids") is None:
                    wo.downtime_ids = await asyncio.to_thread(self._stops_explained, wo)
        for key in ("parts", "notes", "downtime_ids", "planned_for"):
            if key in changes and changes[key] is not None:
                setattr(wo, key, changes[key])
        await asyncio.to_thread(self.store.upsert_work_order, wo)
        return wo

    def _stops_explained(self, wo: WorkOrder) -> list[str]:
        """The asset's breakdowns and repairs while the order was open: the stops this work explains, by the
        stop id every app uses (``<asset>@<microseconds when it left running>``). Read from the asset's state
        timeline in the historian, a week back from the order so a stop that began before it counts, and from
        the states this app saw itself (the historian may not have written the newest yet)."""
        assert wo.done is not None
        ref = self.config.asset(wo.asset)
        changes = self.ctx.historian.changes(
            ref.signal_path(STATE_SIGNAL), wo.created - STOP_LOOKBACK, wo.done
        )
        seen = self._states.get(wo.asset, [])
        newest = changes[-1][0] if changes else -1
        timeline = [*changes, *((ts, st) for ts, st in seen if ts > newest)]
        a, z = to_micros(wo.created), to_micros(wo.done)
        return [
            f"{wo.asset}@{start}"
            for start, end, states in breakdowns(timeline)
            if start < z and (end is None or end > a)
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            name: {**h.snapshot(), "model_error": self.model_errors.get(name)}
            for name, h in self.health.items()
        }

    def asset_view(self, asset: str) -> dict[str, Any]:
        h = self.health.get(asset)
        if h is None:
            return {}
        return {"rul_cycles": h.rul, "health_score": h.score, "health_state": h.status()[0]}
