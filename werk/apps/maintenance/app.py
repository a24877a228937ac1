"""Wiring of predictive maintenance: signals in; health score, RUL, warnings and work orders out.

Per asset it builds per-cycle rows (``cycles.CycleAggregator``), keeps a healthy baseline and an anomaly score
(``health.AssetHealth``), and, when a model file ``<models_dir>/<asset>.rul.werkmodel`` exists, a remaining useful
life. A model file that is corrupt or was trained on other features is refused with its reason (shown in the API);
serving goes on without it. Simulated assets without a model file get one trained in a worker thread at start
(``auto_train``). Outputs on the Unified Namespace: ``<asset>/health.score``, ``health.threshold``,
``rul.cycles``; a ``maintenance`` event and a work order when an asset looks like it will fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from werk.apps.maintenance.cycles import CycleAggregator
from werk.apps.maintenance.health import AssetHealth, Warning
from werk.apps.maintenance.model_file import load_model, model_path
from werk.apps.maintenance.orders import TRANSITIONS, WorkOrder
from werk.apps.maintenance.reliability import BREAKDOWN
from werk.apps.maintenance.rul import RulModel
from werk.apps.maintenance.settings import MaintenanceSettings
from werk.apps.maintenance.store import MaintenanceStore
from werk.apps.spec import App, AppContext
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Event, Quality, Sample, Value, to_micros
from werk.core.states import STATE_SIGNAL, STOP_STATES
from werk.errors import ModelFileError, WerkError
from werk.sim.spec import sim_of

log = logging.getLogger(__name__)

STOP_LOOKBACK = timedelta(days=7)  # how far before a work order a stop it explains may have begun
MAX_STATES_KEPT = 1000


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
        for name in self.refs:
            self.health[name] = AssetHealth(
                name,
                tuple(self.settings.signals),
                self.settings.baseline_cycles,
                self.settings.anomaly_cycles,
                self.settings.rul_warning_cycles,
            )
            self.aggregators[name] = CycleAggregator(self.settings.signals)
        self.load_models()

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
                h.rul_model = None
                continue
            assert isinstance(loaded.model, RulModel)
            missing = set(loaded.model.spec.signals) - set(self.settings.signals)
            if missing:
                self.model_errors[name] = (
                    f"model file {path}: needs signals {sorted(missing)} werk does not watch"
                )
                h.rul_model = None
                continue
            self.model_errors.pop(name, None)
            h.rul_model = loaded.model

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
            for name, w in warnings:
                await self._warn(name, w)

    def feed(self, batch: list[Sample]) -> tuple[list[Sample], list[tuple[str, Warning]]]:
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
                agg.state(state)
            elif signal == "cycle_count" and isinstance(s.value, int | float):
                row = agg.cycle(int(s.value))
                if row is not None:
                    h = self.health[name]
                    w = h.on_cycle(row)
                    out.extend(self._outputs(asset_path, h, s))
                    if w is not None:
                        warnings.append((name, w))
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

    async def _warn(self, name: str, w: Warning) -> None:
        ref = self.refs[name]
        what = "remaining useful life low" if w.reason == "rul" else "abnormal behaviour"
        wo = WorkOrder(
            id=uuid.uuid4().hex[:12],
            asset=name,
            title=f"Inspect {name}: {what}",
            created=self.ctx.clock(),
            created_by="werk",
            source=w.reason,
            trigger=w.detail,
        )
        await asyncio.to_thread(self.store.upsert_work_order, wo)
        event = Event(
            "maintenance",
            ref.path,
            wo.created,
            {"asset": name, "reason": w.reason, "work_order": wo.id, **w.detail},
        )
        await self.ctx.bus.publish_events([event])
        log.warning("maintenance.warning asset=%s reason=%s work_order=%s", name, w.reason, wo.id)

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
        return {"rul_cycles": h.rul, "health_score": h.score}
