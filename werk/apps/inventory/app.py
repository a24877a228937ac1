"""Wiring of inventory: the machines' good parts in, bookings through the BOM and replenishment signals out.

It reads each counting asset's ``good_count`` and ``product`` signals from one subscription (so a changeover and a
part keep their order), books the product into the stock location and its components out of it
(:meth:`Inventory.produced`); an asset that reports no product books nothing. With ``from_orders`` it books from the
orders app's ``order.parts`` events instead (:meth:`InventoryApp.on_order_parts`): an order's product in when its
last step makes good parts, its BOM out when its first step does, so a product that passes several machines is booked
once and a machine without a product signal books what the plan had on it. It stores every booking in the journal and publishes an ``inventory.replenish`` event per
reorder-point crossing. At start the journal is replayed into the levels (the journal is the stock). A person's
receipt or count (:meth:`InventoryApp.act`) is booked by the instance that runs the app; a served instance (a
cluster's API replica) sends it there as a command, keyed so that it is booked once however often it is applied.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from werk.apps.counter_marks import CounterMarks
from werk.apps.inventory.settings import InventorySettings
from werk.apps.inventory.stock import BomLine, Booking, Inventory, PartCounter, ReorderRule, Signal
from werk.apps.inventory.store import MARKS_TABLE, InventoryStore
from werk.apps.spec import App, AppContext, reread_every
from werk.bus.base import Overflow
from werk.core.model import Event, Quality, Sample
from werk.errors import CommandRefused, InputError
from werk.i18n import N_

SERVED_REFRESH_S = 5.0  # where the app only serves, how often the levels are read again from the journal
#: what a person's booking is called in the 503 when no worker runs the app (this app's catalog)
BOOKING = N_("a booking of stock")


def booking_out(b: Booking) -> dict[str, Any]:
    """A booking as the API answers it."""
    return dataclasses.asdict(b)


class InventoryApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.settings: InventorySettings = ctx.settings
        self.store = InventoryStore(ctx.db)
        s = self.settings
        bom = [BomLine(p, c, q) for p, parts in s.bom.items() for c, q in parts.items()]
        rules = [ReorderRule(m, s.location, r.point, r.quantity) for m, r in s.reorder.items()]
        self._bom, self._rules = bom, rules
        self.inv = Inventory(bom, rules)
        wanted = set(s.assets) if s.assets is not None else None
        self.refs = {
            r.path: r.name
            for r in ctx.config.assets()
            if (wanted is None and r.config.production) or (wanted is not None and r.name in wanted)
        }
        self.order_seen: dict[str, datetime] = {}  # from_orders: asset -> the time of the last event booked
        self.counter = PartCounter()
        # in a cluster, where the part counting stands, stored with the bookings (werk.apps.counter_marks)
        self.marks = CounterMarks(MARKS_TABLE) if ctx.from_log else None
        self.lock = asyncio.Lock()
        self.loaded = False

    def load(self) -> None:
        if self.marks is not None:
            self.marks.load(self.store.db)
        journal = self.store.journal()
        if self.settings.from_orders:
            for b in journal:
                if b.who == "counter" and b.kind in ("production", "backflush"):
                    self.order_seen[b.ref] = max(b.ts, self.order_seen.get(b.ref, b.ts))
        if journal:
            self.inv.book(journal)
            self.inv.journal = self.inv.journal[-1000:]
        elif self.settings.opening_stock:
            now = self.ctx.clock()
            bookings = [
                Booking(now, m, self.settings.location, q, "receipt", "werk", "opening stock")
                for m, q in self.settings.opening_stock.items()
            ]
            self.store.add(bookings, self.inv.book(bookings))
        self.loaded = True

    async def _loaded(self) -> None:
        """The journal replayed into the levels, once, before anything is booked (a command may come before
        :meth:`run` got to it)."""
        async with self.lock:
            if not self.loaded:
                await asyncio.to_thread(self.load)

    def feed(self, batch: list[Sample]) -> list[Booking]:
        out: list[Booking] = []
        for s in batch:
            parent, _, signal = s.path.rpartition("/")
            asset = self.refs.get(parent)
            if asset is None or s.quality is Quality.BAD or signal not in ("good_count", "product"):
                continue
            marks = self.marks if signal == "good_count" else None
            if marks is not None:
                if marks.counted(asset, signal, s.ts):
                    continue  # booked by the instance before this one (a batch delivered again)
                if asset not in self.counter.counts and (at := marks.baseline(asset, signal)) is not None:
                    self.counter.counts[asset] = at
            made = self.counter.feed(asset, signal, s.value)
            if marks is not None and asset in self.counter.counts:
                marks.move(asset, signal, s.ts, self.counter.counts[asset])
            if made is not None and made[0]:
                out += self.inv.produced(s.ts, made[0], made[1], self.settings.location, "counter", asset)
        return out

    def on_order_parts(self, events: list[Event]) -> list[Booking]:
        """``from_orders``: the bookings of ``order.parts`` events of the counting assets: the order's product in
        for good parts of its last step (``why`` the order), its BOM out for good parts of its first step. An event
        at or before the last one booked for its asset was booked already (a batch delivered again)."""
        out: list[Booking] = []
        assets = set(self.refs.values())
        for e in events:
            asset, good = str(e.data.get("asset", "")), int(e.data.get("good") or 0)
            if e.kind != "order.parts" or asset not in assets or good <= 0:
                continue
            last, first = bool(e.data.get("last_step")), bool(e.data.get("first_step"))
            seen = self.order_seen.get(asset)
            if not (last or first) or (seen is not None and e.ts <= seen):
                continue
            self.order_seen[asset] = e.ts
            made = self.inv.produced(
                e.ts,
                str(e.data["product"]),
                good,
                self.settings.location,
                "counter",
                asset,
                str(e.data["order"]),
            )
            out += [b for b in made if (b.kind == "production" and last) or (b.kind == "backflush" and first)]
        return out

    async def commit(self, bookings: list[Booking], marks: CounterMarks | None = None) -> list[Signal]:
        """Book, store and announce: the one way stock changes (``marks``: the counting that made them)."""
        async with self.lock:
            signals = await self._book(bookings, marks=marks)
        await self._announce(signals)
        return signals

    async def _book(
        self, bookings: list[Booking], key: str | None = None, marks: CounterMarks | None = None
    ) -> list[Signal]:
        """Book into the levels and store (``key``: the command's id, :meth:`InventoryStore.add`); under the
        lock."""
        signals = self.inv.book(bookings)
        if len(self.inv.journal) > 2000:
            del self.inv.journal[:1000]  # the store keeps all; memory keeps enough for days of supply
        await asyncio.to_thread(self.store.add, bookings, signals, key, marks)
        return signals

    async def act(self, action: str, args: Mapping[str, Any], who: str) -> dict[str, Any]:
        """A person's booking by ``who`` (:meth:`book_by_hand`): booked here where the app runs; where it only
        serves, sent as a command to the instance that runs it (in a cluster, the worker holding the plant lease),
        whose answer, or refusal, is this one's. The booking as the API answers it."""
        if not self.ctx.served:
            return await self.book_by_hand(action, args, who)
        if self.ctx.command is None:
            raise self.elsewhere(BOOKING, action=True)
        try:
            out = await self.ctx.command(None, {"action": action, "args": dict(args), "who": who}, BOOKING)
        except CommandRefused as exc:
            raise exc.again() from None
        await asyncio.to_thread(self._reload)  # the levels with the booking, at once
        return dict(out)

    async def command(self, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        """A booking a served instance sent (:meth:`act`): ``action``, ``args``, ``who``; booked once per ``key``."""
        return await self.book_by_hand(str(body["action"]), body["args"], str(body["who"]), key)

    async def book_by_hand(
        self, action: str, args: Mapping[str, Any], who: str, key: str | None = None
    ) -> dict[str, Any]:
        """A goods receipt (``action`` "receipt", ``args`` material, quantity, why, ref) or a stock count ("count":
        material, counted, why) in the stock location, by ``who``: the one code of both, where the app runs. The
        booking as the API answers it. ``key``, a command's id, is stored with the booking: a command booked
        already, by this instance or one before it over the same tables, answers that booking and books nothing."""
        await self._loaded()
        async with self.lock:
            if key is not None and (done := await asyncio.to_thread(self.store.booked, key)) is not None:
                return booking_out(done)
            now, location = self.ctx.clock(), self.settings.location
            material, why = str(args["material"]), str(args.get("why") or "")
            if action == "receipt":
                b = Booking(
                    now,
                    material,
                    location,
                    float(args["quantity"]),
                    "receipt",
                    who,
                    why or "goods receipt",
                    str(args.get("ref") or ""),
                )
            elif action == "count":
                b = self.inv.count(now, material, location, float(args["counted"]), who, why)
            else:
                raise InputError(f"no booking {action!r}: receipt or count", ("body",))
            signals = await self._book([b], key)
        await self._announce(signals)
        return booking_out(b)

    async def _announce(self, signals: list[Signal]) -> None:
        """An ``inventory.replenish`` event per signal."""
        if signals:
            enterprise = self.ctx.config.plant.enterprise
            await self.ctx.bus.publish_events(
                [
                    Event(
                        "inventory.replenish",
                        enterprise,
                        s.ts,
                        {
                            "material": s.material,
                            "location": s.location,
                            "level": s.level,
                            "point": s.point,
                            "quantity": s.quantity,
                        },
                    )
                    for s in signals
                ]
            )

    async def run(self) -> None:
        await self._loaded()
        if self.settings.from_orders:
            events = self.ctx.bus.subscribe_events({"order.parts"}, overflow=Overflow.BLOCK)
            try:
                while True:
                    bookings = self.on_order_parts(await events.get())
                    if bookings:
                        await self.commit(bookings)
            finally:
                events.close()
        sub = self.ctx.bus.subscribe("+/+/+/+/+/+/+", overflow=Overflow.BLOCK)
        try:
            async for batch in sub:
                bookings = self.feed(batch)
                if bookings:
                    await self.commit(bookings, self.marks)
        finally:
            sub.close()

    async def serve(self) -> None:
        """Served (a cluster's API replica): the levels as the journal has them, read again every
        ``SERVED_REFRESH_S``; nothing booked, stored or published here."""
        await reread_every(
            SERVED_REFRESH_S, lambda: asyncio.to_thread(self._reload), "inventory.reload_failed"
        )

    def _reload(self) -> None:
        inv = Inventory(self._bom, self._rules)
        inv.book(self.store.journal())
        inv.journal = inv.journal[-1000:]
        self.inv = inv  # whole, at once: a request served meanwhile reads the one before

    def stock(self) -> list[dict[str, Any]]:
        now = self.ctx.clock()
        materials = sorted({m for (m, _l) in self.inv.levels} | set(self.settings.reorder))
        out = []
        for m in materials:
            loc = self.settings.location
            rule = self.settings.reorder.get(m)
            out.append(
                {
                    "material": m,
                    "location": loc,
                    "unit": self.settings.units.get(m, "pcs"),
                    "level": round(self.inv.level(m, loc), 6),
                    "reorder_point": rule.point if rule else None,
                    "days_of_supply": self.inv.days_of_supply(m, loc, now, timedelta(days=7)),
                    "turns_per_year": self.inv.turns(m, loc, now),
                    "below_point": bool(rule and self.inv.level(m, loc) < rule.point),
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"materials": len({m for (m, _l) in self.inv.levels})}
