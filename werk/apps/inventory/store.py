"""The inventory app's own tables: the stock journal (every booking, who, what, why) and replenishment signals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from werk.apps.counter_marks import CounterMarks, marks_migration
from werk.apps.inventory.stock import Booking, Signal
from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration, unique_column
from werk.store.sqlite_file import SQLiteFile

MARKS_TABLE = "inventory_counter_mark"

MIGRATIONS = (
    Migration(
        1,
        "stock journal and replenishment signals",
        """
        CREATE TABLE inventory_booking (
            id        INTEGER PRIMARY KEY,
            ts        INTEGER NOT NULL,
            material  TEXT NOT NULL,
            location  TEXT NOT NULL,
            quantity  REAL NOT NULL,
            kind      TEXT NOT NULL,       -- receipt, production, backflush, count, issue
            who       TEXT NOT NULL,
            why       TEXT NOT NULL DEFAULT '',
            ref       TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX inventory_booking_material ON inventory_booking (material, location, ts);
        CREATE TABLE inventory_signal (
            id        INTEGER PRIMARY KEY,
            ts        INTEGER NOT NULL,
            material  TEXT NOT NULL,
            location  TEXT NOT NULL,
            level     REAL NOT NULL,
            point     REAL NOT NULL,
            quantity  REAL NOT NULL
        )
        """,
    ),
    unique_column(
        2, "a booking's command id: a command applied again books nothing", "inventory_booking", "command"
    ),
    marks_migration(3, MARKS_TABLE),
)


class InventoryStore:
    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def add(
        self,
        bookings: Sequence[Booking],
        signals: Sequence[Signal],
        key: str | None = None,
        marks: CounterMarks | None = None,
    ) -> None:
        """Store bookings and the signals they raised, in one transaction; ``key`` (the id of the command that
        booked them) is kept with the first booking (:meth:`booked`), and a key stored already is refused (the
        database's unique index): a command is booked once, whichever process applies it. ``marks``: where the
        part counting stands after the counter bookings among them, stored in the same transaction."""
        with self.db.transaction() as tx:
            if marks is not None:
                marks.save(tx)
            tx.executemany(
                "INSERT INTO inventory_booking (ts, material, location, quantity, kind, who, why, ref, command) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        to_micros(b.ts),
                        b.material,
                        b.location,
                        b.quantity,
                        b.kind,
                        b.who,
                        b.why,
                        b.ref,
                        key if k == 0 else None,
                    )
                    for k, b in enumerate(bookings)
                ],
            )
            tx.executemany(
                "INSERT INTO inventory_signal (ts, material, location, level, point, quantity) VALUES (?, ?, ?, ?, ?, ?)",
                [(to_micros(s.ts), s.material, s.location, s.level, s.point, s.quantity) for s in signals],
            )

    def journal(self, material: str | None = None, limit: int | None = None) -> list[Booking]:
        sql = "SELECT ts, material, location, quantity, kind, who, why, ref FROM inventory_booking"
        args: list[object] = []
        if material is not None:
            sql += " WHERE material = ?"
            args.append(material)
        sql += " ORDER BY id DESC" if limit else " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self.db.query(sql, args)
        return [Booking(from_micros(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def booked(self, key: str) -> Booking | None:
        """The booking the command ``key`` made, None when none did."""
        row = self.db.query_one(
            "SELECT ts, material, location, quantity, kind, who, why, ref FROM inventory_booking WHERE command = ?",
            (key,),
        )
        return None if row is None else Booking(from_micros(row[0]), *row[1:])

    def signals(self, limit: int = 50) -> list[Signal]:
        rows = self.db.query(
            "SELECT ts, material, location, level, point, quantity FROM inventory_signal ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [Signal(from_micros(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def since(self, ts: datetime) -> int:
        row = self.db.query_one("SELECT count(*) FROM inventory_booking WHERE ts >= ?", (to_micros(ts),))
        return int(row[0]) if row else 0
