"""Predictive maintenance endpoints: health and RUL per asset, work orders (reads open, writes by role)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from werk.apps.maintenance.app import MaintenanceApp, WorkOrderError
from werk.apps.maintenance.health import drivers_text
from werk.apps.maintenance.orders import WorkOrder, title_of
from werk.apps.maintenance.reliability import reliability
from werk.apps.maintenance.schemas import (
    HealthOut,
    KpisOut,
    ReloadOut,
    WorkOrderChange,
    WorkOrderIn,
    WorkOrderOut,
    WorkOrderStatus,
)
from werk.apps.spec import Web
from werk.core.model import User, utcnow
from werk.core.period import Timestamp, period
from werk.core.states import STATE_SIGNAL
from werk.i18n import N_, Translator


def wo_out(wo: WorkOrder, tr: Translator | None = None) -> WorkOrderOut:
    """An order as the API gives it; ``title_text`` in ``tr``'s language (werk's own titles are translated)."""
    return WorkOrderOut.model_validate({**dataclasses.asdict(wo), "title_text": title_of(wo, tr)})


def reason_values(
    tr: Translator, args: dict[str, Any], drivers: dict[str, float] | None = None
) -> dict[str, str]:
    """A reason's values as the reader's locale writes them (scores with one decimal, cycles whole, durations
    ``*_s`` in minutes or hours); ``drivers`` (the snapshot's signal shares) names the signals in ``drivers`` in
    the reader's language, where werk has words for them."""
    out = {
        k: tr.fmt.duration(v)
        if k.endswith("_s") and isinstance(v, int | float)
        else tr.fmt.number(v, 1 if k in ("score", "threshold") else 0)
        if isinstance(v, int | float)
        else str(v)
        for k, v in args.items()
    }
    if "drivers" in out and drivers is not None:
        out["drivers"] = drivers_text(drivers, tr, lambda v: tr.fmt.percent(v, 0))
    return out


def build_router(app: MaintenanceApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["maintenance"])
    names = {ref.name for ref in web.config.assets()}

    def known(asset: str | None) -> None:
        if asset is not None and asset not in names:
            raise HTTPException(404, f"no asset named {asset!r}; GET /api/assets lists them")

    @r.get("/maintenance", response_model=HealthOut)
    async def health(request: Request) -> dict[str, Any]:
        """Per asset: the health state and its reason (in English and in the reader's language), baseline
        progress, anomaly score and threshold with the signals driving it, RUL (cycles), whether a RUL model is
        loaded and why not."""
        tr = web.translator(request)
        assets = app.snapshot()
        for view in assets.values():
            reason = view.get("reason")
            if reason:
                for p in reason.get("parts", ()):
                    p["text"] = tr(p["message"], **reason_values(tr, p["args"], view.get("drivers")))
                reason["text"] = "; ".join(p["text"] for p in reason.get("parts", ()))
        return {"assets": assets, "training": app.training_status}

    @r.get("/workorders", response_model=list[WorkOrderOut])
    async def work_orders(
        request: Request, asset: str | None = None, status: WorkOrderStatus | None = None
    ) -> list[WorkOrderOut]:
        """Work orders, newest first; ``title_text`` in the reader's language."""
        known(asset)
        rows = await asyncio.to_thread(app.store.query_work_orders, asset=asset, status=status)
        tr = web.translator(request)
        return [wo_out(w, tr) for w in rows if web.sees(request, w.asset)]

    @r.post("/workorders", status_code=201, response_model=WorkOrderOut)
    async def create(
        request: Request,
        body: WorkOrderIn,
        user: User = Depends(web.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> WorkOrderOut:
        """Open a work order by hand."""
        known(body.asset)
        wo = await app.create_work_order(
            body.asset, body.title, user.name, notes=body.notes, planned_for=body.planned_for
        )
        return wo_out(wo, web.translator(request))

    @r.patch(
        "/workorders/{wo_id}",
        response_model=WorkOrderOut,
        responses={409: {"description": "the work order cannot make that move (a done order cannot reopen)"}},
    )
    async def update(
        request: Request,
        wo_id: str,
        body: WorkOrderChange,
        user: User = Depends(web.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> WorkOrderOut:
        """Move a work order (open, planned, in_progress, done), record parts used, link the stops it explains."""
        changes: dict[str, Any] = body.model_dump()
        if body.parts is not None:
            changes["parts"] = [p.model_dump() for p in body.parts]
        try:
            wo = await app.update_work_order(wo_id, user.name, changes)
        except WorkOrderError as exc:
            raise HTTPException(404 if "no work order" in str(exc) else 409, str(exc)) from None
        return wo_out(wo, web.translator(request))

    @r.get("/maintenance/kpis", response_model=KpisOut)
    async def kpis(start: Timestamp | None = None, end: Timestamp | None = None) -> dict[str, Any]:
        """Per asset over a range (default: the last 30 days): failures, MTBF and MTTR from the asset's state
        timeline (ISO 22400-2: running time / failures, time from a fault until it runs again), and MTTR from
        the work orders finished in the range (started -> done)."""
        a, z = period(start, end, default_start=lambda z: z - timedelta(days=30))
        h = app.ctx.historian
        orders = await asyncio.to_thread(app.store.query_work_orders, status="done", limit=100_000)
        out: dict[str, Any] = {}
        for ref in web.config.assets():
            if not ref.config.production:
                continue
            changes = await asyncio.to_thread(h.changes, ref.signal_path(STATE_SIGNAL), a, z)
            rel = reliability(changes, a, min(z, utcnow()))
            done = [w for w in orders if w.asset == ref.name and w.done and a <= w.done < z and w.started]
            repairs = [(w.done - w.started).total_seconds() for w in done if w.done and w.started]
            out[ref.name] = {
                "failures": rel.failures,
                "mtbf_s": rel.mtbf_s,
                "mttr_s_from_stops": rel.mttr_s,
                "work_orders_done": len(done),
                "mttr_s_from_work_orders": sum(repairs) / len(repairs) if repairs else None,
            }
        return {"start": a.isoformat(), "end": z.isoformat(), "assets": out}

    @r.post("/maintenance/models/reload", response_model=ReloadOut)
    async def reload(user: User = Depends(web.require("supervisor"))) -> dict[str, Any]:  # noqa: B008
        """Re-read the RUL model files (after `werk maintenance train`)."""
        if app.ctx.served:  # each worker reads its own models_dir
            raise app.elsewhere(N_("the RUL models, which each worker reads from its own models_dir"))
        await asyncio.to_thread(app.load_models)
        return {
            "loaded": [n for n, h in app.health.items() if h.rul_model is not None],
            "errors": app.model_errors,
        }

    return r
