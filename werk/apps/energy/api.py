"""Energy endpoints: live window and today's figures, reports (JSON, CSV, Excel), the load curve, the idle-energy
ranking, EnPI trend, ISO 50006 baselines and the meter events people record."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from werk.apps.downloads import download, report_route
from werk.apps.energy import baseline as iso50006
from werk.apps.energy.app import EnergyApp
from werk.apps.energy.calendar import Bucket
from werk.apps.energy.report import IDLE_STATES
from werk.apps.energy.schemas import (
    BaselineIn,
    BaselineOut,
    IdleOut,
    LiveOut,
    LoadOut,
    MeterEventIn,
    MeterEventOut,
    ReportOut,
)
from werk.apps.energy.store import RecordedEvent
from werk.apps.spec import Web
from werk.core.model import User, utcnow
from werk.core.period import Timestamp, period
from werk.errors import InputError

PERIOD_PATTERN = "^(" + "|".join(get_args(Bucket)) + ")$"


def build_router(energy: EnergyApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/energy", tags=["energy"])
    config = web.config
    tz = ZoneInfo(config.plant.timezone)
    reader = energy.reader

    def month_start(z: datetime) -> datetime:
        local = z.astimezone(tz)
        return datetime.combine(local.date().replace(day=1), time(0), tzinfo=tz)

    def week_start(z: datetime) -> datetime:
        d = z.astimezone(tz).date()
        return datetime.combine(d - timedelta(days=d.weekday()), time(0), tzinfo=tz)

    def metered(asset: str | None) -> str | None:
        if asset is not None and asset not in reader.meters:
            raise HTTPException(404, f"no metered asset named {asset!r}; GET /api/energy/live lists them")
        return asset

    @r.get("/live", response_model=LiveOut)
    async def live(request: Request) -> dict[str, Any]:
        """The current 15-minute window (projected mean power against the peak limit) and today's figures per
        asset (kWh, kWh per good part, cost, CO2e, idle energy). A caller whose viewer grants cover parts of
        the plant gets the assets they cover and an empty window (the site's meters are over all of it)."""
        out = energy.snapshot()
        sight = web.sight(request)
        if sight is None:
            return out
        today = dict(out.get("today") or {})
        today["assets"] = sight.keyed(today.get("assets") or {})
        return {"window": {}, "today": today}

    @report_route(r, "/report", ReportOut, "csv", "xlsx")
    async def report(
        request: Request,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        period_: Annotated[str, Query(alias="period", pattern=PERIOD_PATTERN)] = "day",
        asset: Annotated[list[str] | None, Query()] = None,
        format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
        states: Annotated[bool, Query(description="energy per machine state in each row")] = True,
    ) -> Any:
        """Energy, cost, CO2e, 15-minute peak, parts and energy per part per asset, line, area and site, one row
        per local period (default: this month by day). ``format=csv`` or ``xlsx`` downloads it. A caller whose
        viewer grants cover parts of the plant gets the rows of the assets, lines and areas they cover in full,
        and no site rows or site peaks."""
        a, z = period(start, end, default_start=month_start)
        for x in asset or []:
            metered(x)
        sight = web.sight(request)
        if sight is not None:
            asset = [n for n in asset or reader.meters if sight.asset(n)]
        if (z - a).total_seconds() / 60 > 20_000 and period_ == "minute":
            raise InputError(
                "more than 20,000 minutes: a shorter range or a longer period", ("query", "period")
            )
        rep = await asyncio.to_thread(
            reader.report,
            a,
            z,
            period_,  # type: ignore[arg-type]
            assets=asset,
            states=states,
        )
        if sight is not None:
            rep = {
                **rep,
                "rows": [x for x in rep["rows"] if sight.aggregate(x["level"], x["scope"])],
                "peaks": [],
                "anomalies": [x for x in rep["anomalies"] if sight.asset(x["asset"])],
            }
        if format == "csv":
            from werk.apps.energy.export import report_csv

            return download(report_csv(rep), "energy-report.csv")
        if format == "xlsx":
            from werk.apps.energy.export import report_xlsx

            body = await asyncio.to_thread(report_xlsx, rep)
            return download(body, "energy-report.xlsx")
        return rep

    @r.get("/load", response_model=LoadOut)
    async def load(
        request: Request,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        hours: Annotated[float | None, Query(gt=0, le=24 * 40)] = None,
        step_s: Annotated[int, Query(description="10, 60, 300 or 900 (local quarter hours)")] = 900,
    ) -> dict[str, Any]:
        """The load curve: the site's and each asset's mean power per step (default: 15 minutes over the last 24
        hours); at most 10,000 steps. A caller whose viewer grants cover parts of the plant gets the assets they
        cover and no site curve (``total_kw`` all null)."""
        now = utcnow()
        if step_s not in (10, 60, 300, 900):
            raise InputError("step_s is 10, 60, 300 or 900", ("query", "step_s"))
        if hours is not None and start is None:
            start = now - timedelta(hours=hours)
        a, z = period(start, end, default_start=lambda z: z - timedelta(hours=24), max_days=40)
        if (z - a).total_seconds() / step_s > 10_000:
            raise InputError("more than 10,000 steps: a shorter range or a longer step", ("query", "step_s"))
        out = await asyncio.to_thread(reader.load_curve, a, z, step_s)
        sight = web.sight(request)
        if sight is not None:
            out["assets"] = sight.keyed(out["assets"])
            out["total_kw"] = [None] * len(out["total_kw"])
        return out

    @r.get("/idle", response_model=list[IdleOut])
    async def idle(
        request: Request, start: Timestamp | None = None, end: Timestamp | None = None
    ) -> list[dict[str, Any]]:
        """Machines drawing power while they make nothing (idle, starved, blocked), most energy first (default:
        this week); those the caller's viewer grants cover."""
        a, z = period(start, end, default_start=week_start, max_days=40)
        sight = web.sight(request)
        mine = None if sight is None else [n for n in reader.meters if sight.asset(n)]
        rep = await asyncio.to_thread(reader.report, a, z, "year", assets=mine)
        acc: dict[str, dict[str, float]] = {}
        for row in rep["rows"]:
            if row["level"] != "asset":
                continue
            x = acc.setdefault(row["scope"], {"idle": 0.0, "energy": 0.0, "cost": 0.0})
            x["idle"] += sum(v for k, v in (row.get("states") or {}).items() if k in IDLE_STATES)
            x["energy"] += row["energy"]
            x["cost"] += row["cost"]
        out = [
            {
                "asset": n,
                "idle_kwh": x["idle"],
                "idle_cost": x["idle"] * x["cost"] / x["energy"] if x["energy"] else 0.0,
                "energy": x["energy"],
                "idle_share": x["idle"] / x["energy"] if x["energy"] else None,
                "currency": energy.settings.currency,
            }
            for n, x in acc.items()
        ]
        return sorted(out, key=lambda d: -d["idle_kwh"])

    @r.post("/baseline", response_model=BaselineOut)
    async def baseline(
        body: BaselineIn,
        _: User = Depends(web.require("operator")),  # noqa: B008 (a fit over months costs CPU: signed in)
    ) -> dict[str, Any]:
        """Fit an ISO 50006 baseline (energy per period against good parts and/or running hours) and, with a
        reporting range, the savings against it with their uncertainty. The answer says why a baseline is not
        valid (F-test p >= 0.10, R² < 0.5, too few periods) rather than refusing it."""
        asset = metered(body.asset)
        b0, b1 = period(body.baseline_start, body.baseline_end, default_start=lambda z: z)
        base_rows = await asyncio.to_thread(_driver_rows, energy, asset, b0, b1, body.period)
        x: dict[str, list[float]] = {d: [row[d] for row in base_rows] for d in body.drivers}
        model = iso50006.fit([row["energy"] for row in base_rows], x)
        sav = None
        if body.report_start is not None:
            r0, r1 = period(body.report_start, body.report_end, default_start=lambda z: z)
            rep_rows = await asyncio.to_thread(_driver_rows, energy, asset, r0, r1, body.period)
            sav = iso50006.savings(
                model,
                [row["energy"] for row in rep_rows],
                {d: [row[d] for row in rep_rows] for d in body.drivers},
            ).as_dict()
        return {"baseline": model.as_dict(), "savings": sav}

    @r.get("/meters/{asset}/events", response_model=list[MeterEventOut])
    async def meter_events(asset: str) -> list[dict[str, Any]]:
        """The resets and exchanges recorded for an asset's meter."""
        metered(asset)
        return [e.__dict__ for e in await asyncio.to_thread(energy.store.events, asset)]

    @r.post("/meters/{asset}/events", response_model=MeterEventOut)
    async def record_event(
        asset: str,
        body: MeterEventIn,
        user: User = Depends(web.require("supervisor")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> dict[str, Any]:
        """Record a reset or exchange of an asset's meter (supervisors): reports from then on book the old
        counter up to ``old_final`` and the new one from ``new_start``. Recording one at the same time again
        corrects it."""
        metered(asset)
        if body.ts.tzinfo is None:
            raise InputError("ts has no timezone; add 'Z' or an offset", ("body", "ts"))
        e = RecordedEvent(
            asset, body.ts, body.kind, body.old_final, body.new_start, user.name, utcnow(), body.comment
        )
        await energy.record_event(e)
        return e.__dict__

    return r


def _driver_rows(
    energy: EnergyApp, asset: str | None, start: datetime, end: datetime, size: str
) -> list[dict[str, float]]:
    """Per period: energy (kWh), good parts and hours running of one asset or every electricity meter."""
    reader = energy.reader
    rep = reader.report(start, end, size, assets=[asset] if asset else None)  # type: ignore[arg-type]
    out: dict[str, dict[str, float]] = {}
    for row in rep["rows"]:
        if row["level"] != "asset" or row["unit"] != "kWh" or row["coverage"] < 0.5:
            continue
        x = out.setdefault(row["period"], {"energy": 0.0, "parts": 0.0, "running_hours": 0.0})
        x["energy"] += row["energy"]
        x["parts"] += row["parts"] or 0
        x["running_hours"] += (row.get("state_seconds") or {}).get("running", 0.0) / 3600.0
    if not out:
        raise InputError("no metered period with readings in that range", ("body", "baseline_start"))
    return list(out.values())
