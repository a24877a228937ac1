"""Wiring of predictive maintenance: signals in; health score, RUL, warnings and work orders out.

Per asset it builds per-cycle rows (``cycles.CycleAggregator``), keeps a healthy baseline and an anomaly score
(``health.AssetHealth``), and, when a model file ``<models_dir>/<asset>.rul.werkmodel`` exists, a remaining useful
life. A model file that is corrupt or was trained on other features is refused with its reason (shown in the API);
serving goes on without it. Outputs on the Unified Namespace: ``<asset>/health.score``, ``health.threshold``,
``rul.cycles``; a ``maintenance`` event and a work order when an asset looks like it will fail.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

from werk.apps.base import AppContext
from werk.apps.maintenance.cycles import CycleAggregator
from werk.apps.maintenance.health import AssetHealth, Warning
from werk.apps.maintenance.model_file import load_model
from werk.apps.maintenance.rul import RulModel
from werk.bus.base import Overflow
from werk.config.model import AssetRef, WerkConfig
from werk.core.maintenance import TRANSITIONS, WorkOrder
from werk.core.model import Event, Quality, Sample, utcnow
from werk.errors import ModelFileError, WerkError

log = logging.getLogger(__name__)


class WorkOrderError(WerkError, ValueError):
    """A work order that does not exist, or a move its state does not allow."""


def model_path(models_dir: str, asset: str) -> Path:
    return Path(models_dir) / f"{asset}.rul.werkmodel"


class MaintenanceApp:
    name = "maintenance"

    def __init__(self, config: WerkConfig) -> None:
        self.config = config
        self.settings = config.apps.maintenance
        self.refs: dict[str, AssetRef] = {}
        for ref in config.assets():
            bound = set(ref.config.bound_signals())
            if "cycle_count" in bound and set(self.settings.signals) <= bound:
                self.refs[ref.name] = ref
        self._by_path = {r.path: n for n, r in self.refs.items()}
        self.health: dict[str, AssetHealth] = {}
        self.aggregators: dict[str, CycleAggregator] = {}
        self.model_errors: dict[str, str] = {}
        self._in_maintenance: dict[str, bool] = {}
        self._ctx: AppContext | None = None
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

    async def run(self, ctx: AppContext) -> None:
        self._ctx = ctx
        names = {*self.settings.signals, "cycle_count", "machine_state"}
        subs = [ctx.bus.subscribe(f"+/+/+/+/+/+/{sig}", overflow=Overflow.BLOCK) for sig in sorted(names)]
        try:
            async with asyncio.TaskGroup() as tg:
                for sub in subs:
                    tg.create_task(self._consume(ctx, sub))
        finally:
            for sub in subs:
                sub.close()

    async def _consume(self, ctx: AppContext, sub: Any) -> None:
        async for batch in sub:
            out, warnings = self.feed(batch)
            if out:
                await ctx.bus.publish(out)
            for name, w in warnings:
                await self._warn(ctx, name, w)

    def feed(self, batch: list[Sample]) -> tuple[list[Sample], list[tuple[str, Warning]]]:
        out: list[Sample] = []
        warnings: list[tuple[str, Warning]] = []
        for s in batch:
            asset_path, _, signal = s.path.rpartition("/")
            name = self._by_path.get(asset_path)
            if name is None or s.quality is Quality.BAD:
                continue
            agg = self.aggregators[name]
            if signal == "machine_state":
                state = str(s.value)
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

    async def _warn(self, ctx: AppContext, name: str, w: Warning) -> None:
        ref = self.refs[name]
        what = "remaining useful life low" if w.reason == "rul" else "abnormal behaviour"
        wo = WorkOrder(
            id=uuid.uuid4().hex[:12],
            asset=name,
            title=f"Inspect {name}: {what}",
            created=utcnow(),
            created_by="werk",
            source=w.reason,
            trigger=w.detail,
        )
        await asyncio.to_thread(ctx.historian.upsert_work_order, wo)
        event = Event(
            "maintenance",
            ref.path,
            wo.created,
            {"asset": name, "reason": w.reason, "work_order": wo.id, **w.detail},
        )
        await ctx.bus.publish_events([event])
        log.warning("maintenance.warning asset=%s reason=%s work_order=%s", name, w.reason, wo.id)

    # --- work orders from people ------------------------------------------------------------------------------

    async def create_work_order(self, asset: str, title: str, who: str, **fields: Any) -> WorkOrder:
        assert self._ctx is not None
        wo = WorkOrder(
            id=uuid.uuid4().hex[:12], asset=asset, title=title, created=utcnow(), created_by=who, **fields
        )
        await asyncio.to_thread(self._ctx.historian.upsert_work_order, wo)
        return wo

    async def update_work_order(self, wo_id: str, who: str, changes: dict[str, Any]) -> WorkOrder:
        """Move a work order along open -> planned -> in_progress -> done; set parts, notes, linked stops."""
        assert self._ctx is not None
        wo = await asyncio.to_thread(self._ctx.historian.get_work_order, wo_id)
        if wo is None:
            raise WorkOrderError(f"no work order with id {wo_id!r}")
        now = utcnow()
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
                    wo.downtime_ids = await self._stops_explained(wo)
        for key in ("parts", "notes", "downtime_ids", "planned_for"):
            if key in changes and changes[key] is not None:
                setattr(wo, key, changes[key])
        await asyncio.to_thread(self._ctx.historian.upsert_work_order, wo)
        return wo

    async def _stops_explained(self, wo: WorkOrder) -> list[str]:
        """The asset's breakdowns and repairs while the order was open: the stops this work explains."""
        assert self._ctx is not None and wo.done is not None
        stops = await asyncio.to_thread(
            self._ctx.historian.query_stops, asset=wo.asset, start=wo.created, end=wo.done
        )
        return [s.id for s in stops if {"fault", "maintenance"} & set(s.states)]

    def snapshot(self) -> dict[str, Any]:
        return {
            name: {**h.snapshot(), "model_error": self.model_errors.get(name)}
            for name, h in self.health.items()
        }
