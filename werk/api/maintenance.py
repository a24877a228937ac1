"""Predictive maintenance endpoints: health and RUL per asset, work orders (reads open, writes by role)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query

from werk.api.auth import Authenticator, User
from werk.api.oee import MAX_DAYS
from werk.apps.maintenance.app import WorkOrderError
from werk.apps.oee.report import ReportBuilder
from werk.core.maintenance import WORK_ORDER_STATES, WorkOrder
from werk.core.model import utcnow
from werk.runtime.platform import Platform


def wo_out(wo: WorkOrder) -> dict[str, Any]:
    d = dataclasses.asdict(wo)
    for k in ("created", "planned_for", "started", "done"):
        if d[k] is not None:
            d[k] = d[k].isoformat()
    return d


def build_maintenance_router(platform: Platform, auth: Authenticator) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["maintenance"])
    app = platform.maintenance
    names = {ref.name for ref in platform.config.assets()}

    def known(asset: str | None) -> None:
        if asset is not None and asset not in names:
            raise HTTPException(404, f"no asset named {asset!r}; GET /api/assets lists them")

    @r.get("/maintenance")
    async def health() -> dict[str, Any]:
        """Per asset: baseline progress, anomaly score and threshold with the signals driving it, RUL (cycles),
        whether a RUL model is loaded and why not."""
        return {"assets": app.snapshot(), "training": platform.training_status}

    @r.get("/workorders")
    async def work_orders(
        asset: str | None = None,
        status: Annotated[str | None, Query(pattern="^(open|planned|in_progress|done)$")] = None,
    ) -> list[dict[str, Any]]:
        known(asset)
        assert platform.historian is not None
        rows = await asyncio.to_thread(platform.historian.query_work_orders, asset=asset, status=status)
        return [wo_out(w) for w in rows]

    @r.post("/workorders", status_code=201)
    async def create(
        asset: Annotated[str, Body(embed=True)],
        title: Annotated[str, Body(embed=True, min_length=3, max_length=200)],
        notes: Annotated[str, Body(embed=True, max_length=5000)] = "",
        planned_for: Annotated[datetime | None, Body(embed=True)] = None,
        user: User = Depends(auth.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> dict[str, Any]:
        """Open a work order by hand."""
        known(asset)
        wo = await app.create_work_order(asset, title, user.name, notes=notes, planned_for=planned_for)
        return wo_out(wo)

    @r.patch("/workorders/{wo_id}")
    async def update(
        wo_id: str,
        status: Annotated[str | None, Body(embed=True)] = None,
        notes: Annotated[str | None, Body(embed=True, max_length=5000)] = None,
        parts: Annotated[list[dict[str, Any]] | None, Body(embed=True)] = None,
        downtime_ids: Annotated[list[str] | None, Body(embed=True)] = None,
        planned_for: Annotated[datetime | None, Body(embed=True)] = None,
        user: User = Depends(auth.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> dict[str, Any]:
        """Move a work order (open, planned, in_progress, done), record parts used, link the stops it explains."""
        if status is not None and status not in WORK_ORDER_STATES:
            raise HTTPException(422, f"status must be one of {', '.join(WORK_ORDER_STATES)}")
        for p in parts or []:
            if not isinstance(p.get("part"), str) or not isinstance(p.get("qty", 1), int | float):
                raise HTTPException(422, 'each part needs a "part" name and a numeric "qty"')
        changes: dict[str, Any] = {
            "status": status,
            "notes": notes,
            "parts": parts,
            "downtime_ids": downtime_ids,
            "planned_for": planned_for,
        }
        try:
            wo = await app.update_work_order(wo_id, user.name, changes)
        except WorkOrderError as exc:
            raise HTTPException(404 if "no work order" in str(exc) else 409, str(exc)) from None
        return wo_out(wo)

    @r.get("/maintenance/kpis")
    async def kpis(start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
        """Per asset over a range (default: the last 30 days): failures and MTBF from the OEE time model (ISO
        22400-2: APT / failure events), and MTTR from the work orders finished in the range (started -> done)."""
        z = end or utcnow()
        a = start or z - timedelta(days=30)
        if a.tzinfo is None or z.tzinfo is None or a >= z:
            raise HTTPException(422, "start and end need a timezone, and start must be before end")
        if z - a > timedelta(days=MAX_DAYS):  # a longer range held a worker thread for minutes
            raise HTTPException(422, f"a report covers at most {MAX_DAYS} days")
        assert platform.historian is not None
        h = platform.historian
        builder = ReportBuilder(platform.config, h)
        rows = await asyncio.to_thread(builder.report, a, z, period="range")
        orders = await asyncio.to_thread(h.query_work_orders, status="done", limit=100_000)
        out: dict[str, Any] = {}
        for row in rows:
            if row.level != "asset":
                continue
            name = row.report.scope
            done = [w for w in orders if w.asset == name and w.done and a <= w.done < z and w.started]
            repairs = [(w.done - w.started).total_seconds() for w in done if w.done and w.started]
            out[name] = {
                "failures": row.report.failures,
                "mtbf_s": row.report.mtbf_s,
                "mttr_s_from_stops": row.report.mttr_s,
                "work_orders_done": len(done),
                "mttr_s_from_work_orders": sum(repairs) / len(repairs) if repairs else None,
            }
        return {"start": a.isoformat(), "end": z.isoformat(), "assets": out}

    @r.post("/maintenance/models/reload")
    async def reload(user: User = Depends(auth.require("supervisor"))) -> dict[str, Any]:  # noqa: B008
        """Re-read the RUL model files (after `werk maintenance train`)."""
        await asyncio.to_thread(app.load_models)
        return {
            "loaded": [n for n, h in app.health.items() if h.rul_model is not None],
            "errors": app.model_errors,
        }

    return r
