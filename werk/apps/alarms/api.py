"""Alarm endpoints: the live list, operator actions (acknowledge, shelve, unshelve) and a supervisor's (out of
service), the journal, and the KPI report over the journal or an uploaded alarm log (JSON or Excel)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from werk.apps.alarms.app import AlarmsApp, SourceError
from werk.apps.alarms.engine import UnknownAlarm
from werk.apps.alarms.export import kpi_xlsx
from werk.apps.alarms.kpi import KpiReport, merge_positions, read_csv, report
from werk.apps.alarms.schemas import (
    AckIn,
    AlarmListOut,
    AlarmOut,
    DeliveryOut,
    JournalOut,
    KpiOut,
    ReasonIn,
    ShelveIn,
)
from werk.apps.alarms.states import STATES, TransitionError
from werk.apps.downloads import download, report_files, report_route
from werk.apps.spec import Web
from werk.core.model import User, utcnow
from werk.core.period import Timestamp, period
from werk.core.sight import WHOLE_PLANT
from werk.errors import InputError

MAX_LOG_BYTES = 64 * 1024 * 1024
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the alarm's state does not allow this; the detail says why"},
    502: {"description": "the alarm's source (an OPC UA server) did not take the acknowledge"},
}


def kpi_out(r: KpiReport) -> dict[str, Any]:
    return asdict(r)


def build_router(app: AlarmsApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/alarms", tags=["alarms"])
    config = web.config
    areas = sorted(
        {a.area for a in app.alarms.values()} | {ref.path.split("/")[2] for ref in config.assets()}
    )

    async def act(
        action: str, alarm_id: str, user: User, why: str = "", until: datetime | None = None
    ) -> Any:
        try:
            return await app.act(action, alarm_id, user.name, why, until)
        except UnknownAlarm as exc:
            raise HTTPException(404, str(exc)) from None
        except TransitionError as exc:
            raise HTTPException(409, str(exc)) from None
        except SourceError as exc:
            raise HTTPException(502, str(exc)) from None

    @r.get("", response_model=AlarmListOut)
    async def alarms(
        request: Request,
        state: Annotated[list[str] | None, Query(description="states to list; default the live ones")] = None,
        area: str | None = None,
        priority: Annotated[str | None, Query(pattern="^(high|medium|low)$")] = None,
        asset: str | None = None,
        all: Annotated[bool, Query(description="every alarm, whatever its state")] = False,
    ) -> dict[str, Any]:
        """Alarms by priority (high first), then newest first: those an operator sees (unack, acked, rtn_unack,
        latched) unless ``state`` or ``all`` says otherwise."""
        for s in state or []:
            if s not in STATES:
                raise InputError(f"unknown state {s!r}; one of {', '.join(STATES)}", ("query", "state"))
        if area is not None and area not in areas:
            raise InputError(f"no area {area!r}; areas: {', '.join(areas)}", ("query", "area"))
        if asset is not None:
            web.asset(asset)
        lang = web.translator(request).lang
        states = set() if all else (set(state) if state else None)
        rows = app.rows(lang=lang, states=states, area=area, priority=priority, asset=asset)
        sight = web.sight(request)
        if sight is None:
            return {"alarms": rows, "counts": app.counts()}
        rows = [row for row in rows if sight.asset(row.get("asset"))]
        return {"alarms": rows, "counts": app.counts(sight)}

    @r.post("/{alarm_id}/acknowledge", response_model=AlarmOut, responses=CONFLICT)
    async def acknowledge(
        alarm_id: str,
        body: AckIn | None = None,
        user: User = Depends(web.require("operator")),  # noqa: B008 - FastAPI's dependency idiom
    ) -> Any:
        """Acknowledge an alarm (and reset a latched one)."""
        return await act("acknowledge", alarm_id, user, body.comment if body else "")

    @r.post("/{alarm_id}/shelve", response_model=AlarmOut, responses=CONFLICT)
    async def shelve(
        alarm_id: str,
        body: ShelveIn,
        user: User = Depends(web.require("operator")),  # noqa: B008
    ) -> Any:
        """Shelve an alarm with a reason: until a time, for a duration, or one-shot (until it clears)."""
        given = sum(x for x in (body.until is not None, body.duration_s is not None, body.one_shot))
        if given != 1:
            raise InputError("give exactly one of until, duration_s and one_shot", ("body",))
        until = body.until
        if body.duration_s is not None:
            until = utcnow() + timedelta(seconds=body.duration_s)
        if until is not None and until.tzinfo is None:
            raise InputError("until has no timezone; add 'Z' or an offset", ("body", "until"))
        return await act("shelve", alarm_id, user, body.why, until)

    @r.post("/{alarm_id}/unshelve", response_model=AlarmOut, responses=CONFLICT)
    async def unshelve(
        alarm_id: str,
        body: ReasonIn | None = None,
        user: User = Depends(web.require("operator")),  # noqa: B008
    ) -> Any:
        """Put a shelved alarm back in the operator's list."""
        return await act("unshelve", alarm_id, user, body.why if body else "")

    @r.post("/{alarm_id}/out-of-service", response_model=AlarmOut, responses=CONFLICT)
    async def out_of_service(
        alarm_id: str,
        body: ReasonIn,
        user: User = Depends(web.require("supervisor")),  # noqa: B008
    ) -> Any:
        """Remove an alarm from service (a broken instrument), with a reason."""
        return await act("remove_from_service", alarm_id, user, body.why)

    @r.post("/{alarm_id}/in-service", response_model=AlarmOut, responses=CONFLICT)
    async def in_service(
        alarm_id: str,
        body: ReasonIn | None = None,
        user: User = Depends(web.require("supervisor")),  # noqa: B008
    ) -> Any:
        """Return an alarm to service."""
        return await act("return_to_service", alarm_id, user, body.why if body else "")

    @r.get(
        "/journal",
        response_model=list[JournalOut],
        responses={404: {"description": "no alarm of that id"}},
    )
    async def journal(
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        alarm: str | None = None,
        limit: Annotated[int, Query(gt=0, le=10_000)] = 500,
    ) -> list[dict[str, Any]]:
        """The alarm journal, newest first: every transition with who, when and why."""
        if alarm is not None and alarm not in app.alarms:
            raise HTTPException(404, f"no alarm {alarm!r}; GET /api/alarms?all=true lists them")
        return await asyncio.to_thread(app.store.journal, start=start, end=end, alarm=alarm, limit=limit)

    @r.get("/deliveries", response_model=list[DeliveryOut])
    async def deliveries(limit: Annotated[int, Query(gt=0, le=10_000)] = 200) -> list[dict[str, Any]]:
        """The notification delivery log, newest first: each e-mail and webhook, sent or failed, with attempts."""
        return await asyncio.to_thread(app.store.deliveries, limit)

    def respond(rep: KpiReport, format: str, name: str) -> Any:
        if format == "xlsx":
            return download(kpi_xlsx(rep), f"{name}.xlsx")
        return kpi_out(rep)

    @report_route(r, "/kpi", KpiOut, "xlsx")
    async def kpi(
        request: Request,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        format: Annotated[str, Query(pattern="^(json|xlsx)$")] = "json",
    ) -> Any:
        """EEMUA 191 / ISA-18.2 KPIs over the journal (default: the last 24 hours), graded against their targets;
        ``format=xlsx`` downloads them. Rates and the flood share are over the time werk watched the alarms within
        the range (``observed_hours``, ``observed``), and are not graded from less than an hour of it."""
        if web.sight(request) is not None:
            raise HTTPException(403, WHOLE_PLANT)
        a, z = period(start, end, default_start=lambda e: e - timedelta(days=1))
        recs = await asyncio.to_thread(app.store.records, a, z)
        seen = await asyncio.to_thread(app.observed, a, z)
        k = app.settings.kpi
        recs = merge_positions(recs, k.positions)
        counts = {s: n for s, n in app.counts().items() if s in ("shelved", "suppressed", "out_of_service")}
        rep = report(recs, k, start=a, end=z, positions=len(k.positions) or 1, counts=counts, observed=seen)
        rep.deadbands = await asyncio.to_thread(app.deadbands, [c.tag for c in rep.chattering], a, z)
        return respond(rep, format, "alarm-kpi")

    @r.post(
        "/kpi/import",
        response_model=KpiOut,
        responses=report_files("xlsx"),
        openapi_extra={
            "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
        },
    )
    async def kpi_import(
        request: Request,
        format: Annotated[str, Query(pattern="^(json|xlsx)$")] = "json",
        timezone: str = "UTC",
        positions: Annotated[int | None, Query(ge=1, le=1000)] = None,
        # an upload costs the server work: a person who signs in for it, not any reader (nothing is stored)
        user: User = Depends(web.require("operator")),  # noqa: B008
    ) -> Any:
        """The KPIs of an imported alarm log (CSV: ``timestamp``, ``tag``, ``type`` with ``... NR`` for a return
        to normal; see the alarm app's notes). Nothing is stored."""
        body = await request.body()
        if len(body) > MAX_LOG_BYTES:
            raise HTTPException(413, f"an alarm log may have at most {MAX_LOG_BYTES} bytes")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("the alarm log is not UTF-8 text", ("body",)) from None
        try:
            recs = await asyncio.to_thread(read_csv, text, timezone=timezone)
        except KeyError:
            raise InputError(f"unknown timezone {timezone!r}", ("query", "timezone")) from None
        rep = report(recs, app.settings.kpi, positions=positions)
        return respond(rep, format, "alarm-log-kpi")

    return r
