"""Part counting in a cluster (werk.apps.counter_marks): a batch of counter samples the killed holder of the plant
lease handled, and did not acknowledge, comes again to the next holder, which must book nothing of it a second
time, and must book the next increase over the last value its predecessor saw. The orders and the stock, each
through its real ``run()`` on the bus, two instances one after the other over one werk file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.apps.test_event_keys import M1, PLANT, at, context, werk_file  # noqa: F401 - werk_file: a fixture
from tests.apps.test_served import ORDERS, release
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.store import MIGRATIONS as STOCK_MIGRATIONS
from werk.apps.orders.app import OrdersApp
from werk.apps.orders.store import MIGRATIONS as ORDER_MIGRATIONS
from werk.apps.spec import App
from werk.config import parse_config
from werk.core.model import Sample
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

# the batch the first holder handles and dies before acknowledging: a baseline of 10, then 4 parts
FIRST = [
    Sample(f"{M1}/product", at(1), "gear"),
    Sample(f"{M1}/good_count", at(1), 10),
    Sample(f"{M1}/good_count", at(2), 14),
]
# what comes after it in the log: 3 more parts
AFTER = [Sample(f"{M1}/good_count", at(3), 17)]


async def handled(app: App, *batches: list[Sample]) -> None:
    """``batches`` through the app's own ``run()``, as an app host feeds it: each settled before the next."""
    task = asyncio.create_task(app.run())
    await asyncio.sleep(0.05)  # subscribed, tables loaded
    for batch in batches:
        await app.ctx.bus.publish(batch)
        await asyncio.wait_for(app.ctx.bus.settled(), 10)  # type: ignore[attr-defined]
    task.cancel()  # killed: no goodbye
    await asyncio.gather(task, return_exceptions=True)


async def test_stock_books_a_batch_delivered_again_once_and_goes_on_from_the_last_count(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT + "apps:\n  stock: {bom: {gear: {steel: 2}}, opening_stock: {steel: 100}}\n")
    SQLiteAppDatabase(werk_file).migrate("stock", STOCK_MIGRATIONS)
    first = InventoryApp(replace(context("stock", config, werk_file, tmp_path), from_log=True))
    await handled(first, FIRST)
    assert first.inv.level("gear", "main") == 4 and first.inv.level("steel", "main") == 92
    nxt = InventoryApp(replace(context("stock", config, werk_file, tmp_path), from_log=True))
    await handled(nxt, FIRST, AFTER)
    assert nxt.inv.level("gear", "main") == 7  # 4 + 3, not 4 + 4 + 3 nor 4 + 0
    assert nxt.inv.level("steel", "main") == 86
    made = [b.quantity for b in nxt.store.journal() if b.kind == "production"]
    assert made == [4.0, 3.0]


async def test_orders_book_a_batch_delivered_again_once_and_go_on_from_the_last_count(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT + ORDERS)
    SQLiteAppDatabase(werk_file).migrate("production_orders", ORDER_MIGRATIONS)
    first = OrdersApp(replace(context("production_orders", config, werk_file, tmp_path), from_log=True))
    await first.command(release(("o-1", "gear")), "c-1")
    await handled(first, FIRST)
    assert sum(first.store.orders()[0].good.values()) == 4
    nxt = OrdersApp(replace(context("production_orders", config, werk_file, tmp_path), from_log=True))
    await handled(nxt, FIRST, AFTER)
    assert sum(nxt.store.orders()[0].good.values()) == 7  # 4 + 3, not 4 + 4 + 3 nor 4 + 0


async def test_without_the_log_a_new_instance_takes_its_first_count_as_the_baseline(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """``werk serve`` (samples not from the log): no marks; a restart starts counting anew, as documented."""
    config = parse_config(PLANT + "apps:\n  stock: {opening_stock: {steel: 100}}\n")
    SQLiteAppDatabase(werk_file).migrate("stock", STOCK_MIGRATIONS)
    await handled(InventoryApp(context("stock", config, werk_file, tmp_path)), FIRST)
    again = InventoryApp(context("stock", config, werk_file, tmp_path))
    await handled(again, AFTER)
    assert again.inv.level("gear", "main") == 4  # 17 is the new instance's baseline
