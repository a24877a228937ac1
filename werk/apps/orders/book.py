"""Production orders and their state as the shop floor reports it; the scheduling problem they make. Pure.

State follows the machines' part counters, never typing: an increase of an asset's ``good_count`` (or
``scrap_count``) while its ``product`` signal names a product is booked to the order whose step on that asset the
plan has first among those not done there (the one running now while the machine keeps to the plan), or else to the
most urgent unfinished order of that product with a step there. An asset that reports no product makes what the
plan has on it: its parts go to the first unfinished operation the plan has there (:meth:`OrderBook.book_planned`).
An order is
``released`` until its first part, ``started`` after it, and ``finished`` when its last step has made ``quantity``
good parts. Steps take whole minutes from the plan's origin (:meth:`OrderBook.problem`); a step that has made some
parts is planned for the rest.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from werk.apps.orders.master import OrderLine, Routing
from werk.apps.orders.schedule import Job, Operation, Plan, Problem

OrderState = Literal["released", "started", "finished"]


@dataclass
class Order:
    id: str
    product: str
    quantity: int
    due: datetime
    priority: int = 1
    release: datetime | None = None
    state: OrderState = "released"
    good: dict[int, int] = field(default_factory=dict)  # step -> good parts made
    scrap: int = 0
    started: datetime | None = None
    finished: datetime | None = None

    def parts_done(self, last_step: int) -> int:
        """Good parts of the routing's last step: finished goods."""
        return self.good.get(last_step, 0)

    def wip(self, steps: Sequence[int]) -> int:
        """Parts between machines: made by a step and not yet by the next one (``steps`` in routing order)."""
        return sum(max(0, self.good.get(a, 0) - self.good.get(b, 0)) for a, b in itertools.pairwise(steps))

    def step_done(self, step: int) -> bool:
        return self.good.get(step, 0) >= self.quantity


def op_id(order: str, step: int) -> str:
    return f"{order}/{step}"


def split_op(op: str) -> tuple[str, int]:
    order, _, step = op.rpartition("/")
    return order, int(step)


@dataclass(frozen=True)
class Booking:
    """Parts booked to an order's step by a counter increase: what inventory and the page need to know."""

    order: str
    step: int
    asset: str
    product: str
    good: int
    scrap: int
    ts: datetime
    last_step: bool
    first_step: bool = False


@dataclass
class RunTime:
    """Seconds per good part a machine took for a step, from the gaps between its counter's increases."""

    parts: int = 0
    mean_s: float = 0.0

    def add(self, seconds_per_part: float, parts: int) -> None:
        self.mean_s = (self.mean_s * self.parts + seconds_per_part * parts) / (self.parts + parts)
        self.parts += parts


#: a gap between two parts longer than this many times the routing's run time is a stop, not a cycle
STOP_FACTOR = 3.0


class OrderBook:
    """Orders by id, their routings, the part bookings that move their state, and the run times they show.

    ``learn_after`` parts observed of a (product, step, machine), the plan uses their mean time per part instead
    of the routing's (actual times feeding back into the routing's); 0 keeps the routing's times."""

    def __init__(self, routings: Sequence[Routing] = (), learn_after: int = 0) -> None:
        self.routings: dict[str, Routing] = {r.product: r for r in routings}
        self.orders: dict[str, Order] = {}
        self.learn_after = learn_after
        self.actual: dict[tuple[str, int, str], RunTime] = {}
        self._last_part: dict[tuple[str, int, str], datetime] = {}

    def run_s(self, product: str, step: int, machine: str) -> float:
        """The seconds per part the plan uses: learned when enough parts were seen, else the routing's."""
        planned = next(s for s in self.routings[product].steps if s.step == step).run_s[machine]
        seen = self.actual.get((product, step, machine))
        if self.learn_after and seen is not None and seen.parts >= self.learn_after:
            return seen.mean_s
        return planned

    def _learn(self, product: str, step: int, asset: str, good: int, ts: datetime) -> None:
        key = (product, step, asset)
        before = self._last_part.get(key)
        self._last_part[key] = ts
        if before is None or good <= 0:
            return
        per_part = (ts - before).total_seconds() / good
        planned = next(s for s in self.routings[product].steps if s.step == step).run_s[asset]
        if 0 < per_part <= STOP_FACTOR * planned:
            self.actual.setdefault(key, RunTime()).add(per_part, good)

    def set_routings(self, routings: Sequence[Routing]) -> None:
        self.routings.update({r.product: r for r in routings})

    def release(self, lines: Sequence[OrderLine]) -> list[Order]:
        """Add orders (an order id already known is replaced only while it has made no part)."""
        out = []
        for line in lines:
            if line.product not in self.routings:
                raise ValueError(f"order {line.order!r}: product {line.product!r} has no routing")
            old = self.orders.get(line.order)
            if old is not None and old.state != "released":
                raise ValueError(f"order {line.order!r} is {old.state} and cannot be released again")
            order = Order(line.order, line.product, line.quantity, line.due, line.priority, line.release)
            self.orders[line.order] = order
            out.append(order)
        return out

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.state != "finished"]

    def book(
        self,
        asset: str,
        product: str,
        good: int,
        scrap: int,
        ts: datetime,
        plan: Plan | None = None,
    ) -> Booking | None:
        """Book a counter increase at ``asset`` for ``product`` to an open order of it with a step there not done:
        the one whose operation on ``asset`` comes first in ``plan`` (the one planned now while the machine keeps to
        the plan, as for :meth:`book_planned`), else the most urgent. None when no open order has such a step."""
        candidates: list[tuple[Order, int]] = []
        for o in self.open_orders():
            if o.product != product:
                continue
            for s in self.routings[o.product].steps:
                if asset in s.run_s and not o.step_done(s.step):
                    candidates.append((o, s.step))
                    break
        if not candidates:
            return None
        chosen = None
        if plan is not None:
            planned = [
                (slot.start, o.id, (o, step))
                for o, step in candidates
                if (slot := plan.slots.get(op_id(o.id, step))) is not None and slot.machine == asset
            ]
            if planned:
                chosen = min(planned, key=lambda p: p[:2])[2]
        if chosen is None:
            chosen = min(
                candidates, key=lambda c: (c[0].state != "started", -c[0].priority, c[0].due, c[0].id)
            )
        order, step = chosen
        return self._add(order, step, asset, good, scrap, ts)

    def book_planned(
        self, asset: str, good: int, scrap: int, ts: datetime, plan: Plan | None
    ) -> tuple[Booking | None, str]:
        """Book a counter increase at ``asset``, a machine that reports no product, to the operation it works on
        by the plan: the first of the plan's operations on it (in planned order) that can take a part: its order
        open, its step not done and, for a step after the first, the step before having made more good parts than
        this one. That is the one planned now while the machine keeps to its plan, the one after when it is ahead,
        the one before when it is behind. A step after the first takes no more good parts than the step before
        left it (a machine cannot finish what it was not given): the booking says how many it took.

        The booking, or None, and why the parts it did not take were not booked: ``waiting`` when the plan has
        operations there whose step before has not made the parts, else ``not_planned`` (no unfinished operation
        on the machine)."""
        if plan is None:
            return None, "not_planned"
        waiting = False
        for i, s in sorted(plan.slots.items(), key=lambda kv: (kv[1].start, kv[0])):
            if s.machine != asset:
                continue
            order_id, step = split_op(i)
            order = self.orders.get(order_id)
            if order is None or order.state == "finished" or order.step_done(step):
                continue
            routing = self.routings.get(order.product)
            k = next((k for k, x in enumerate(routing.steps) if x.step == step), None) if routing else None
            if routing is None or k is None or asset not in routing.steps[k].run_s:
                continue  # a routing imported since the plan was made
            room = good
            if k > 0:
                room = order.good.get(routing.steps[k - 1].step, 0) - order.good.get(step, 0)
                if room <= 0:
                    waiting = True
                    continue
            return self._add(order, step, asset, min(good, room), scrap, ts), "waiting"
        return None, "waiting" if waiting else "not_planned"

    def _add(self, order: Order, step: int, asset: str, good: int, scrap: int, ts: datetime) -> Booking:
        """Parts to ``order``'s ``step``: its state moves, the run time is learned."""
        product = order.product
        if good:
            self._learn(product, step, asset, good, ts)
        order.good[step] = order.good.get(step, 0) + good
        order.scrap += scrap
        if order.started is None:
            order.started = ts
            order.state = "started"
        steps = self.routings[order.product].steps
        last = step == steps[-1].step
        if last and order.step_done(step):
            order.state = "finished"
            order.finished = ts
        return Booking(order.id, step, asset, product, good, scrap, ts, last, step == steps[0].step)

    def problem(
        self,
        origin: datetime,
        unavailable: Mapping[str, Sequence[tuple[datetime, datetime]]] = {},
        pins: Mapping[str, tuple[str, datetime]] = {},
    ) -> Problem:
        """The open orders as a job shop in whole minutes from ``origin``: one job per order, one operation per
        step not yet done (for the parts still to make), windows and pins converted to minutes."""

        def minute(t: datetime) -> int:
            return int((t - origin).total_seconds() // 60)

        jobs = []
        for o in sorted(self.open_orders(), key=lambda o: (o.due, o.id)):
            steps = [s for s in self.routings[o.product].steps if not o.step_done(s.step)]
            if not steps:
                continue
            ops = tuple(
                Operation(
                    op_id(o.id, s.step),
                    {
                        m: max(
                            1,
                            math.ceil(
                                s.setup_min
                                + self.run_s(o.product, s.step, m) * (o.quantity - o.good.get(s.step, 0)) / 60
                            ),
                        )
                        for m in s.run_s
                    },
                    s.family,
                )
                for s in steps
            )
            release = max(0, minute(o.release)) if o.release else 0
            jobs.append(Job(o.id, ops, due=minute(o.due), release=release, priority=o.priority))
        windows = {
            m: [(max(0, minute(a)), minute(b)) for a, b in ws if b > origin] for m, ws in unavailable.items()
        }
        op_ids = {op.id for j in jobs for op in j.operations}
        pin_min = {i: (m, max(0, minute(t))) for i, (m, t) in pins.items() if i in op_ids}
        return Problem(tuple(jobs), {m: w for m, w in windows.items() if w}, {}, pin_min)


def at(origin: datetime, minute: int) -> datetime:
    return origin + timedelta(minutes=minute)
