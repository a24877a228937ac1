"""Downtime and OEE endpoints: live KPIs, reports (JSON, CSV, Excel), stops, Pareto, timeline, classification."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from werk.apps.downloads import download, report_route
from werk.apps.oee.app import OeeApp, ReasonError
from werk.apps.oee.export import report_csv, report_xlsx
from werk.apps.oee.kpi import KPI_NAMES
from werk.apps.oee.report import PERIODS
from werk.apps.oee.schemas import (
    ClassificationOut,
    ClassifyIn,
    LiveOut,
    ParetoOut,
    ReasonOut,
    ReportOut,
    StopOut,
    TimelineOut,
)
from werk.apps.oee.stops import Stop
from werk.apps.spec import Web
from werk.config.model import WerkConfig
from werk.core.model import User, utcnow
from werk.core.period import MAX_DAYS, Timestamp, period
from werk.errors import InputError
from werk.i18n import Translator


def report_range(
    config: WerkConfig, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """Default: today in the plant's timezone, up to now."""
    tz = ZoneInfo(config.plant.timezone)
    return period(
        start, end, default_start=lambda z: datetime.combine(z.astimezone(tz).date(), time(0), tzinfo=tz)
    )


def flag_text(tr: Translator, flag: dict[str, Any]) -> str:
    """A flag's message in the reader's language, its values as the locale writes them."""
    if not flag.get("msgid"):
        return str(flag["message"])
    values: dict[str, str] = {}
    for k, v in flag.get("args", {}).items():
        if k == "value":
            values[k] = tr.fmt.percent(v)
        elif k == "pri_s":
            values[k] = tr.fmt.unit(v, "s", 1)
        elif k == "parts":
            values[k] = tr.fmt.integer(v)
        elif k == "kpi":
            values[k] = tr(KPI_NAMES.get(str(v), str(v)))
        else:
            values[k] = str(v)
    return tr(flag["msgid"], **values)


def with_texts(tr: Translator, kpis: dict[str, Any] | None) -> dict[str, Any] | None:
    """A KPI report (as a dict) whose flags carry their text in the reader's language."""
    if kpis is None:
        return None
    for f in kpis.get("flags", ()):
        f["text"] = flag_text(tr, f)
    return kpis


@dataclass(frozen=True)
class StopsQuery:
    """The query of a list of stops: those overlapping ``start`` to ``end``, of ``asset`` or of all."""

    start: Timestamp | None = None
    end: Timestamp | None = None
    asset: str | None = None


def stop_out(stop: Stop, now: datetime, unqualified_after_s: float, labels: dict[str, str]) -> StopOut:
    return StopOut(
        id=stop.id,
        asset=stop.asset,
        start=stop.start,
        end=stop.end,
        duration_s=round(stop.duration_s(now), 3),
        first_state=stop.first_state,
        states=stop.states,
        reason=stop.reason,
        reason_label=labels.get(stop.reason or ""),
        reason_source=stop.reason_source,
        planned=stop.planned,
        micro=stop.micro,
        status=stop.status(now, unqualified_after_s),
        history=[
            ClassificationOut(ts=c.ts, who=c.who, reason=c.reason, previous=c.previous, comment=c.comment)
            for c in stop.history
        ],
    )


def build_router(oee: OeeApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["downtime & OEE"])
    config = web.config
    labels = {code: c.label or code for code, c in oee.reasons.items()}
    names = {ref.name for ref in config.assets()}

    def check_assets(asset: list[str] | None) -> list[str] | None:
        for a in asset or []:
            if a not in names:
                raise HTTPException(404, f"no asset named {a!r}; GET /api/assets lists them")
        return asset or None

    @r.get("/oee/live", response_model=LiveOut)
    async def live(request: Request) -> dict[str, Any]:
        """KPIs of the current shift per asset, line and plant (ISO 22400-2; ratios 0..1, times in seconds);
        flags' texts in the reader's language. A caller whose viewer grants cover parts of the plant gets the
        assets and lines they cover, and no plant figures (``plant`` null)."""
        tr = web.translator(request)
        out = copy.deepcopy(oee.snapshot())
        sight = web.sight(request)
        if sight is not None and out:
            out["assets"] = sight.keyed(out.get("assets") or {})
            out["lines"] = sight.nodes(out.get("lines") or {})
            out["plant"] = None
        for group in ("assets", "lines"):
            for kpis in out.get(group, {}).values():
                with_texts(tr, kpis)
        with_texts(tr, out.get("plant"))
        return out

    @report_route(r, "/oee/report", ReportOut, "csv", "xlsx")
    async def report(
        request: Request,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        period: Annotated[str, Query(pattern="^(range|shift|day|week)$")] = "shift",
        asset: Annotated[list[str] | None, Query()] = None,
        format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
    ) -> Any:
        """KPI report for a range, one row per period and scope. ``format=csv`` or ``xlsx`` downloads it. A caller
        whose viewer grants cover parts of the plant gets the rows of the assets and lines they cover (no plant
        row)."""
        a, z = report_range(config, start, end)
        assets = check_assets(asset)
        sight = web.sight(request)
        if sight is not None:
            assets = [n for n in assets or names if sight.asset(n)]
        rows = await asyncio.to_thread(oee.builder.report, a, z, period=period, assets=assets)
        if sight is not None:
            rows = [x for x in rows if sight.aggregate(x.level, x.report.scope)]
        tz = config.plant.timezone
        if format == "csv":
            return download(report_csv(rows, tz), "oee-report.csv")
        if format == "xlsx":
            stops = await asyncio.to_thread(oee.store.query_stops, start=a, end=z)
            stops = [s for s in stops if assets is None or s.asset in assets]
            now = utcnow()
            after = oee.settings.unqualified_after_s
            body = report_xlsx(
                rows,
                tz,
                stops=stops,
                pareto=oee.pareto(stops, now),
                now=now,
                status=lambda s: s.status(now, after),
            )
            return download(body, "oee-report.xlsx")
        tr = web.translator(request)
        return {
            "start": a.isoformat(),
            "end": z.isoformat(),
            "period": period,
            "periods": list(PERIODS),
            "rows": [
                {"period": x.period, "level": x.level, **(with_texts(tr, x.report.as_dict()) or {})}
                for x in rows
            ],
        }

    async def stops_seen(request: Request, q: StopsQuery) -> list[Stop]:
        """The stops of ``q`` (default: today) of the assets the caller's viewer grants cover."""
        a, z = report_range(config, q.start, q.end)
        check_assets([q.asset] if q.asset else None)
        stops = await asyncio.to_thread(oee.store.query_stops, asset=q.asset, start=a, end=z)
        return [s for s in stops if web.sees(request, s.asset)]

    @r.get("/downtime", response_model=list[StopOut])
    async def downtime(
        request: Request,
        q: Annotated[StopsQuery, Depends()],
        status: Annotated[str, Query(pattern="^(all|open|unqualified|classified)$")] = "all",
    ) -> list[StopOut]:
        """Stops overlapping the range (default today), newest first."""
        stops = await stops_seen(request, q)
        now = utcnow()
        after = oee.settings.unqualified_after_s
        out = [stop_out(s, now, after, labels) for s in reversed(stops)]
        return out if status == "all" else [s for s in out if s.status == status]

    @r.get("/downtime/pareto", response_model=list[ParetoOut])
    async def pareto(request: Request, q: Annotated[StopsQuery, Depends()]) -> list[dict[str, object]]:
        """Downtime by reason, longest first (micro-stops included, disconnected time is not a stop); over the
        assets the caller's viewer grants cover."""
        return oee.pareto(await stops_seen(request, q), utcnow())

    @r.get("/downtime/reasons", response_model=dict[str, ReasonOut])
    async def reasons() -> dict[str, Any]:
        """The reason tree of the plant file."""
        return {code: c.model_dump() for code, c in oee.settings.reasons.items()}

    @r.post("/downtime/{stop_id}/reason", response_model=StopOut)
    async def set_reason(
        stop_id: str,
        body: ClassifyIn,
        user: User = Depends(web.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> StopOut:
        """Classify a stop. Operators classify stops without a reason; changing a person's reason needs a
        supervisor. Every change is kept with who and when."""
        current = await oee.find(stop_id)
        if current is not None and current.reason_source == "operator" and user.role == "operator":
            raise HTTPException(
                403, "this stop was already classified by a person; a supervisor may change it"
            )
        try:
            stop = await oee.classify(stop_id, body.reason, user.name, body.comment)
        except ReasonError as exc:
            if "no stop" in str(exc):
                raise HTTPException(404, str(exc)) from None
            raise InputError(str(exc), ("body", "reason")) from None
        return stop_out(stop, utcnow(), oee.settings.unqualified_after_s, labels)

    @r.get("/timeline", response_model=TimelineOut)
    async def timeline(
        request: Request,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        minutes: Annotated[float | None, Query(gt=0, le=MAX_DAYS * 24 * 60)] = None,
    ) -> dict[str, Any]:
        """Each asset's state intervals (a Gantt-like strip), of the assets the caller's viewer grants cover."""
        now = utcnow()
        sight = web.sight(request)
        refs = [ref for ref in oee.builder.refs if sight is None or sight.asset(ref.name)]
        if minutes is not None and start is None:
            start = now - timedelta(minutes=minutes)
        a, z = report_range(config, start, end)
        b = oee.builder
        result = await asyncio.to_thread(
            lambda: {
                ref.name: [
                    {"start": i.start.isoformat(), "end": i.end.isoformat(), "state": i.state}
                    for i in b.intervals(ref, a, z, now)
                ]
                for ref in refs
            }
        )
        return {"start": a.isoformat(), "end": z.isoformat(), "assets": result}

    return r
