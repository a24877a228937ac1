"""Orders endpoints: release (JSON, CSV, Excel), routings import, the plan, re-plans, pins, capable-to-promise."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from werk.apps.orders.app import OrdersApp, line_args, routing_args
from werk.apps.orders.master import MasterDataError, parse_orders, parse_routings
from werk.apps.orders.schedule import ScheduleError
from werk.apps.spec import Web
from werk.core.model import User
from werk.core.sight import Sight
from werk.errors import InputError

REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "the file or a value in it cannot be used; the message names row and column"}
}
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}
MAX_FILE = 10 * 1024 * 1024


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    order: str = Field(min_length=1, max_length=100)
    product: str
    quantity: int = Field(ge=1, le=1_000_000, strict=True)  # a number: true is not 1 part
    due: datetime
    priority: int = Field(default=1, ge=1, le=100, strict=True)
    release: datetime | None = None


class OrderOut(BaseModel):
    order: str
    product: str
    quantity: int
    due: datetime
    priority: int
    state: Literal["released", "started", "finished"]
    parts_done: int
    wip: int  # parts between machines: made by a step, not yet by the next
    scrap: int
    started: datetime | None
    finished: datetime | None
    planned_end: datetime | None
    late: bool


class ReplanOut(BaseModel):
    """A re-plan: ``reason`` is ``kind:subject`` items joined by ", " (kinds: down, back, inspection,
    inspection-cancelled, released, pinned, requested, start; the subject an asset, an operation or a count);
    ``method`` is full, cp-sat (a repair) or heuristic (a repair the time limit left to the heuristic)."""

    ts: datetime
    reason: str
    method: str
    seconds: float
    moved: list[str]
    late: list[str]


class SlotOut(BaseModel):
    op: str
    order: str
    step: int
    product: str
    start: datetime
    end: datetime
    late: bool
    done: bool = False  # the step has made its quantity (the plan keeps it until the next re-plan)


class UnbookedOut(BaseModel):
    asset: str
    reason: Literal["no_order", "no_product", "not_planned", "waiting"]
    parts: int  # good and scrap parts counted since werk started


class WindowOut(BaseModel):
    start: datetime
    end: datetime


class PlanOut(BaseModel):
    origin: datetime
    machines: dict[str, list[SlotOut]]
    unavailable: dict[str, list[WindowOut]]
    last_replan: ReplanOut | None


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    objective: Literal["lateness", "makespan", "setups"] | None = None
    time_limit_s: float | None = Field(
        default=None, ge=0.1, le=15, strict=True
    )  # an HTTP request waits for it


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    op: str
    machine: str
    start: datetime


class PromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    product: str
    quantity: int = Field(ge=1, le=1_000_000, strict=True)


class PromiseOut(BaseModel):
    product: str
    quantity: int
    date: datetime
    bottleneck: str | None
    waits_min: dict[str, int]
    exact: bool
    seconds: float


class MachineTimeOut(BaseModel):
    planned_s: float
    actual_s: float | None
    parts_observed: int
    used_s: float


class StepOut(BaseModel):
    step: int
    operation: str
    setup_min: float
    machines: dict[str, MachineTimeOut]


class RoutingOut(BaseModel):
    product: str
    steps: list[StepOut]


class ImportOut(BaseModel):
    imported: list[str]


def order_out(app: OrdersApp, order_id: str) -> OrderOut:
    o = app.book.orders[order_id]
    routing = app.book.routings.get(o.product)
    steps = [s.step for s in routing.steps] if routing else []
    end = None
    if app.plan is not None:
        ends = [s.end for i, s in app.plan.slots.items() if i.rpartition("/")[0] == o.id]
        if ends:
            from werk.apps.orders.book import at

            end = at(app.origin, max(ends))
    return OrderOut(
        order=o.id,
        product=o.product,
        quantity=o.quantity,
        due=o.due,
        priority=o.priority,
        state=o.state,
        parts_done=o.parts_done(steps[-1]) if steps else 0,
        wip=o.wip([s.step for s in app.book.routings[o.product].steps])
        if o.product in app.book.routings
        else 0,
        scrap=o.scrap,
        started=o.started,
        finished=o.finished,
        planned_end=end,
        late=(end is not None and end > o.due) or (o.finished is not None and o.finished > o.due),
    )


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > MAX_FILE:
        raise HTTPException(413, f"the file is larger than {MAX_FILE // 1024 // 1024} MiB")
    return data


def build_router(app: OrdersApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/orders", tags=["orders"])
    machines = [ref.name for ref in web.config.assets()]

    def filename(request: Request, default: str) -> str:
        return request.query_params.get("filename") or default

    def order_seen(sight: Sight, order_id: str) -> bool:
        """An order's figures are over every machine of its routing: it is shown when the caller sees them all."""
        routing = app.book.routings.get(app.book.orders[order_id].product)
        return routing is not None and all(sight.asset(m) for s in routing.steps for m in s.run_s)

    @r.get("", response_model=list[OrderOut])
    async def orders(request: Request) -> list[OrderOut]:
        """Every order with its state from the shop floor and its planned end; for a caller whose viewer grants
        cover parts of the plant, the orders whose every routed machine they cover."""
        sight = web.sight(request)
        ids = sorted(app.book.orders, key=lambda i: (app.book.orders[i].due, i))
        return [order_out(app, i) for i in ids if sight is None or order_seen(sight, i)]

    @r.post("", response_model=ReplanOut)
    async def release(
        body: Annotated[list[OrderIn], Field(min_length=1, max_length=1000)],
        user: User = Depends(web.require("operator")),  # noqa: B008
    ) -> ReplanOut:
        """Release orders (JSON, 1 to 1,000 a request); the plan is re-made with the current one as its warm start
        (on a cluster's API replica: by the worker that runs the app)."""
        lines = [o.model_dump(mode="json") for o in body]
        return ReplanOut(**await app.act("release", {"lines": lines}, user.name))

    @r.post("/import", response_model=ReplanOut, openapi_extra=FILE_BODY, responses=REFUSED)
    async def import_orders(request: Request, user: User = Depends(web.require("operator"))) -> ReplanOut:  # noqa: B008
        """Release orders from an ERP's CSV or Excel file (columns order, product, quantity, due[, priority,
        release]); an error names row and column, and nothing of a file with one is taken."""
        data = await _body(request)
        if app.ctx.served:
            await app.refresh()  # the products with a routing as stored now (one imported a moment ago)
        try:
            lines = parse_orders(data, app.tz, filename(request, "orders.csv"), list(app.book.routings))
        except MasterDataError as exc:
            raise InputError(str(exc), ("body", exc.row or 0, exc.column or "")) from None
        except ValueError as exc:
            raise InputError(str(exc), ("body",)) from None
        return ReplanOut(**await app.act("release", {"lines": [line_args(x) for x in lines]}, user.name))

    @r.post("/routings/import", response_model=ImportOut, openapi_extra=FILE_BODY, responses=REFUSED)
    async def import_routings(request: Request, user: User = Depends(web.require("supervisor"))) -> ImportOut:  # noqa: B008
        """Routings from a CSV or Excel file (product, step, operation, machines, setup_min, run_s[, family])."""
        data = await _body(request)
        try:
            routings = parse_routings(data, filename(request, "routings.csv"), machines)
        except MasterDataError as exc:
            raise InputError(str(exc), ("body", exc.row or 0, exc.column or "")) from None
        args = {"routings": [routing_args(x) for x in routings]}
        return ImportOut(**await app.act("routings", args, user.name))

    @r.get("/routings", response_model=list[RoutingOut])
    async def routings() -> list[RoutingOut]:
        """Every routing with its run time per part on each machine as planned, as measured from the counters,
        and the one the plan uses."""
        out = []
        for product in sorted(app.book.routings):
            steps = []
            for s in app.book.routings[product].steps:
                times = {}
                for m, planned in s.run_s.items():
                    seen = app.book.actual.get((product, s.step, m))
                    times[m] = MachineTimeOut(
                        planned_s=planned,
                        actual_s=round(seen.mean_s, 3) if seen else None,
                        parts_observed=seen.parts if seen else 0,
                        used_s=round(app.book.run_s(product, s.step, m), 3),
                    )
                steps.append(
                    StepOut(step=s.step, operation=s.operation, setup_min=s.setup_min, machines=times)
                )
            out.append(RoutingOut(product=product, steps=steps))
        return out

    @r.get("/plan", response_model=PlanOut)
    async def plan(request: Request) -> PlanOut:
        """The plan per machine (what runs when), unavailable windows, and the last re-plan: what moved, which
        orders are late. A caller whose viewer grants cover parts of the plant gets the machines they cover and
        no re-plan (it is over the whole plant)."""
        g = app.gantt()
        last = app.last_replan
        sight = web.sight(request)
        if sight is not None:
            g = {**g, "machines": sight.keyed(g["machines"]), "windows": sight.keyed(g["windows"])}
            last = None
        return PlanOut(
            origin=g["origin"],
            machines={m: [SlotOut(**s) for s in rows] for m, rows in g["machines"].items()},
            unavailable={m: [WindowOut(start=a, end=b) for a, b in ws] for m, ws in g["windows"].items()},
            last_replan=ReplanOut(**last) if last else None,
        )

    @r.post("/plan", response_model=ReplanOut)
    async def make_plan(body: PlanIn, user: User = Depends(web.require("supervisor"))) -> ReplanOut:  # noqa: B008
        """Plan again from now, for the objective and time limit given (the settings' otherwise)."""
        return ReplanOut(**await app.act("plan", body.model_dump(mode="json"), user.name))

    @r.post("/pins", response_model=ReplanOut)
    async def pin(body: PinIn, user: User = Depends(web.require("supervisor"))) -> ReplanOut:  # noqa: B008
        """Pin an operation (``ORDER/STEP``) to a machine and a start, and plan around it."""
        return ReplanOut(**await app.act("pin", body.model_dump(mode="json"), user.name))

    @r.get("/unbooked", response_model=list[UnbookedOut])
    async def unbooked(request: Request) -> list[UnbookedOut]:
        """Parts the machines counted since werk started that went to no order, per asset and reason:
        ``no_order`` (no open order of the product the asset reports has a step there), ``no_product`` (the
        asset reports no product yet), ``not_planned`` (the asset has no product signal and the plan has no
        unfinished operation on it), ``waiting`` (it has, but their step before has not made the parts yet).
        Empty where the app only serves (the running instance counts them)."""
        sight = web.sight(request)
        return [
            UnbookedOut(**x) for x in app.unbooked_parts() if sight is None or sight.asset(str(x["asset"]))
        ]

    @r.get("/replans", response_model=list[ReplanOut])
    async def replans() -> list[ReplanOut]:
        """The last 20 re-plans, newest first: why, how long, what moved, which orders were late."""
        return [ReplanOut(**x) for x in app.store.replans()]

    @r.post("/promise", response_model=PromiseOut)
    # a solve costs the server up to seconds of CPU: an operator's question, not any reader's
    async def promise(body: PromiseIn, _: User = Depends(web.require("operator"))) -> PromiseOut:  # noqa: B008
        """Capable to promise: the earliest date a new order could be delivered without making another order
        late, and the machine it would wait for (nothing is released)."""
        import asyncio

        try:
            async with app.lock:
                out: dict[str, Any] = await asyncio.to_thread(app.promise, body.product, body.quantity)
        except ScheduleError as exc:
            raise InputError(str(exc), ("body", "product")) from None
        return PromiseOut(**out)

    return r
