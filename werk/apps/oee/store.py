"""The OEE app's own tables (in the werk file, or on PostgreSQL): stops and the history of their reasons (who, when, what before)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from werk.apps.oee.stops import Classification, Stop
from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

MIGRATIONS = (
    Migration(
        1,
        "downtime stops and their reason history",
        """
        CREATE TABLE downtime (
            id            TEXT PRIMARY KEY,          -- asset@start (microseconds)
            asset         TEXT NOT NULL,
            start_ts      INTEGER NOT NULL,
            end_ts        INTEGER,                   -- NULL while the stop goes on
            first_state   TEXT NOT NULL,
            states        TEXT NOT NULL,             -- JSON list
            reason        TEXT,
            reason_source TEXT NOT NULL DEFAULT '',
            planned       INTEGER NOT NULL DEFAULT 0,
            micro         INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX downtime_asset_start ON downtime (asset, start_ts);
        CREATE INDEX downtime_start ON downtime (start_ts);
        CREATE TABLE downtime_reason_history (
            id          INTEGER PRIMARY KEY,
            downtime_id TEXT NOT NULL REFERENCES downtime (id),
            ts          INTEGER NOT NULL,
            who         TEXT NOT NULL,
            reason      TEXT NOT NULL,
            previous    TEXT,
            comment     TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX downtime_reason_history_stop ON downtime_reason_history (downtime_id, ts);
        """,
        legacy=3,
    ),
)


#: the stored row has a person's reason and the incoming one does not
_PERSON_KEPT = "downtime.reason_source = 'operator' AND excluded.reason_source <> 'operator'"


class OeeStore:
    """Stops, upserted by id (asset and start), with their reason history (append-only)."""

    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def stop_facts(
        self, asset: str, start: datetime, end: datetime
    ) -> tuple[list[tuple[int, int | None]], int]:
        """What a KPI report needs of an asset's stops in [start, end): the spans of planned ones (microseconds,
        end None while open) and the number of failure events (non-micro stops in which the asset faulted)."""
        a, z = to_micros(start), to_micros(end)
        planned = self.db.query(
            "SELECT start_ts, end_ts FROM downtime WHERE asset = ? AND planned = 1 AND start_ts < ? "
            "AND (end_ts IS NULL OR end_ts > ?) ORDER BY start_ts",
            (asset, z, a),
        )
        row = self.db.query_one(
            "SELECT count(*) FROM downtime WHERE asset = ? AND micro = 0 AND start_ts >= ? AND start_ts < ? "
            "AND states LIKE '%\"fault\"%'",
            (asset, a, z),
        )
        return [(int(s), None if e is None else int(e)) for s, e in planned], int(row[0]) if row else 0

    def upsert_stops(self, stops: Sequence[Stop]) -> None:
        """Store the stops as given, except that a person's reason stays against a row that has none of a
        person's: an instance that follows the asset (a cluster's worker) writes its copy of a stop that a person
        classified through another process (an API replica) as it goes on and ends, and must not undo that."""
        rows = [
            (
                s.id,
                s.asset,
                to_micros(s.start),
                to_micros(s.end) if s.end else None,
                s.first_state,
                json.dumps(s.states),
                s.reason,
                s.reason_source,
                int(s.planned),
                int(s.micro),
            )
            for s in stops
        ]
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO downtime VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "end_ts = excluded.end_ts, states = excluded.states, "
                f"reason = CASE WHEN {_PERSON_KEPT} THEN downtime.reason ELSE excluded.reason END, "
                f"reason_source = CASE WHEN {_PERSON_KEPT} THEN downtime.reason_source "
                "ELSE excluded.reason_source END, "
                f"planned = CASE WHEN {_PERSON_KEPT} THEN downtime.planned ELSE excluded.planned END, "
                "micro = excluded.micro",
                rows,
            )
            for s in stops:
                for c in s.history:
                    tx.execute(
                        "INSERT INTO downtime_reason_history (downtime_id, ts, who, reason, previous, comment) "
                        "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM downtime_reason_history "
                        "WHERE downtime_id = ? AND ts = ? AND who = ?)",
                        (
                            s.id,
                            to_micros(c.ts),
                            c.who,
                            c.reason,
                            c.previous,
                            c.comment,
                            s.id,
                            to_micros(c.ts),
                            c.who,
                        ),
                    )

    def last_stops(self, assets: list[str]) -> list[Stop]:
        """Each asset's most recent stop (open or ended), with its reason history."""
        out: list[Stop] = []
        for asset in assets:
            row = self.db.query_one("SELECT max(start_ts) FROM downtime WHERE asset = ?", [asset])
            if row is None or row[0] is None:
                continue
            start = from_micros(int(row[0]))
            out += [s for s in self.query_stops(asset=asset, start=start) if s.start == start]
        return out

    def query_stops(
        self, *, asset: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> list[Stop]:
        """Stops overlapping [start, end), oldest first, with their reason history."""
        where, args = ["1 = 1"], []  # type: list[str], list[object]
        if asset:
            where.append("asset = ?")
            args.append(asset)
        if end:
            where.append("start_ts < ?")
            args.append(to_micros(end))
        if start:
            where.append("(end_ts IS NULL OR end_ts > ?)")
            args.append(to_micros(start))
        rows = self.db.query(
            "SELECT id, asset, start_ts, end_ts, first_state, states, reason, reason_source, planned, micro "
            f"FROM downtime WHERE {' AND '.join(where)} ORDER BY start_ts",
            args,
        )
        history: dict[str, list[Classification]] = {}
        if rows:
            ids = [r[0] for r in rows]
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                for sid, ts, who, reason, prev, comment in self.db.query(
                    "SELECT downtime_id, ts, who, reason, previous, comment FROM downtime_reason_history "
                    f"WHERE downtime_id IN ({','.join('?' * len(chunk))}) ORDER BY ts, id",
                    chunk,
                ):
                    history.setdefault(sid, []).append(
                        Classification(from_micros(ts), who, reason, prev, comment)
                    )
        return [
            Stop(
                asset=a,
                start=from_micros(st),
                first_state=fs,
                end=from_micros(en) if en is not None else None,
                states=json.loads(states),
                reason=reason,
                reason_source=rs,
                planned=bool(pl),
                micro=bool(mi),
                history=history.get(sid, []),
            )
            for sid, a, st, en, fs, states, reason, rs, pl, mi in rows
        ]
