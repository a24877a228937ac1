"""Every app's store on every backend (the werk file, PostgreSQL): what an app writes, a restarted process reads back
exactly; replays write nothing twice; the handle itself keeps its contract (one placeholder style, transactions
that roll back whole, migrations recorded per owner, tables newer than the code refused).

The PostgreSQL cases skip with a reason where no server is reachable, and fail under CI=true (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.apps.test_alarms_states import alarm
from werk.apps.alarms.notify import Delivery
from werk.apps.alarms.states import Transition
from werk.apps.alarms.store import MIGRATIONS as ALARM_MIGRATIONS
from werk.apps.alarms.store import AlarmStore
from werk.apps.energy.store import MIGRATIONS as ENERGY_MIGRATIONS
from werk.apps.energy.store import EnergyStore, RecordedEvent
from werk.apps.inventory.stock import Booking, Signal
from werk.apps.inventory.store import MIGRATIONS as INVENTORY_MIGRATIONS
from werk.apps.inventory.store import InventoryStore
from werk.apps.maintenance.orders import WorkOrder
from werk.apps.maintenance.store import MIGRATIONS as MAINTENANCE_MIGRATIONS
from werk.apps.maintenance.store import MaintenanceStore
from werk.apps.oee.stops import Classification, Stop
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.oee.store import OeeStore
from werk.apps.orders.book import Order
from werk.apps.orders.master import Routing, Step
from werk.apps.orders.schedule import Plan, Slot
from werk.apps.orders.store import MIGRATIONS as ORDERS_MIGRATIONS
from werk.apps.orders.store import OrdersStore
from werk.errors import StoreError
from werk.store.app_database import AppDatabase, postgres_ddl, postgres_params
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.migrations import Migration

Opener = Callable[[], AppDatabase]
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # microseconds far past 2**31: 64-bit integers on both backends


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- the handle ------------------------------------------------------------------------------------------------------

ODDS = (
    Migration(
        1,
        "a table of every type an app uses",
        """
        CREATE TABLE odds (
            id     INTEGER PRIMARY KEY,
            ts     INTEGER NOT NULL,
            x      REAL,
            label  TEXT NOT NULL DEFAULT '',
            blob   BLOB
        );
        CREATE TABLE odds_key (k TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (k, n)) WITHOUT ROWID
        """,
    ),
)


def test_values_round_trip_with_their_types_and_ids_are_numbered(app_db: AppDatabase) -> None:
    assert app_db.migrate("odds", ODDS) == 1
    big = 2**53 + 1
    with app_db.transaction() as tx:
        tx.executemany(
            "INSERT INTO odds (ts, x, label, blob) VALUES (?, ?, ?, ?)",
            [(big, 0.1 + 0.2, "a '?' and 100%", b"\x00\xff"), (1, None, "", None)],
        )
    rows = app_db.query("SELECT id, ts, x, label, blob FROM odds ORDER BY id")
    assert [r[0] for r in rows] == [1, 2]  # numbered by the database, from 1
    assert rows[0][1:4] == (big, 0.1 + 0.2, "a '?' and 100%")  # 64-bit int, double precision, text as given
    assert bytes(rows[0][4]) == b"\x00\xff" and rows[1][2] is None and rows[1][4] is None
    # a literal with '?' and '%' in the statement itself is not a placeholder
    assert app_db.query("SELECT count(*) FROM odds WHERE label LIKE '%?%' AND ts > ?", (0,)) == [(1,)]
    assert app_db.query_one("SELECT id FROM odds WHERE ts = ?", (-5,)) is None


def test_a_transaction_that_raises_leaves_nothing_and_the_next_one_works(app_db: AppDatabase) -> None:
    app_db.migrate("odds", ODDS)
    with pytest.raises(RuntimeError, match="midway"), app_db.transaction() as tx:
        tx.execute("INSERT INTO odds_key VALUES (?, ?)", ("a", 1))
        assert tx.query("SELECT count(*) FROM odds_key") == [(1,)]  # its own write, seen inside
        raise RuntimeError("midway")
    assert app_db.query("SELECT count(*) FROM odds_key") == [(0,)]
    with app_db.transaction() as tx:
        tx.execute("INSERT INTO odds_key VALUES (?, ?) ON CONFLICT (k, n) DO NOTHING", ("a", 1))
        tx.execute("INSERT INTO odds_key VALUES (?, ?) ON CONFLICT (k, n) DO NOTHING", ("a", 1))
        assert tx.execute("DELETE FROM odds_key WHERE k = ?", ("nobody",)) == 0
    assert app_db.query("SELECT k, n FROM odds_key") == [("a", 1)]


def test_migrations_are_recorded_per_owner_and_newer_tables_are_refused(app_db_opener: Opener) -> None:
    db = app_db_opener()
    assert db.schema_version("odds") == 0
    assert db.migrate("odds", ODDS) == 1
    assert db.migrate("odds", ODDS) == 1  # again: nothing to do
    later = (*ODDS, Migration(2, "a column more", "ALTER TABLE odds ADD COLUMN extra INTEGER"))
    assert app_db_opener().migrate("odds", later) == 2
    assert db.schema_version("odds") == 2 and db.schema_version("someone else") == 0
    with pytest.raises(
        StoreError, match="'odds' are at schema version 2, newer than this werk knows \\(1\\)"
    ):
        app_db_opener().migrate("odds", ODDS)


def test_only_type_names_and_placeholders_differ_on_postgresql() -> None:
    ddl = postgres_ddl(ODDS[0].sql)
    assert "id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in ddl
    assert "ts     bigint NOT NULL" in ddl and "x      double precision" in ddl and "blob   bytea" in ddl
    assert "n bigint NOT NULL" in ddl and "label  TEXT NOT NULL DEFAULT ''" in ddl
    assert "WITHOUT ROWID" not in ddl and ddl.rstrip().endswith("PRIMARY KEY (k, n))")
    assert postgres_params("SELECT '?%', \"a?\" FROM t WHERE a = ? AND b LIKE ?") == (
        "SELECT '?%%', \"a?\" FROM t WHERE a = %s AND b LIKE %s"
    )


# --- the apps' stores ------------------------------------------------------------------------------------------------


def test_oee_stops_and_their_reason_history_survive_a_restart_once(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("oee", OEE_MIGRATIONS)
    history = [Classification(at(5), "olga", "tool change", None, "100% done?")]
    stops = [
        Stop("m1", at(0), "fault", at(4), ["fault", "idle"], "jam", "operator", micro=False, history=history),
        Stop("m1", at(10), "idle", None, ["idle"], "planned-stop", "auto", planned=True),
        Stop("m2", at(1), "fault", at(1.5), ["fault"], None, "", micro=True),
    ]
    OeeStore(db).upsert_stops(stops)
    OeeStore(db).upsert_stops(stops)  # a replay
    got = OeeStore(app_db_opener()).query_stops()
    assert [(s.id, s.end, s.states, s.reason, s.planned, s.micro) for s in got] == [
        (s.id, s.end, s.states, s.reason, s.planned, s.micro) for s in sorted(stops, key=lambda s: s.start)
    ]
    assert got[0].history == history and got[1].history == [] and got[2].history == []
    assert [s.id for s in OeeStore(db).query_stops(asset="m1", start=at(5))] == [stops[1].id]
    planned, failures = OeeStore(db).stop_facts("m1", at(0), at(60))
    assert planned == [(int(at(10).timestamp() * 1_000_000), None)] and failures == 1


def test_maintenance_work_orders_and_health_states_survive_a_restart(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("maintenance", MAINTENANCE_MIGRATIONS)
    store = MaintenanceStore(db)
    wo = WorkOrder("wo-1", "m1", "bearing", at(0), "werk", source="anomaly", parts=[{"part": "b", "qty": 2}])
    store.upsert_work_order(wo)
    store.upsert_work_order(WorkOrder("wo-2", "m1", "belt", at(1), "sam", status="done", done=at(3)))
    wo.status, wo.started = "in_progress", at(2)
    store.upsert_work_order(wo)
    store.save_health({"m1": {"baseline": [1.5, 2.5]}, "m2": {"warnings": []}}, at(5))
    again = MaintenanceStore(app_db_opener())
    assert again.get_work_order("wo-1") == wo and again.get_work_order("nope") is None
    assert [w.id for w in again.query_work_orders(asset="m1")] == ["wo-2", "wo-1"]  # newest first
    assert [w.id for w in again.query_work_orders(status="done")] == ["wo-2"]
    assert again.open_work_order("m1", "anomaly") == wo and again.open_work_order("m1", "rul") is None
    assert again.load_health() == {"m1": {"baseline": [1.5, 2.5]}, "m2": {"warnings": []}}


def test_energy_meter_events_are_corrected_by_recording_them_again(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("energy", ENERGY_MIGRATIONS)
    first = RecordedEvent("m1", at(0), "exchange", 12345.5, 0.0, "olga", at(1))
    EnergyStore(db).record(first)
    EnergyStore(db).record(RecordedEvent("m2", at(0), "reset", None, 0.0, "sam", at(1)))
    fixed = RecordedEvent("m1", at(0), "exchange", 12346.25, 3.0, "olga", at(2), "read again")
    EnergyStore(db).record(fixed)
    again = EnergyStore(app_db_opener())
    assert again.events() == [fixed, RecordedEvent("m2", at(0), "reset", None, 0.0, "sam", at(1))]
    assert again.events("m2")[0].old_final is None


def test_alarm_journal_deliveries_and_pruning(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("alarms", ALARM_MIGRATIONS)
    store = AlarmStore(db)
    alarms = {"m1:temp": alarm("temp", signal="temperature", type="high", limit=80)}
    rows = [
        Transition("m1:temp", at(0), "activate", "normal", "unack", value={"v": 91.5}, annunciated=True),
        Transition("m1:temp", at(1), "acknowledge", "unack", "ack", who="olga", why="seen"),
        Transition("m1:temp", at(2), "clear", "ack", "normal", value=79),
    ]
    store.append(rows, alarms)
    store.append(rows, alarms)  # a replay writes nothing twice
    store.log_delivery(at(0.5), Delivery("m1:temp", at(0), "r", 0, "email", "a@b.example", {}), "sent", 1, "")
    again = AlarmStore(app_db_opener())
    journal = again.journal()
    assert [(j["action"], j["who"], j["value"], j["annunciated"]) for j in journal] == [
        ("clear", "", 79, False),
        ("acknowledge", "olga", None, False),
        ("activate", "", {"v": 91.5}, True),
    ]
    assert [(r.tag, r.active) for r in again.records(at(0), at(10))] == [
        ("m1:temp", True),
        ("m1:temp", False),
    ]
    (d,) = again.deliveries()
    assert (d["ts"], d["activation"], d["status"], d["target"]) == (at(0.5), at(0), "sent", "a@b.example")
    assert store.prune(at(1.5)) == 2
    assert [j["action"] for j in again.journal()] == ["clear"] and again.deliveries() == []


def test_orders_routings_orders_plan_replans_and_pins_survive_a_restart(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("orders", ORDERS_MIGRATIONS)
    store = OrdersStore(db)
    routing = Routing("gear", (Step(10, "turn", {"cnc-1": 42.5}, 15.0, "steel"),))
    store.save_routings([routing], "olga", at(0))
    order = Order("o-1", "gear", 100, at(600), 2, at(0), "running", {10: 40}, 3, at(5), None)
    store.save_orders([order, Order("o-2", "gear", 5, at(300))], "olga", at(0))
    order.good = {10: 60}
    store.save_orders([order], "werk", at(9))
    plan = Plan({"o-1/10": Slot("cnc-1", 0, 4250)}, "OPTIMAL", 4250.0, 4250.0)
    store.save_plan(at(0), plan, at(1))
    store.save_plan(at(2), plan, at(3))
    store.add_replan(at(3), "breakdown", "cp-sat", 0.25, ["o-1/10"], [])
    store.set_pin("o-1/10", "cnc-1", at(4), "olga")
    store.set_pin("o-2/10", "cnc-1", at(8), "olga")
    store.delete_pin("o-2/10")
    again = OrdersStore(app_db_opener())
    assert again.routings() == [routing]
    assert again.orders() == [Order("o-2", "gear", 5, at(300)), order]
    assert again.plan() == (at(2), Plan(plan.slots, "OPTIMAL", 4250.0, 4250.0))
    assert [(r["reason"], r["seconds"], r["moved"]) for r in again.replans()] == [
        ("breakdown", 0.25, ["o-1/10"])
    ]
    assert again.pins() == {"o-1/10": ("cnc-1", at(4))}


def test_inventory_bookings_and_signals_keep_their_order(app_db_opener: Opener) -> None:
    db = app_db_opener()
    db.migrate("inventory", INVENTORY_MIGRATIONS)
    bookings = [
        Booking(at(0), "steel", "wh", 100.5, "receipt", "olga", "delivery", "dn-1"),
        Booking(at(1), "steel", "wh", -0.25, "backflush", "werk", ref="o-1"),
        Booking(at(2), "oil", "wh", 4.0, "count", "sam"),
    ]
    InventoryStore(db).add(bookings, [Signal(at(1), "steel", "wh", 100.25, 150.0, 200.0)])
    InventoryStore(db).add([], [])
    again = InventoryStore(app_db_opener())
    assert again.journal() == bookings and again.journal("oil") == bookings[2:]
    assert again.journal(limit=2) == bookings[:0:-1]  # newest first
    assert again.signals() == [Signal(at(1), "steel", "wh", 100.25, 150.0, 200.0)]
    assert again.since(at(1)) == 2


def test_a_lost_server_connection_fails_one_call_with_the_server_named_and_the_next_connects_again(
    pg_url: str,
) -> None:
    db = PostgresAppDatabase(pg_url)
    db.open()
    try:
        db.migrate("odds", ODDS)
        with db.transaction() as tx:
            tx.execute("INSERT INTO odds_key VALUES (?, ?)", ("before", 1))
        assert db.query("SELECT k FROM odds_key") == [("before",)]
        with psycopg.connect(pg_url, autocommit=True) as admin:  # a DBA ends every session of the database
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with (
            pytest.raises(StoreError, match=r"postgresql://.*did not reach PostgreSQL"),
            db.transaction() as tx,
        ):
            tx.execute("INSERT INTO odds_key VALUES (?, ?)", ("lost", 2))
        with pytest.raises(StoreError, match="did not reach PostgreSQL"):
            db.query("SELECT k FROM odds_key")
        with db.transaction() as tx:  # the next call connects again
            tx.execute("INSERT INTO odds_key VALUES (?, ?)", ("after", 3))
        assert db.query("SELECT k FROM odds_key ORDER BY n") == [("before",), ("after",)]
    finally:
        db.close()
