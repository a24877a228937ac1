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
from werk.apps.orders.app import OrdersApp, routing_args
from werk.apps.orders.master import Routing, Step
from werk.apps.orders.store import MIGRATIONS as ORDER_MIGRATIONS
from werk.apps.spec import App, AppContext, SendCommand
from werk.config import parse_config
from werk.core.model import Event, Sample, to_micros
from werk.errors import CommandRefused, InputError, RunsElsewhere, WerkError
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


async def test_served_stock_follows_the_journal_and_sends_bookings(
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
    with pytest.raises(RunsElsewhere) as refused:  # nothing to send the booking to
        await served.act("receipt", {"material": "steel", "quantity": 1.0}, "olga")
    assert refused.value.args_["what"] == "a booking of stock"

    # a booking goes to the running instance as a command, booked there from its levels; the served one answers
    # with the booking and reads the journal again
    sent: list[tuple[str | None, str]] = []
    served = InventoryApp(
        replace(
            context("stock", config, werk_file, tmp_path), served="workers", command=sent_to(running, sent)
        )
    )
    counted = await served.act("count", {"material": "steel", "counted": 45.0, "why": ""}, "sven")
    assert (counted["kind"], counted["quantity"], counted["who"], counted["why"]) == (
        "count",
        5.0,
        "sven",
        "stock count",
    )
    assert sent == [(None, "a booking of stock")]  # plant-wide: no asset, the plant lease's holder answers
    assert running.inv.level("steel", "main") == 45.0 and served.inv.level("steel", "main") == 45.0
    received = await served.act(
        "receipt", {"material": "steel", "quantity": 10.0, "why": "", "ref": "DN-7"}, "olga"
    )
    # the same body as a receipt booked where the app runs
    local = await running.act(
        "receipt", {"material": "steel", "quantity": 10.0, "why": "", "ref": "DN-7"}, "olga"
    )
    assert received == to_jsonable_python(local)
    assert [b.kind for b in running.store.journal()] == ["receipt", "issue", "count", "receipt", "receipt"]


async def test_a_booking_applied_twice_is_booked_once_by_two_instances(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """A holder books a command and dies before answering; the retry (same id) reaches the next holder, over the
    same tables: it answers the booking made, and books nothing."""
    config = parse_config(PLANT + "apps:\n  stock: {opening_stock: {steel: 100}}\n")
    SQLiteAppDatabase(werk_file).migrate("stock", STOCK_MIGRATIONS)
    receipt = {
        "action": "receipt",
        "args": {"material": "steel", "quantity": 5.0, "ref": "DN-1"},
        "who": "olga",
    }
    count = {"action": "count", "args": {"material": "steel", "counted": 90.0}, "who": "sven"}
    answers = []
    for _ in range(2):
        holder = InventoryApp(context("stock", config, werk_file, tmp_path))
        answers.append((await holder.command(receipt, "c-1"), await holder.command(count, "c-2")))
    assert answers[0] == answers[1]
    assert (answers[0][0]["quantity"], answers[0][1]["quantity"]) == (5.0, -15.0)
    assert [(b.kind, b.quantity) for b in holder.store.journal()] == [
        ("receipt", 100.0),
        ("receipt", 5.0),
        ("count", -15.0),
    ]
    assert holder.inv.level("steel", "main") == 90.0
    await holder.command(receipt, "c-3")  # another command: booked
    assert holder.inv.level("steel", "main") == 95.0 and len(holder.store.journal()) == 4


ORDERS = """\
apps:
  production_orders:
    release_time_limit_s: 1
    routings:
      gear: [{operation: milling, machines: [m1], run_s: [30]}]
"""


def release(*lines: tuple[str, str]) -> dict[str, Any]:
    """The body of a release command: (order, product) each, 10 parts due in ten hours."""
    due = at(600).isoformat()
    rows = [
        {"order": o, "product": p, "quantity": 10, "due": due, "priority": 1, "release": None}
        for o, p in lines
    ]
    return {"action": "release", "args": {"lines": rows}, "who": "olga"}


async def test_served_orders_send_writes_to_the_running_instance(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT + ORDERS)
    SQLiteAppDatabase(werk_file).migrate("production_orders", ORDER_MIGRATIONS)
    served = OrdersApp(replace(context("production_orders", config, werk_file, tmp_path), served="workers"))
    with pytest.raises(RunsElsewhere) as refused:
        await served.act("plan", {"objective": None, "time_limit_s": None}, "sven")
    assert "cluster's workers" in refused.value.msgid and refused.value.args_["what"] == "a new plan"

    running = OrdersApp(context("production_orders", config, werk_file, tmp_path))
    sent: list[tuple[str | None, str]] = []
    served = OrdersApp(
        replace(
            context("production_orders", config, werk_file, tmp_path),
            served="workers",
            command=sent_to(running, sent),
        )
    )
    body = release(("o-1", "gear"))
    replan = await served.act("release", body["args"], "olga")
    assert replan["reason"] == "released:1" and sent == [(None, "a release of orders, which re-plans")]
    assert set(running.plan.slots) == {"o-1/1"}  # type: ignore[union-attr]
    assert set(served.plan.slots) == {"o-1/1"} and served.book.orders["o-1"].state == "released"  # type: ignore[union-attr]
    # refused where it runs: the same InputError here, its place in the request's body too
    with pytest.raises(InputError, match="product 'nope' has no routing") as bad:
        await served.act("release", release(("o-2", "nope"))["args"], "olga")
    assert bad.value.loc == ("body", 0, "product")
    with pytest.raises(InputError, match="cannot run on 'm2'") as bad:
        await served.act("pin", {"op": "o-1/1", "machine": "m2", "start": at(60).isoformat()}, "sven")
    assert bad.value.loc == ("body", "machine")
    pinned = await served.act("pin", {"op": "o-1/1", "machine": "m1", "start": at(60).isoformat()}, "sven")
    assert pinned["reason"] == "pinned:o-1/1"
    assert served.gantt()["machines"]["m1"][0]["start"] == at(60)
    shaft = Routing("shaft", (Step(1, "turning", {"m1": 20.0}),))
    imported = await served.act("routings", {"routings": [routing_args(shaft)]}, "sven")
    assert imported == {"imported": ["shaft"]}
    assert running.book.routings["shaft"] == shaft and served.book.routings["shaft"] == shaft


async def test_a_release_applied_twice_is_planned_once_by_two_instances(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT + ORDERS)
    SQLiteAppDatabase(werk_file).migrate("production_orders", ORDER_MIGRATIONS)
    body = release(("o-1", "gear"), ("o-2", "gear"))
    answers = []
    for _ in range(2):
        holder = OrdersApp(context("production_orders", config, werk_file, tmp_path))
        answers.append(await holder.command(body, "c-1"))
    assert answers[0] == answers[1] and answers[0]["reason"] == "released:2"
    assert [r["reason"] for r in holder.store.replans()] == ["released:2"]  # planned once
    assert sorted(holder.book.orders) == ["o-1", "o-2"] and set(holder.plan.slots) == {"o-1/1", "o-2/1"}  # type: ignore[union-attr]
    plan = {"action": "plan", "args": {"objective": "makespan", "time_limit_s": 1.0}, "who": "sven"}
    assert await holder.command(plan, "c-2") == await holder.command(plan, "c-2")
    assert [r["reason"] for r in holder.store.replans()] == ["requested:", "released:2"]
