"""Wiring of orders and the plan: counters in, order state and bookings out, the plan repaired on breakdowns.

It reads each production asset's ``machine_state``, ``good_count``, ``scrap_count`` and ``product`` signals. A counter
increase is booked to an order (:meth:`OrderBook.book`; an asset whose sources bind no ``product`` signal makes what
the plan has on it, :meth:`OrderBook.book_planned`) and published as an ``order.parts`` event (order, step, asset,
product, good, scrap, last step, first step), from which the stock app may book. Parts no order takes are counted
per asset and reason (:meth:`OrdersApp.unbooked_parts`). An asset that enters ``fault`` is
taken as down for ``breakdown_min`` minutes from then; when it runs again its window ends: either way the plan is
repaired from the current one (:func:`werk.apps.orders.schedule.repair`) and an ``order.plan`` event says what moved
and which orders are late. Releasing orders re-plans with the current plan as the warm start.

A person's write (:meth:`OrdersApp.act`: a release, an import of routings, a new plan, a pin) is applied by the
instance that runs the app; a served instance (a cluster's API replica) sends it there as a command. A command's
re-plan is stored with its id, so a command applied again (a retry that reached the next holder of the plant lease)
answers that re-plan and plans nothing.

Plans count whole minutes from their origin, the time of the last full plan.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from werk.apps.counter_marks import CounterMarks
from werk.apps.orders.book import Booking, Order, OrderBook, at, op_id, split_op
from werk.apps.orders.calendar import closed
from werk.apps.orders.master import OrderLine, Routing, Step, steps_from_json, steps_to_json
from werk.apps.orders.schedule import Job, Operation, Plan, Problem, ScheduleError, promise, repair, solve
from werk.apps.orders.settings import OrdersSettings
from werk.apps.orders.store import MARKS_TABLE, OrdersStore
from werk.apps.spec import App, AppContext, reread_every
from werk.bus.base import Overflow
from werk.core.model import Event, Quality, Sample
from werk.core.spans import union
from werk.core.states import STATE_SIGNAL
from werk.errors import CommandRefused, InputError
from werk.i18n import N_

SERVED_REFRESH_S = (
    5.0  # where the app only serves, how often orders and the plan are read again from the store
)
SIGNALS = (STATE_SIGNAL, "good_count", "scrap_count", "product")
DOWN_STATES = frozenset({"fault"})
#: why counted parts went to no order (:meth:`OrdersApp.unbooked_parts`): no open order of the product the asset
#: reports has a step on it; the asset reports no product (yet); the asset has no product signal and the plan has no
#: unfinished operation on it; or the plan's operations there wait for the parts of the step before
UNBOOKED = ("no_order", "no_product", "not_planned", "waiting")
#: a person's writes (:meth:`OrdersApp.act`), each with what it is called in the 503 when no worker runs the app
ACTIONS = {
    "release": N_("a release of orders, which re-plans"),
    "routings": N_("an import of routings"),
    "plan": N_("a new plan"),
    "pin": N_("a pin, which re-plans"),
}


def line_args(line: OrderLine) -> dict[str, Any]:
    """An order line as :meth:`OrdersApp.act` takes it (JSON): the fields of the API's order."""
    return {
        "order": line.order,
        "product": line.product,
        "quantity": line.quantity,
        "due": line.due.isoformat(),
        "priority": line.priority,
        "release": None if line.release is None else line.release.isoformat(),
    }


def routing_args(routing: Routing) -> dict[str, Any]:
    """A routing as :meth:`OrdersApp.act` takes it (JSON)."""
    return {"product": routing.product, "steps": steps_to_json(routing.steps)}


def routings_of(settings: OrdersSettings) -> list[Routing]:
    out = []
    for product, steps in settings.routings.items():
        out.append(
            Routing(
                product,
                tuple(
                    Step(
                        k + 1,
                        s.operation,
                        {
                            m: s.run_s[0] if len(s.run_s) == 1 else s.run_s[i]
                            for i, m in enumerate(s.machines)
                        },
                        s.setup_min,
                        s.family,
                    )
                    for k, s in enumerate(steps)
                ),
            )
        )
    return out


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


class OrdersApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.settings: OrdersSettings = ctx.settings
        self.store = OrdersStore(ctx.db)
        self.tz = ZoneInfo(ctx.config.plant.timezone)
        self.book = OrderBook(routings_of(self.settings), self.settings.learn_after_parts)
        self.refs = {r.path: r.name for r in ctx.config.assets() if r.config.production}
        # assets whose sources bind no product signal: until one reports a product anyway, it makes what the plan
        # has on it (OrderBook.book_planned)
        self.planned_only = {
            r.name
            for r in ctx.config.assets()
            if r.config.production and "product" not in r.config.bound_signals()
        }
        self.origin = _minute(ctx.clock())
        self.plan: Plan | None = None
        self.windows: dict[str, list[tuple[datetime, datetime]]] = {}
        self.down: dict[str, datetime] = {}
        self.inspections: dict[str, tuple[datetime, datetime]] = {}  # asset -> window kept for a work order
        self.states: dict[str, str] = {}
        self.products: dict[str, str] = {}
        self.counters: dict[tuple[str, str], int] = {}
        # in a cluster, where the part counting stands, stored with the bookings (werk.apps.counter_marks)
        self.marks = CounterMarks(MARKS_TABLE) if ctx.from_log else None
        self.last_replan: dict[str, Any] | None = None
        self.unbooked: dict[tuple[str, str], int] = {}  # (asset, reason in UNBOOKED) -> parts since the start
        self.last_booked: dict[str, str] = {}  # asset -> the order its last parts were booked to
        self.lock = asyncio.Lock()
        self.loaded = False

    # -- state ---------------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Routings, orders and the plan from the werk file (the plant file's routings win over imported ones of
        the same product only where no import exists)."""
        book = OrderBook(routings_of(self.settings), self.settings.learn_after_parts)
        book.set_routings(self.store.routings())
        for o in self.store.orders():
            book.orders[o.id] = o
        saved = self.store.plan()
        if self.marks is not None:
            self.marks.load(self.store.db)
        self.book = book  # whole, at once: a request served meanwhile reads the one before
        if saved is not None:
            self.origin, self.plan = saved
        self.loaded = True

    async def _loaded(self) -> None:
        """Routings, orders and the plan from the tables, once, before anything changes them (a command may come
        before :meth:`run` got to it)."""
        async with self.lock:
            if not self.loaded:
                await asyncio.to_thread(self.load)

    def example_lines(self, n: int) -> list[OrderLine]:
        now = self.ctx.clock()
        products = sorted(self.book.routings)
        lines = []
        for k in range(n):
            product = products[k % len(products)]
            lines.append(
                OrderLine(
                    f"EX-{k + 1:04d}",
                    product,
                    20 + 10 * (k % 4),
                    now + timedelta(hours=4 + 2 * k),
                    1 + (k % 5 == 0),
                )
            )
        return lines

    # -- plans ---------------------------------------------------------------------------------------------------

    def unavailable(self, origin: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Per machine: the plant's closed time, breakdowns and inspection windows, merged."""
        shut = closed(self.ctx.config.plant, origin, origin + timedelta(days=self.settings.horizon_days))
        machines = {m for r in self.book.routings.values() for s in r.steps for m in s.run_s}
        out = {}
        for m in machines | set(self.windows) | set(self.inspections):
            spans = [*shut, *self.windows.get(m, [])]
            if m in self.inspections:
                spans.append(self.inspections[m])
            merged = union(spans)
            if merged:
                out[m] = merged
        return out

    def problem(self, origin: datetime) -> Problem:
        return self.book.problem(origin, self.unavailable(origin), self.store.pins())

    def on_maintenance(self, event: Event) -> str | None:
        """A maintenance warning keeps an inspection window free on its asset; its clearing frees it. The
        reason to repair the plan, or None."""
        asset = str(event.data.get("asset", ""))
        if (
            not self.settings.inspection_min
            or asset not in self.refs.values()
            or "work_order" not in event.data
        ):
            return None
        if event.data.get("change") == "cleared":
            return f"inspection-cancelled:{asset}" if self.inspections.pop(asset, None) else None
        if asset in self.inspections:
            return None
        start = event.ts + timedelta(minutes=self.settings.inspection_after_min)
        self.inspections[asset] = (start, start + timedelta(minutes=self.settings.inspection_min))
        return f"inspection:{asset}"

    def replan(
        self,
        reason: str,
        *,
        time_limit_s: float | None = None,
        objective: str | None = None,
        key: str | None = None,
        orders: Sequence[Order] = (),
        who: str = "",
    ) -> dict[str, Any]:
        """A full plan from now, warm-started from the current one, stored with ``orders`` (released by ``who``)
        and ``key`` (the command that asked for it) in one transaction. Synchronous (CP-SAT runs in C++)."""
        now = self.ctx.clock()
        origin = _minute(now)
        problem = self.problem(origin)
        hint = self._shifted(origin)
        t0 = time.perf_counter()
        plan = (
            solve(
                problem,
                objective or self.settings.objective,  # type: ignore[arg-type]
                time_limit_s=time_limit_s or self.settings.time_limit_s,
                hint=hint,
            )
            if problem.jobs
            else Plan({}, "OPTIMAL")
        )
        took = time.perf_counter() - t0
        moved = self._moved(hint, plan) if hint is not None else []
        self.origin, self.plan = origin, plan
        late = plan.late_jobs(problem)
        return self._record(now, reason, "full", took, moved, late, key=key, orders=orders, who=who)

    def _shifted(self, origin: datetime) -> Plan | None:
        """The current plan in minutes from a new origin (for a warm start)."""
        if self.plan is None:
            return None
        d = int((origin - self.origin).total_seconds() // 60)
        return Plan({i: type(s)(s.machine, s.start - d, s.end - d) for i, s in self.plan.slots.items()})

    @staticmethod
    def _moved(before: Plan, after: Plan) -> list[str]:
        return sorted(
            i
            for i, s in after.slots.items()
            if i in before.slots and (before.slots[i].machine, before.slots[i].start) != (s.machine, s.start)
        )

    def repair_now(self, reason: str) -> dict[str, Any]:
        """Repair the plan after a machine went down or came back; a full plan when there is none yet."""
        now = self.ctx.clock()
        problem = self.problem(self.origin)
        ops = {op.id for j in problem.jobs for op in j.operations}
        if self.plan is None or not ops <= set(self.plan.slots):
            return self.replan(reason)
        current = Plan({i: s for i, s in self.plan.slots.items() if i in ops})
        now_min = max(0, int((now - self.origin).total_seconds() // 60))
        t0 = time.perf_counter()
        rep = repair(problem, current, now_min, time_limit_s=self.settings.replan_time_limit_s)
        took = time.perf_counter() - t0
        self.plan = rep.plan
        return self._record(now, reason, rep.method, took, list(rep.moved), list(rep.late))

    def _record(
        self,
        now: datetime,
        reason: str,
        method: str,
        took: float,
        moved: list[str],
        late: list[str],
        *,
        key: str | None = None,
        orders: Sequence[Order] = (),
        who: str = "",
    ) -> dict[str, Any]:
        """Store the current plan and the re-plan that made it (OrdersStore.save_replan); the re-plan."""
        assert self.plan is not None
        record = {
            "ts": now,
            "reason": reason,
            "method": method,
            "seconds": round(took, 3),
            "moved": moved,
            "late": late,
        }
        self.store.save_replan(self.origin, self.plan, record, key=key, orders=orders, who=who)
        self.last_replan = record
        return record

    def promise(self, product: str, quantity: int) -> dict[str, Any]:
        """Capable to promise: the earliest end of a new order of ``quantity`` ``product`` that makes no other
        order late (or later than the plan has it already)."""
        if product not in self.book.routings:
            raise ScheduleError(f"product {product!r} has no routing")
        now = self.ctx.clock()
        problem = self.problem(self.origin)
        ops = {op.id for j in problem.jobs for op in j.operations}
        plan = (
            self.plan
            if self.plan is not None and ops <= set(self.plan.slots)
            else solve(problem, time_limit_s=1)
        )
        plan = Plan({i: s for i, s in plan.slots.items() if i in ops})
        steps = self.book.routings[product].steps
        job = Job(
            "?promise",
            tuple(
                Operation(op_id("?promise", s.step), {m: s.minutes(m, quantity) for m in s.run_s}, s.family)
                for s in steps
            ),
        )
        now_min = max(0, int((now - self.origin).total_seconds() // 60))
        t0 = time.perf_counter()
        answer = promise(problem, plan, job, now_min)
        return {
            "product": product,
            "quantity": quantity,
            "date": at(self.origin, answer.end),
            "bottleneck": answer.bottleneck,
            "waits_min": dict(answer.waits),
            "exact": answer.exact,
            "seconds": round(time.perf_counter() - t0, 3),
        }

    # -- the shop floor ------------------------------------------------------------------------------------------

    def feed(self, batch: list[Sample]) -> tuple[list[Booking], list[str]]:
        """Samples in; the bookings they made and the reasons to repair the plan (a machine down or back)."""
        bookings: list[Booking] = []
        reasons: list[str] = []
        for s in batch:
            parent, _, signal = s.path.rpartition("/")
            asset = self.refs.get(parent)
            if asset is None or s.quality is Quality.BAD:
                continue
            if signal == "product":
                self.products[asset] = str(s.value)
            elif signal == STATE_SIGNAL:
                state = str(s.value)
                before = self.states.get(asset)
                self.states[asset] = state
                if state in DOWN_STATES and before not in DOWN_STATES:
                    self.down[asset] = s.ts
                    end = s.ts + timedelta(minutes=self.settings.breakdown_min)
                    self.windows[asset] = [w for w in self.windows.get(asset, []) if w[1] > s.ts] + [
                        (s.ts, end)
                    ]
                    reasons.append(f"down:{asset}")
                elif state == "running" and asset in self.down:
                    began = self.down.pop(asset)
                    self.windows[asset] = [w for w in self.windows.get(asset, []) if w[0] != began]
                    reasons.append(f"back:{asset}")
            elif signal in ("good_count", "scrap_count"):
                try:
                    value = int(float(s.value))
                except (TypeError, ValueError):
                    continue
                key = (asset, signal)
                before_count = self.counters.get(key)
                if self.marks is not None:
                    if self.marks.counted(asset, signal, s.ts):
                        continue  # booked by the instance before this one (a batch delivered again)
                    if before_count is None:
                        before_count = self.marks.baseline(asset, signal)
                    self.marks.move(asset, signal, s.ts, value)
                self.counters[key] = value
                if before_count is None or value <= before_count:
                    continue  # the first value werk sees, or a counter reset: a new baseline
                delta = value - before_count
                good, scrap = (delta, 0) if signal == "good_count" else (0, delta)
                if asset in self.planned_only and asset not in self.products:
                    booking, why = self.book.book_planned(asset, good, scrap, s.ts, self.plan)
                    if booking is not None and booking.good < good:  # more than the step before left it
                        n = good - booking.good
                        self.unbooked[(asset, why)] = self.unbooked.get((asset, why), 0) + n
                else:
                    product = self.products.get(asset, "")
                    booking = self.book.book(asset, product, good, scrap, s.ts, self.plan)
                    why = "no_order" if product else "no_product"
                if booking is None:
                    self.unbooked[(asset, why)] = self.unbooked.get((asset, why), 0) + delta
                    self.last_booked.pop(asset, None)  # it makes parts for no order now
                else:
                    self.last_booked[asset] = booking.order
                    bookings.append(booking)
        return bookings, reasons

    def event(self, b: Booking, path: str) -> Event:
        return Event(
            "order.parts",
            path,
            b.ts,
            {
                "order": b.order,
                "step": b.step,
                "asset": b.asset,
                "product": b.product,
                "good": b.good,
                "scrap": b.scrap,
                "last_step": b.last_step,
                "first_step": b.first_step,
            },
        )

    async def run(self) -> None:
        await self._loaded()
        if not self.book.orders and self.settings.example_orders and self.book.routings:
            await self.release(self.example_lines(self.settings.example_orders), "example")
        elif self.book.open_orders() and self.plan is None:
            async with self.lock:
                await asyncio.to_thread(self.replan, "start:")
        subs = [self.ctx.bus.subscribe(f"+/+/+/+/+/+/{sig}", overflow=Overflow.BLOCK) for sig in SIGNALS]
        events = self.ctx.bus.subscribe_events({"maintenance"}, overflow=Overflow.BLOCK)
        try:
            async with asyncio.TaskGroup() as tg:
                for sub in subs:
                    tg.create_task(self._consume(sub))
                tg.create_task(self._maintenance(events))
        finally:
            for sub in subs:
                sub.close()
            events.close()

    async def serve(self) -> None:
        """Served (a cluster's API replica): orders, routings, the plan and the last re-plan as the running
        instance stored them, read again every ``SERVED_REFRESH_S``; nothing booked, planned or published here."""
        await reread_every(SERVED_REFRESH_S, self.refresh, "orders.reload_failed")

    async def refresh(self) -> None:
        """Served: read the tables again now (:meth:`_reload`)."""
        async with self.lock:
            await asyncio.to_thread(self._reload)

    def _reload(self) -> None:
        """The stored orders, routings and plan in place of these (the measured run times stay the running
        instance's: they are not stored)."""
        self.load()
        last = self.store.replans(1)
        self.last_replan = last[0] if last else None

    async def _maintenance(self, sub: Any) -> None:
        while True:
            batch = await sub.get()
            reasons = [r for e in batch if (r := self.on_maintenance(e)) is not None]
            if reasons:
                async with self.lock:
                    result = await asyncio.to_thread(self.repair_now, ", ".join(reasons))
                await self._announce(result)

    async def _consume(self, sub: Any) -> None:
        paths = {v: k for k, v in self.refs.items()}
        async for batch in sub:
            bookings, reasons = self.feed(batch)
            if bookings:
                touched = [self.book.orders[b.order] for b in bookings]
                await asyncio.to_thread(
                    self.store.save_orders, touched, "counter", self.ctx.clock(), self.marks
                )
                await self.ctx.bus.publish_events([self.event(b, paths[b.asset]) for b in bookings])
            if reasons:
                async with self.lock:
                    result = await asyncio.to_thread(self.repair_now, ", ".join(reasons))
                await self._announce(result)

    async def _announce(self, result: dict[str, Any]) -> None:
        enterprise = self.ctx.config.plant.enterprise
        data = {**result, "ts": result["ts"].isoformat(), "moved": result["moved"][:200]}
        await self.ctx.bus.publish_events([Event("order.plan", enterprise, result["ts"], data)])

    # -- a person's writes ---------------------------------------------------------------------------------------

    async def act(self, action: str, args: Mapping[str, Any], who: str) -> dict[str, Any]:
        """A person's write by ``who`` (:meth:`apply`: ``action`` one of :data:`ACTIONS`, ``args`` JSON): applied
        here where the app runs; where it only serves, sent as a command to the instance that runs it (in a
        cluster, the worker holding the plant lease), whose answer, or refusal, is this one's. The API's answer."""
        if not self.ctx.served:
            return await self.apply(action, args, who)
        what = ACTIONS.get(action, action)
        if self.ctx.command is None:
            raise self.elsewhere(what, action=True)
        body = {"action": action, "args": dict(args), "who": who}
        try:
            out = await self.ctx.command(None, body, what, takes_s=self._takes_s(action, args))
        except CommandRefused as exc:
            raise exc.again() from None
        await self.refresh()  # the book and the plan with it, at once
        return dict(out)

    def _takes_s(self, action: str, args: Mapping[str, Any]) -> float:
        """How long applying ``action`` may take where the app runs: the solver's time limit."""
        s = self.settings
        if action == "release":
            return s.release_time_limit_s
        if action == "plan":
            return float(args.get("time_limit_s") or s.time_limit_s)
        return s.time_limit_s if action == "pin" else 0.0

    async def command(self, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        """A write a served instance sent (:meth:`act`): ``action``, ``args``, ``who``; planned once per ``key``."""
        return await self.apply(str(body["action"]), body["args"], str(body["who"]), key)

    async def apply(
        self, action: str, args: Mapping[str, Any], who: str, key: str | None = None
    ) -> dict[str, Any]:
        """The one code of each person's write, where the app runs, and its answer (the API's body):

        - ``release``: ``lines`` (:func:`line_args`): :meth:`release`, the re-plan;
        - ``routings``: ``routings`` (:func:`routing_args`): :meth:`import_routings`, ``imported`` (products);
        - ``plan``: ``objective``, ``time_limit_s`` (None: the settings'): :meth:`make_plan`, the re-plan;
        - ``pin``: ``op`` (ORDER/STEP), ``machine``, ``start`` (ISO 8601): :meth:`pin`, the re-plan.

        Refuses with InputError (422, ``loc`` into the request's body). ``key``, a command's id, is stored with
        the re-plan: a command applied already, by this instance or one before it over the same tables, answers
        that re-plan and changes nothing (an import of routings stores the same rows again)."""
        await self._loaded()
        try:
            if action == "release":
                lines = []
                for k, x in enumerate(args["lines"]):
                    if x["product"] not in self.book.routings:
                        raise InputError(f"product {x['product']!r} has no routing", ("body", k, "product"))
                    lines.append(
                        OrderLine(
                            str(x["order"]),
                            str(x["product"]),
                            int(x["quantity"]),
                            datetime.fromisoformat(x["due"]),
                            int(x["priority"]),
                            None if x.get("release") is None else datetime.fromisoformat(x["release"]),
                        )
                    )
                return await self.release(lines, who, key)
            if action == "routings":
                routings = [Routing(str(r["product"]), steps_from_json(r["steps"])) for r in args["routings"]]
                await self.import_routings(routings, who)
                return {"imported": [r.product for r in routings]}
            if action == "plan":
                try:
                    return await self.make_plan(args.get("objective"), args.get("time_limit_s"), key)
                except ScheduleError as exc:
                    raise InputError(f"no plan: {exc}", ("body",)) from None
            if action == "pin":
                start = datetime.fromisoformat(str(args["start"]))
                return await self.pin(str(args["op"]), str(args["machine"]), start, who, key)
        except InputError:
            raise
        except ValueError as exc:  # an order that cannot be released (again), a plan that cannot hold it
            raise InputError(str(exc), ("body",)) from None
        raise InputError(f"no action {action!r}: one of {', '.join(ACTIONS)}", ("body",))

    async def _done(self, key: str | None) -> dict[str, Any] | None:
        """The re-plan the command ``key`` made already, if any (under the lock)."""
        return None if key is None else await asyncio.to_thread(self.store.replan_of, key)

    async def release(self, lines: list[OrderLine], who: str, key: str | None = None) -> dict[str, Any]:
        """Release orders and re-plan (warm start), stored together (with ``key``, :meth:`apply`); raises
        ``ValueError`` for an unknown product or an order that has made parts already, and ScheduleError for
        orders the plan cannot hold: nothing released then."""
        async with self.lock:
            if (done := await self._done(key)) is not None:
                return done
            before = dict(self.book.orders)
            try:
                orders = self.book.release(lines)
                result = await asyncio.to_thread(
                    self.replan,
                    f"released:{len(orders)}",
                    time_limit_s=self.settings.release_time_limit_s,
                    key=key,
                    orders=orders,
                    who=who,
                )
            except ValueError:
                self.book.orders = before  # orders the book or the plan refused are not released
                raise
        await self._announce(result)
        return result

    async def import_routings(self, routings: list[Routing], who: str) -> None:
        async with self.lock:
            self.book.set_routings(routings)
            await asyncio.to_thread(self.store.save_routings, routings, who, self.ctx.clock())

    async def make_plan(
        self, objective: str | None, time_limit_s: float | None, key: str | None = None
    ) -> dict[str, Any]:
        """Plan again from now for ``objective`` within ``time_limit_s`` (None: the settings'); the re-plan.
        Raises ScheduleError when there is no plan."""
        async with self.lock:
            if (done := await self._done(key)) is not None:
                return done
            return await asyncio.to_thread(
                self.replan, "requested:", time_limit_s=time_limit_s, objective=objective, key=key
            )

    async def pin(
        self, op: str, machine: str, start: datetime, who: str, key: str | None = None
    ) -> dict[str, Any]:
        """Pin the operation ``op`` (ORDER/STEP) to ``machine`` at ``start`` and plan around it; the re-plan.
        Raises InputError for an operation or machine that is not one, or a pin that leaves no plan (dropped)."""
        async with self.lock:
            if (done := await self._done(key)) is not None:
                return done
            order, _, step = op.rpartition("/")
            o = self.book.orders.get(order)
            if o is None or not step.isdigit():
                raise InputError(f"no operation {op!r}; operations are ORDER/STEP", ("body", "op"))
            s = next((s for s in self.book.routings[o.product].steps if s.step == int(step)), None)
            if s is None:
                raise InputError(f"{o.product!r} has no step {step}", ("body", "op"))
            if machine not in s.run_s:
                raise InputError(
                    f"step {step} of {o.product!r} cannot run on {machine!r}", ("body", "machine")
                )
            await asyncio.to_thread(self.store.set_pin, op, machine, start, who)
            try:
                return await asyncio.to_thread(self.replan, f"pinned:{op}", key=key)
            except ScheduleError as exc:
                await asyncio.to_thread(self.store.delete_pin, op)
                raise InputError(f"the pin leaves no plan: {exc}", ("body",)) from None

    # -- views ---------------------------------------------------------------------------------------------------

    def gantt(self) -> dict[str, Any]:
        """The plan per machine with wall-clock times, for the page and the API."""
        rows: dict[str, list[dict[str, Any]]] = {}
        if self.plan is not None:
            for i, s in sorted(self.plan.slots.items(), key=lambda kv: kv[1].start):
                order, step = split_op(i)
                o = self.book.orders.get(order)
                rows.setdefault(s.machine, []).append(
                    {
                        "op": i,
                        "order": order,
                        "step": step,
                        "product": o.product if o else "",
                        "start": at(self.origin, s.start),
                        "end": at(self.origin, s.end),
                        "late": bool(o and at(self.origin, s.end) > o.due),
                        "done": bool(o is None or o.step_done(step)),
                    }
                )
        return {"origin": self.origin, "machines": rows, "windows": self.unavailable(self.origin)}

    def snapshot(self) -> dict[str, Any]:
        return {
            "orders": len(self.book.orders),
            "open": len(self.book.open_orders()),
            "late": [] if self.last_replan is None else self.last_replan["late"],
            "down": sorted(self.down),
        }

    def diagnostics(self) -> dict[str, Any]:
        return {"parts_without_order": sum(self.unbooked.values())} if self.unbooked else {}

    def unbooked_parts(self) -> list[dict[str, Any]]:
        """Parts (good and scrap) counted since this instance started that no order took, per asset and reason (one of
        :data:`UNBOOKED`), most first."""
        rows = [{"asset": a, "reason": r, "parts": n} for (a, r), n in self.unbooked.items()]
        return sorted(rows, key=lambda x: (-x["parts"], x["asset"], x["reason"]))

    def asset_view(self, asset: str) -> dict[str, Any]:
        """``order``: the order the asset's last parts were booked to (what it is making; none once its parts go to
        no order); else ``planned_order``, the one whose unfinished operation the plan has on it now (labelled as
        planned: the asset has not made a part of it)."""
        if asset in self.last_booked:
            return {"order": self.last_booked[asset]}
        if self.plan is None:
            return {}
        now_min = (self.ctx.clock() - self.origin).total_seconds() / 60
        for i, s in self.plan.slots.items():
            if s.machine == asset and s.start <= now_min < s.end:
                order, step = split_op(i)
                o = self.book.orders.get(order)
                if o is not None and o.state != "finished" and not o.step_done(step):
                    return {"planned_order": order}
        return {}
