"""An app built served (``AppContext.served``, a cluster's API replica) beside an instance that runs it over the
same tables (a cluster's worker): what the served one shows comes from the tables the running one wrote, and what
a person does through it is kept, or sent to the running instance, as docs/apps.md says."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import to_jsonable_python

from tests.apps.test_alarms_app import COOLANT, alarm_config
from tests.apps.test_event_keys import M1, PLANT, at, context, werk_file  # noqa: F401 - werk_file: a fixture
from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.engine import UnknownAlarm
from werk.apps.alarms.states import TransitionError
from werk.apps.alarms.store import MIGRATIONS as ALARM_MIGRATIONS
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.stock import Booking
from werk.apps.inventory.store import MIGRATIONS as STOCK_MIGRATIONS
from werk.apps.oee.app import OeeApp
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.orders.app import OrdersApp
from werk.apps.spec import App, AppContext, SendCommand
from werk.config import parse_config
from werk.core.model import Event, Sample, to_micros
from werk.errors import CommandRefused, RunsElsewhere, WerkError
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile


def sent_to(running: App, sent: list[tuple[str | None, str]]) -> SendCommand:
    """``AppContext.command`` as a cluster's replica has it, to ``running`` in this process: the body and the answer
    through JSON, a new id per command, a refusal as ``CommandRefused`` (werk.runtime.app_commands)."""

    async def command(asset: str | None, body: Mapping[str, Any], what: str, *, takes_s: float = 0.0) -> Any:
        sent.append((asset, what))
        try:
            answer = await running.command(json.loads(json.dumps(to_jsonable_python(body))), uuid.uuid4().hex)
        except WerkError as exc:
            raise CommandRefused(type(exc).__name__, str(exc), getattr(exc, "loc", ())) from None
        return json.loads(json.dumps(to_jsonable_python(answer)))

    return command


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
    with pytest.raises(RunsElsewhere, match="API replica"):  # nothing to send the action to
        await served.act("acknowledge", COOLANT, "olga")

    # an action goes to the running instance as a command (in a cluster over NATS, werk.runtime.app_commands),
    # which applies it to its state machine; the served one answers with the outcome and reads the journal again
    sent: list[tuple[str | None, str]] = []
    command = sent_to(running, sent)
    served = AlarmsApp(
        replace(context("alarms", config, werk_file, tmp_path), served="workers", command=command)
    )
    acked = await served.act("acknowledge", COOLANT, "olga", "seen")
    assert (acked["state"], acked["acknowledged"]) == ("acked", True)
    assert running.engine.entry(COOLANT).state.state == "acked"  # the running state machine learnt of it
    assert sent == [(config.asset("cnc-1").path, "cnc-1")]
    with pytest.raises(TransitionError):  # refused there, raised here as where the app runs
        await served.act("acknowledge", COOLANT, "olga")
    with pytest.raises(UnknownAlarm):  # refused here, nothing sent
        await served.act("acknowledge", "cnc-1:nothing", "olga")
    assert len(sent) == 2
    shelved = await served.act("shelve", COOLANT, "olga", "sensor wobbles", at(0) + timedelta(hours=1))
    assert shelved["shelved_until"] == (at(0) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    (row,) = [r for r in served.rows(states=set()) if r["id"] == COOLANT]
    assert (row["state"], row["shelved_by"], row["shelved_why"]) == ("shelved", "olga", "sensor wobbles")
    journal = running.store.journal(alarm=COOLANT, limit=10)
    assert {(j["action"], j["who"]) for j in journal} >= {("shelve", "olga"), ("acknowledge", "olga")}


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
