"""The energy app's own table (in the werk file, or on PostgreSQL): meter resets and exchanges, recorded by people (or a connector
that knows), never guessed from the readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from werk.apps.energy.meter import EventKind
from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

MIGRATIONS = (
    Migration(
        1,
        "energy meter resets and exchanges",
        """
        CREATE TABLE energy_meter_event (
            asset      TEXT NOT NULL,
            ts         INTEGER NOT NULL,           -- microseconds since the epoch, UTC
            kind       TEXT NOT NULL,              -- reset | exchange
            old_final  REAL,                       -- the old counter's last reading, NULL when unknown
            new_start  REAL NOT NULL DEFAULT 0,    -- the new counter's first reading
            who        TEXT NOT NULL,
            recorded   INTEGER NOT NULL,
            comment    TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (asset, ts)
        );
        """,
    ),
)


@dataclass(frozen=True)
class RecordedEvent:
    asset: str
    ts: datetime
    kind: EventKind
    old_final: float | None
    new_start: float
    who: str
    recorded: datetime
    comment: str = ""


class EnergyStore:
    """Meter events, upserted by (asset, time): recording the same exchange again corrects it."""

    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def record(self, e: RecordedEvent) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO energy_meter_event VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset, ts) DO UPDATE "
                "SET kind = excluded.kind, old_final = excluded.old_final, new_start = excluded.new_start, "
                "who = excluded.who, recorded = excluded.recorded, comment = excluded.comment",
                (
                    e.asset,
                    to_micros(e.ts),
                    e.kind,
                    e.old_final,
                    e.new_start,
                    e.who,
                    to_micros(e.recorded),
                    e.comment,
                ),
            )

    def events(self, asset: str | None = None) -> list[RecordedEvent]:
        where, args = ("WHERE asset = ?", (asset,)) if asset else ("", ())
        rows = self.db.query(
            "SELECT asset, ts, kind, old_final, new_start, who, recorded, comment FROM energy_meter_event "
            f"{where} ORDER BY asset, ts",
            args,
        )
        return [
            RecordedEvent(a, from_micros(ts), kind, old, new, who, from_micros(rec), comment)
            for a, ts, kind, old, new, who, rec, comment in rows
        ]
