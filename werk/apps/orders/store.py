"""The orders app's own tables (in the werk file, or on PostgreSQL): routings, orders with their state, the plan, re-plans, pins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from werk.apps.counter_marks import CounterMarks, marks_migration
from werk.apps.orders.book import Order
from werk.apps.orders.master import Routing, steps_from_json, steps_to_json
from werk.apps.orders.schedule import Plan, plan_from_dict, plan_to_dict
from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, Transaction, app_database
from werk.store.migrations import Migration, unique_column
from werk.store.sqlite_file import SQLiteFile

MARKS_TABLE = "orders_counter_mark"

MIGRATIONS = (
    Migration(
        1,
        "routings, production orders, the plan, re-plans and pins",
        """
        CREATE TABLE orders_routing (
            product   TEXT PRIMARY KEY,
            steps     TEXT NOT NULL,                 -- JSON list of steps
            who       TEXT NOT NULL,
            ts        INTEGER NOT NULL
        );
        CREATE TABLE orders_order (
            id          TEXT PRIMARY KEY,
            product     TEXT NOT NULL,
            quantity    INTEGER NOT NULL,
            due_ts      INTEGER NOT NULL,
            priority    INTEGER NOT NULL DEFAULT 1,
            release_ts  INTEGER,
            state       TEXT NOT NULL,
            good        TEXT NOT NULL DEFAULT '{}',  -- JSON: step -> good parts
            scrap       INTEGER NOT NULL DEFAULT 0,
            started_ts  INTEGER,
            finished_ts INTEGER,
            who         TEXT NOT NULL,
            ts          INTEGER NOT NULL
        );
        CREATE TABLE orders_plan (
            id        INTEGER PRIMARY KEY CHECK (id = 1),
            origin_ts INTEGER NOT NULL,
            plan      TEXT NOT NULL,
            ts        INTEGER NOT NULL
        );
        CREATE TABLE orders_replan (
            id        INTEGER PRIMARY KEY,
            ts        INTEGER NOT NULL,
            reason    TEXT NOT NULL,
            method    TEXT NOT NULL,
            seconds   REAL NOT NULL,
            moved     TEXT NOT NULL,                 -- JSON list of operation ids
            late      TEXT NOT NULL                  -- JSON list of order ids
        );
        CREATE INDEX orders_replan_ts ON orders_replan (ts);
        CREATE TABLE orders_pin (
            op        TEXT PRIMARY KEY,
            machine   TEXT NOT NULL,
            start_ts  INTEGER NOT NULL,
            who       TEXT NOT NULL
        )
        """,
    ),
    unique_column(
        2, "a re-plan's command id: a command applied again plans nothing", "orders_replan", "command"
    ),
    marks_migration(3, MARKS_TABLE),
)


def _t(ts: int | None) -> datetime | None:
    return None if ts is None else from_micros(ts)


def _m(dt: datetime | None) -> int | None:
    return None if dt is None else to_micros(dt)


class OrdersStore:
    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def save_routings(self, routings: list[Routing], who: str, ts: datetime) -> None:
        rows = [(r.product, json.dumps(steps_to_json(r.steps)), who, to_micros(ts)) for r in routings]
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO orders_routing (product, steps, who, ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (product) DO UPDATE SET steps = excluded.steps, who = excluded.who, ts = excluded.ts",
                rows,
            )

    def routings(self) -> list[Routing]:
        rows = self.db.query("SELECT product, steps FROM orders_routing ORDER BY product")
        return [Routing(p, steps_from_json(json.loads(st))) for p, st in rows]

    def save_orders(
        self, orders: Sequence[Order], who: str, ts: datetime, marks: CounterMarks | None = None
    ) -> None:
        """Store ``orders`` as they are now; ``marks``: where the part counting that moved them stands, in the
        same transaction."""
        with self.db.transaction() as tx:
            self._save_orders(tx, orders, who, ts)
            if marks is not None:
                marks.save(tx)

    @staticmethod
    def _save_orders(tx: Transaction, orders: Sequence[Order], who: str, ts: datetime) -> None:
        rows = [
            (
                o.id,
                o.product,
                o.quantity,
                to_micros(o.due),
                o.priority,
                _m(o.release),
                o.state,
                json.dumps({str(k): v for k, v in o.good.items()}),
                o.scrap,
                _m(o.started),
                _m(o.finished),
                who,
                to_micros(ts),
            )
            for o in orders
        ]
        tx.executemany(
            "INSERT INTO orders_order (id, product, quantity, due_ts, priority, release_ts, state, good, scrap, "
            "started_ts, finished_ts, who, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET product = excluded.product, quantity = excluded.quantity, "
            "due_ts = excluded.due_ts, priority = excluded.priority, release_ts = excluded.release_ts, "
            "state = excluded.state, good = excluded.good, scrap = excluded.scrap, "
            "started_ts = excluded.started_ts, finished_ts = excluded.finished_ts",
            rows,
        )

    def orders(self) -> list[Order]:
        rows = self.db.query(
            "SELECT id, product, quantity, due_ts, priority, release_ts, state, good, scrap, started_ts, finished_ts "
            "FROM orders_order ORDER BY due_ts, id"
        )
        return [
            Order(
                r[0],
                r[1],
                r[2],
                from_micros(r[3]),
                r[4],
                _t(r[5]),
                r[6],
                {int(k): v for k, v in json.loads(r[7]).items()},
                r[8],
                _t(r[9]),
                _t(r[10]),
            )
            for r in rows
        ]

    def save_plan(self, origin: datetime, plan: Plan, ts: datetime) -> None:
        with self.db.transaction() as tx:
            self._save_plan(tx, origin, plan, ts)

    @staticmethod
    def _save_plan(tx: Transaction, origin: datetime, plan: Plan, ts: datetime) -> None:
        tx.execute(
            "INSERT INTO orders_plan (id, origin_ts, plan, ts) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET origin_ts = excluded.origin_ts, plan = excluded.plan, ts = excluded.ts",
            (to_micros(origin), json.dumps(plan_to_dict(plan)), to_micros(ts)),
        )

    def plan(self) -> tuple[datetime, Plan] | None:
        row = self.db.query_one("SELECT origin_ts, plan FROM orders_plan WHERE id = 1")
        return None if row is None else (from_micros(row[0]), plan_from_dict(json.loads(row[1])))

    def add_replan(
        self, ts: datetime, reason: str, method: str, seconds: float, moved: list[str], late: list[str]
    ) -> None:
        with self.db.transaction() as tx:
            self._add_replan(tx, ts, reason, method, seconds, moved, late, None)

    @staticmethod
    def _add_replan(
        tx: Transaction,
        ts: datetime,
        reason: str,
        method: str,
        seconds: float,
        moved: list[str],
        late: list[str],
        key: str | None,
    ) -> None:
        tx.execute(
            "INSERT INTO orders_replan (ts, reason, method, seconds, moved, late, command) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (to_micros(ts), reason, method, seconds, json.dumps(moved), json.dumps(late), key),
        )

    def save_replan(
        self,
        origin: datetime,
        plan: Plan,
        replan: dict[str, Any],
        *,
        key: str | None = None,
        orders: Sequence[Order] = (),
        who: str = "",
    ) -> None:
        """A new plan, the re-plan that made it (``replan`` as :meth:`replans` gives it) and the orders it was
        made for (by ``who``), in one transaction. ``key``, the id of the command that asked for it, is kept with
        the re-plan (:meth:`replan_of`): a command's plan is stored whole or not at all, and a key stored already
        is refused (the database's unique index), whichever process applies it."""
        ts = replan["ts"]
        with self.db.transaction() as tx:
            self._save_orders(tx, orders, who, ts)
            self._save_plan(tx, origin, plan, ts)
            self._add_replan(
                tx,
                ts,
                replan["reason"],
                replan["method"],
                replan["seconds"],
                replan["moved"],
                replan["late"],
                key,
            )

    def replan_of(self, key: str) -> dict[str, Any] | None:
        """The re-plan the command ``key`` made, None when none did."""
        rows = self._replans("WHERE command = ?", (key,))
        return rows[0] if rows else None

    def replans(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._replans("ORDER BY id DESC LIMIT ?", (limit,))

    def _replans(self, where: str, args: Sequence[object]) -> list[dict[str, Any]]:
        rows = self.db.query(
            f"SELECT ts, reason, method, seconds, moved, late FROM orders_replan {where}", args
        )
        return [
            {
                "ts": from_micros(r[0]),
                "reason": r[1],
                "method": r[2],
                "seconds": r[3],
                "moved": json.loads(r[4]),
                "late": json.loads(r[5]),
            }
            for r in rows
        ]

    def set_pin(self, op: str, machine: str, start: datetime, who: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO orders_pin (op, machine, start_ts, who) VALUES (?, ?, ?, ?) ON CONFLICT (op) DO UPDATE "
                "SET machine = excluded.machine, start_ts = excluded.start_ts, who = excluded.who",
                (op, machine, to_micros(start), who),
            )

    def delete_pin(self, op: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM orders_pin WHERE op = ?", (op,))

    def pins(self) -> dict[str, tuple[str, datetime]]:
        rows = self.db.query("SELECT op, machine, start_ts FROM orders_pin")
        return {op: (m, from_micros(ts)) for op, m, ts in rows}
