"""Booking the parts of machines that report no product, through the apps' own ``run()`` on the bus: such a machine
makes what the plan has on it, takes no more parts for a later step than the step before made, and what no order
takes is counted per machine and reason; the machine card names the order its parts went to; with ``from_orders``
the stock books an order's product at its last step and its BOM at its first, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.apps.test_counter_marks import handled
from tests.apps.test_event_keys import at, context, werk_file  # noqa: F401 - werk_file: a fixture
from tests.apps.test_served import release
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.store import MIGRATIONS as STOCK_MIGRATIONS
from werk.apps.orders.app import OrdersApp
from werk.apps.orders.store import MIGRATIONS as ORDER_MIGRATIONS
from werk.config import parse_config
from werk.core.model import Event, Sample
from werk.errors import ConfigError
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

# two machines without a product signal (no source binds one): a mill, then a press
PLANT = """\
plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {mill: {kind: mill}, press: {kind: press}}}}}}}}}}
apps:
  production_orders:
    release_time_limit_s: 1
    routings:
      gear: [{operation: milling, machines: [mill], run_s: [30]}, {operation: pressing, machines: [press], run_s: [6]}]
"""
MILL, PRESS = "acme/s/a/l/c/mill", "acme/s/a/l/c/press"


def count(path: str, minute: float, value: int) -> Sample:
    return Sample(f"{path}/good_count", at(minute), value)


def orders_app(file: SQLiteFile, tmp_path: Path) -> OrdersApp:
    """The orders app of PLANT over the werk file, its tables made."""
    SQLiteAppDatabase(file).migrate("production_orders", ORDER_MIGRATIONS)
    return OrdersApp(context("production_orders", parse_config(PLANT), file, tmp_path))


async def test_a_machine_without_a_product_signal_makes_what_the_plan_has_on_it(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    app = orders_app(werk_file, tmp_path)
    assert app.planned_only == {"mill", "press"}
    await app.command(release(("o-1", "gear"), ("o-2", "gear")), "c-1")  # 10 parts each
    assert app.plan is not None
    on_mill = sorted((s.start, i) for i, s in app.plan.slots.items() if s.machine == "mill")
    first = on_mill[0][1].split("/")[0]  # the order the plan mills first
    second = "o-2" if first == "o-1" else "o-1"
    # before a part: the card says what the plan has on the mill, labelled as planned
    assert app.asset_view("mill") == {"planned_order": first}

    await handled(
        app,
        [count(MILL, 1, 100), count(PRESS, 1, 50)],  # baselines
        [count(PRESS, 2, 53)],  # the press makes 3 parts before the mill made any: no order can take them
        [count(MILL, 3, 106)],  # 6 milled: the order the plan mills first
        [count(PRESS, 4, 57)],  # 4 pressed of those 6
        [count(PRESS, 5, 61)],  # 4 more: 2 left by milling, 2 not booked
        [count(MILL, 6, 110), count(MILL, 7, 114)],  # the first order milled, then the next one's turn
    )
    o1, o2 = app.book.orders[first], app.book.orders[second]
    assert o1.good == {1: 10, 2: 6} and o1.state == "started"
    assert o2.good == {1: 4}
    assert app.asset_view("mill") == {"order": second}  # what its last parts went to, not the plan's slot
    assert app.asset_view("press") == {"order": first}
    assert app.unbooked_parts() == [{"asset": "press", "reason": "waiting", "parts": 5}]
    assert app.diagnostics() == {"parts_without_order": 5}
    stored = {o.id: o.good for o in app.store.orders()}
    assert stored[first] == {1: 10, 2: 6}

    # both orders done on both machines: the mill's further parts have no operation left on it
    await handled(
        app,
        [count(MILL, 10, 120)],
        [count(PRESS, 11, 65), count(PRESS, 12, 75)],
        [count(MILL, 13, 121)],
    )
    assert o1.state == "finished" and o2.good == {1: 10, 2: 10} and o2.state == "finished"
    assert {(u["asset"], u["reason"]): u["parts"] for u in app.unbooked_parts()} == {
        ("press", "waiting"): 5,
        ("mill", "not_planned"): 1,
    }
    assert app.asset_view("mill") == {}  # its parts go to no order, and nothing is left planned on it
    assert app.asset_view("press") == {"order": second}


async def test_a_reported_product_wins_over_the_plan(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """A machine that reports a product anyway books by it (an order of that product with a step there)."""
    app = orders_app(werk_file, tmp_path)
    await app.command(release(("o-1", "gear")), "c-1")
    await handled(
        app,
        [Sample(f"{MILL}/product", at(1), "sprocket"), count(MILL, 1, 0)],
        [count(MILL, 2, 2)],
        [Sample(f"{MILL}/product", at(3), "gear"), count(MILL, 3, 5)],
    )
    assert app.book.orders["o-1"].good == {1: 3}
    assert app.unbooked_parts() == [{"asset": "mill", "reason": "no_order", "parts": 2}]


STOCK = """\
  stock:
    from_orders: true
    bom: {gear: {blank: 1}}
    opening_stock: {blank: 100}
    units: {blank: kg}
"""


def parts(order: str, asset: str, minute: float, step: int, good: int, first: bool, last: bool) -> Event:
    data = {"order": order, "step": step, "asset": asset, "product": "gear", "good": good, "scrap": 0}
    return Event("order.parts", MILL, at(minute), {**data, "first_step": first, "last_step": last})


async def test_stock_from_orders_books_the_product_at_the_last_step_and_its_bom_at_the_first_once(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT + STOCK)
    SQLiteAppDatabase(werk_file).migrate("stock", STOCK_MIGRATIONS)
    milled, pressed = parts("o-1", "mill", 1, 1, 4, True, False), parts("o-1", "press", 2, 2, 3, False, True)
    app = InventoryApp(context("stock", config, werk_file, tmp_path))
    task = asyncio.create_task(app.run())
    try:
        await asyncio.sleep(0.05)
        await app.ctx.bus.publish([count(MILL, 0, 0), count(MILL, 1, 4)])  # counters: not booked
        await app.ctx.bus.publish_events(
            [milled, pressed, milled]
        )  # the first again: a batch delivered again
        await app.ctx.bus.settled()  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert app.inv.level("blank", "main") == 96  # the BOM of 4 milled
    assert app.inv.level("gear", "main") == 3  # 3 pressed: finished goods, once
    production = [b for b in app.store.journal() if b.kind == "production"]
    assert [(b.quantity, b.why, b.ref) for b in production] == [(3.0, "o-1", "press")]
    units = {s["material"]: s["unit"] for s in app.stock()}
    assert units == {"blank": "kg", "gear": "pcs"}

    # a restart over the same journal: the events booked already are not booked again
    again = InventoryApp(context("stock", config, werk_file, tmp_path))
    again.load()
    assert again.on_order_parts([milled, pressed]) == []
    assert len(again.on_order_parts([parts("o-1", "press", 3, 2, 1, False, True)])) == 1


def test_stock_from_orders_needs_the_orders_app() -> None:
    text = PLANT.replace("  production_orders:\n", "  production_orders:\n    enabled: false\n") + STOCK
    with pytest.raises(ConfigError, match="needs the production_orders app"):
        parse_config(text)
