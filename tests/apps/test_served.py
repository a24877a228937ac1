"""An app built served (``AppContext.served``, a cluster's API replica) beside an instance that runs it over the
same tables (a cluster's worker): what the served one shows comes from the tables the running one wrote, and what
a person does through it is kept or refused as docs/apps.md says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.apps.test_alarms_app import COOLANT, alarm_config
from tests.apps.test_event_keys import M1, PLANT, at, context, werk_file  # noqa: F401 - werk_file: a fixture
from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.store import MIGRATIONS as ALARM_MIGRATIONS
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.stock import Booking
from werk.apps.inventory.store import MIGRATIONS as STOCK_MIGRATIONS
from werk.apps.oee.app import OeeApp
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.orders.app import OrdersApp
from werk.apps.spec import AppContext
from werk.config import parse_config
from werk.core.model import Event, Sample, to_micros
from werk.errors import RunsElsewhere
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile


async def published(ctx: AppContext, app: OeeApp) -> list[Event]:
    """The events one round of the running instance's live figures publishes."""
    events = ctx.bus.subscribe_events()
    await app._publish_live()
    events.close()
    return [e async for batch in events for e in batch]


async def test_a_reason_given_where_oee_is_served_stays_when_the_running_instance_ends_the_stop(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT)
    SQLiteAppDatabase(werk_file).migrate("oee", OEE_MIGRATIONS)
    path = f"{M1}/machine_state"
    ctx = replace(context("oee", config, werk_file, tmp_path), from_log=True, clock=lambda: at(60))
    running = OeeApp(ctx)
    served = OeeApp(replace(context("oee", config, werk_file, tmp_path), served="workers"))
    running.store.upsert_stops(running.feed([Sample(path, at(0), "running"), Sample(path, at(10), "fault")]))
    fault, idle = f"m1@{to_micros(at(10))}", f"m1@{to_micros(at(30))}"
    code = next(c for c, r in served.reasons.items() if not r.planned)

    given = await served.classify(fault, code, "olga")  # the stop goes on in the running instance
    assert given.reason == code and given.end is None
    # the running instance ends it, writing its own copy (no reason), and has an idle stop nobody classifies
    running.store.upsert_stops(
        running.feed(
            [Sample(path, at(20), "running"), Sample(path, at(30), "idle"), Sample(path, at(40), "running")]
        )
    )
    kept = {s.id: s for s in running.store.query_stops(asset="m1")}
    assert (kept[fault].reason, kept[fault].reason_source, kept[fault].end) == (code, "operator", at(20))
    assert [h.who for h in kept[fault].history] == ["olga"]
    assert kept[idle].reason is None
    # an hour later: only the stop nobody classified is called unqualified
    notices = [e for e in await published(ctx, running) if e.data.get("what") == "unqualified"]
    assert [e.data["id"] for e in notices] == [idle]
    assert running.stops[fault].reason == code  # taken from the table


async def test_served_alarms_show_the_journal_and_refuse_actions(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = alarm_config(tmp_path)
    SQLiteAppDatabase(werk_file).migrate("alarms", ALARM_MIGRATIONS)
    path = config.asset("cnc-1").signal_path("coolant_level")
    running = AlarmsApp(context("alarms", config, werk_file, tmp_path))
    running.engine.start(at(0))
    served = AlarmsApp(replace(context("alarms", config, werk_file, tmp_path), served="workers"))

    served.from_journal()
    assert served.counts().get("unack", 0) == 0
    running.store.append(
        running.engine.feed([Sample(path, at(1), 50.0), Sample(path, at(2), 10.0)]), running.alarms
    )
    served.from_journal()
    (row,) = [r for r in served.rows() if r["id"] == COOLANT]
    assert (row["state"], row["active"], row["acknowledged"], row["since"]) == ("unack", True, False, at(2))
    assert row["active_since"] == at(2) and row["value"] == 10.0
    assert served.asset_view("cnc-1") == {"alarms": 1}
    with pytest.raises(RunsElsewhere, match="API replica"):
        await served.act("acknowledge", COOLANT, "olga")
    # the running instance's acknowledge and shelve reach the served one through the journal
    running.store.append(running.engine.acknowledge(COOLANT, at(3), "olga"), running.alarms)
    running.store.append(
        running.engine.shelve(COOLANT, at(4), "olga", "sensor wobbles", None), running.alarms
    )
    served.from_journal()
    (row,) = [r for r in served.rows(states=set()) if r["id"] == COOLANT]
    assert (row["state"], row["shelved_by"], row["shelved_why"]) == ("shelved", "olga", "sensor wobbles")


async def test_served_stock_follows_the_journal_and_refuses_bookings(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(
        PLANT
        + "apps:\n  stock: {opening_stock: {steel: 100}, reorder: {steel: {point: 50, quantity: 100}}}\n"
    )
    SQLiteAppDatabase(werk_file).migrate("stock", STOCK_MIGRATIONS)
    running = InventoryApp(context("stock", config, werk_file, tmp_path))
    served = InventoryApp(replace(context("stock", config, werk_file, tmp_path), served="workers"))
    running.load()  # the opening stock, booked once by the running instance
    served._reload()
    assert [(x["material"], x["level"], x["below_point"]) for x in served.stock()] == [
        ("steel", 100.0, False)
    ]
    signals = await running.commit([Booking(at(1), "steel", "main", -60.0, "issue", "counter")])
    assert [s.material for s in signals] == ["steel"]  # the running instance decides the signal
    served._reload()
    assert [(x["level"], x["below_point"]) for x in served.stock()] == [(40.0, True)]
    assert len(served.store.journal()) == 2  # the served instance booked nothing of its own
    with pytest.raises(RunsElsewhere) as refused:
        served.refuse_served()
    assert refused.value.args_["what"] == "a booking of stock"
    running.refuse_served()  # where it runs, bookings go through


def test_served_orders_refuse_what_would_replan(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT)
    served = OrdersApp(replace(context("production_orders", config, werk_file, tmp_path), served="workers"))
    with pytest.raises(RunsElsewhere) as refused:
        served.refuse_served("a new plan")
    assert "cluster's workers" in refused.value.msgid
    OrdersApp(context("production_orders", config, werk_file, tmp_path)).refuse_served("a new plan")
