"""The alarm journal (in the werk file, or on PostgreSQL): every transition of every alarm (who, when, why, state before and after).

Rows are keyed by (alarm, ts, action, who): a replay writes nothing twice. The KPI report reads activations and
returns from here (:meth:`AlarmStore.records`), and the spans in which werk watched the alarms
(:meth:`AlarmStore.watched`): each run of the app keeps one row, its start and the last instant it was known to be
watching, so the rates are over the time werk saw and not over hours before it first ran or while it was stopped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from werk.apps.alarms.kpi import Record
from werk.apps.alarms.notify import Delivery
from werk.apps.alarms.settings import Alarm
from werk.apps.alarms.states import Latest, Shelve, Transition
from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

MIGRATIONS = (
    Migration(
        1,
        "the alarm journal",
        """
        CREATE TABLE alarm_journal (
            id          INTEGER PRIMARY KEY,
            alarm       TEXT NOT NULL,              -- <asset>:<name>
            ts          INTEGER NOT NULL,           -- microseconds since the epoch, UTC
            action      TEXT NOT NULL,              -- activate, clear, acknowledge, shelve, ...
            before      TEXT NOT NULL,
            after       TEXT NOT NULL,
            who         TEXT NOT NULL DEFAULT '',
            why         TEXT NOT NULL DEFAULT '',
            value       TEXT,                       -- JSON
            annunciated INTEGER NOT NULL DEFAULT 0,
            priority    TEXT NOT NULL DEFAULT '',
            area        TEXT NOT NULL DEFAULT '',
            UNIQUE (alarm, ts, action, who)
        );
        CREATE INDEX alarm_journal_ts ON alarm_journal (ts);
        """,
    ),
    Migration(
        2,
        "the notification delivery log",
        """
        CREATE TABLE alarm_delivery (
            id          INTEGER PRIMARY KEY,
            ts          INTEGER NOT NULL,           -- when it was sent or given up, microseconds UTC
            alarm       TEXT NOT NULL,
            activation  INTEGER NOT NULL,           -- when the alarm was raised
            rule        TEXT NOT NULL,
            level       INTEGER NOT NULL,           -- 0 the rule's targets, 1.. its escalations
            channel     TEXT NOT NULL,              -- email, webhook
            target      TEXT NOT NULL,
            status      TEXT NOT NULL,              -- sent, failed
            attempts    INTEGER NOT NULL,
            error       TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alarm_delivery_ts ON alarm_delivery (ts);
        """,
    ),
    Migration(
        3,
        "a timed shelve's end in the journal, so a restart keeps it",
        """
        ALTER TABLE alarm_journal ADD COLUMN until INTEGER;
        CREATE INDEX alarm_journal_alarm ON alarm_journal (alarm, ts);
        """,
    ),
    Migration(
        4,
        "the spans in which werk watched the alarms; a journal kept before them counts as watched over its own span",
        """
        CREATE TABLE alarm_watch (
            id          INTEGER PRIMARY KEY,
            started     INTEGER NOT NULL,           -- microseconds UTC
            until       INTEGER NOT NULL            -- the last instant it was known to watch
        );
        CREATE INDEX alarm_watch_until ON alarm_watch (until);
        INSERT INTO alarm_watch (started, until)
            SELECT a, z FROM (SELECT min(ts) AS a, max(ts) AS z FROM alarm_journal) m WHERE a IS NOT NULL;
        """,
    ),
)


def _value(v: object) -> str | None:
    if v is None:
        return None
    try:
        return json.dumps(v)
    except TypeError:
        return json.dumps(str(v))


class AlarmStore:
    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def append(self, rows: Sequence[Transition], alarms: Mapping[str, Alarm]) -> None:
        def meta(alarm_id: str) -> tuple[str, str]:
            a = alarms.get(alarm_id)
            return (a.priority, a.area) if a else ("", "")

        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO alarm_journal (alarm, ts, action, before, after, who, why, value, annunciated, "
                "priority, area, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (alarm, ts, action, who) DO NOTHING",
                [
                    (
                        r.alarm,
                        to_micros(r.ts),
                        r.action,
                        r.before,
                        r.after,
                        r.who,
                        r.why,
                        _value(r.value),
                        int(r.annunciated),
                        *meta(r.alarm),
                        to_micros(r.until) if r.until else None,
                    )
                    for r in rows
                ],
            )

    def watch(self, started: datetime, *, go_on: bool = False) -> int:
        """A run of the app begins watching at ``started``: the id of its span, which :meth:`watching` moves on.
        ``go_on``: the run takes up where the last one left off (fed from the cluster's log, which kept what came
        in between), so the last span goes on instead of a new one starting."""
        with self.db.transaction(serialize="alarm_watch") as tx:
            if go_on:
                last = tx.query("SELECT id FROM alarm_watch ORDER BY until DESC, id DESC LIMIT 1")
                if last:
                    tx.execute(
                        "UPDATE alarm_watch SET until = ? WHERE id = ? AND until < ?",
                        (to_micros(started), last[0][0], to_micros(started)),
                    )
                    return int(last[0][0])
            tx.execute(
                "INSERT INTO alarm_watch (started, until) VALUES (?, ?)",
                (to_micros(started), to_micros(started)),
            )
            return int(tx.query("SELECT max(id) FROM alarm_watch")[0][0])

    def watching(self, span: int, until: datetime) -> None:
        """The run of span ``span`` was still watching at ``until``."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE alarm_watch SET until = ? WHERE id = ? AND until < ?",
                (to_micros(until), span, to_micros(until)),
            )

    def watched(self, start: datetime, end: datetime) -> dict[int, tuple[datetime, datetime]]:
        """The spans (by id) in which werk watched the alarms that overlap [start, end), as stored (not cut)."""
        rows = self.db.query(
            "SELECT id, started, until FROM alarm_watch WHERE until >= ? AND started < ? ORDER BY started",
            (to_micros(start), to_micros(end)),
        )
        return {i: (from_micros(a), from_micros(z)) for i, a, z in rows}

    def prune(self, before: datetime) -> int:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM alarm_watch WHERE until < ?", (to_micros(before),))
            tx.execute("DELETE FROM alarm_delivery WHERE ts < ?", (to_micros(before),))
            return tx.execute("DELETE FROM alarm_journal WHERE ts < ?", (to_micros(before),))

    def log_delivery(self, ts: datetime, d: Delivery, status: str, attempts: int, error: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO alarm_delivery (ts, alarm, activation, rule, level, channel, target, status, attempts, "
                "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    to_micros(ts),
                    d.alarm,
                    to_micros(d.activation),
                    d.rule,
                    d.level,
                    d.channel,
                    d.target,
                    status,
                    attempts,
                    error,
                ),
            )

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        """The delivery log, newest first."""
        rows = self.db.query(
            "SELECT ts, alarm, activation, rule, level, channel, target, status, attempts, error "
            "FROM alarm_delivery ORDER BY ts DESC, id DESC LIMIT ?",
            (limit,),
        )
        keys = (
            "ts",
            "alarm",
            "activation",
            "rule",
            "level",
            "channel",
            "target",
            "status",
            "attempts",
            "error",
        )
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for d in out:
            d["ts"], d["activation"] = from_micros(d["ts"]), from_micros(d["activation"])
        return out

    def journal(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        alarm: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Journal rows, newest first."""
        where, args = ["1 = 1"], []  # type: list[str], list[object]
        if start is not None:
            where.append("ts >= ?")
            args.append(to_micros(start))
        if end is not None:
            where.append("ts < ?")
            args.append(to_micros(end))
        if alarm is not None:
            where.append("alarm = ?")
            args.append(alarm)
        rows = self.db.query(
            "SELECT alarm, ts, action, before, after, who, why, value, annunciated, priority, area "
            f"FROM alarm_journal WHERE {' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT ?",
            [*args, limit],
        )
        return [
            {
                "alarm": a,
                "ts": from_micros(ts),
                "action": action,
                "before": before,
                "after": after,
                "who": who,
                "why": why,
                "value": json.loads(v) if v is not None else None,
                "annunciated": bool(ann),
                "priority": prio,
                "area": area,
            }
            for a, ts, action, before, after, who, why, v, ann, prio, area in rows
        ]

    def latest(self) -> dict[str, Latest]:
        """Each journalled alarm's last row (the state it entered, when, the value), whether its process condition
        was last seen active (its last activate or clear row), when it last activated and when the operator was
        last shown it: the alarms' states as the instance that runs them last wrote them."""
        rows = self.db.query(
            "SELECT j.alarm, j.ts, j.after, j.value, "
            "(SELECT max(a.ts) FROM alarm_journal a WHERE a.alarm = j.alarm AND a.action = 'activate'), "
            "(SELECT a.action FROM alarm_journal a WHERE a.alarm = j.alarm AND a.action IN ('activate', 'clear') "
            "ORDER BY a.ts DESC, a.id DESC LIMIT 1), "
            "(SELECT max(a.ts) FROM alarm_journal a WHERE a.alarm = j.alarm AND a.annunciated = 1) "
            "FROM alarm_journal j JOIN (SELECT alarm, max(id) AS id FROM alarm_journal GROUP BY alarm) m "
            "ON j.id = m.id"
        )
        return {
            alarm: Latest(
                from_micros(ts),
                after,
                None if value is None else json.loads(value),
                None if activated is None else from_micros(activated),
                condition == "activate",
                None if raised is None else from_micros(raised),
            )
            for alarm, ts, after, value, activated, condition, raised in rows
        }

    def delivered(self) -> set[tuple[str, datetime, str, int]]:
        """Every (alarm, activation, rule, level) the delivery log holds: what was sent (or given up on) already,
        so a restarted instance does not send it again."""
        rows = self.db.query("SELECT DISTINCT alarm, activation, rule, level FROM alarm_delivery")
        return {(alarm, from_micros(activation), rule, level) for alarm, activation, rule, level in rows}

    def decisions(self) -> tuple[dict[str, Shelve], dict[str, tuple[str, str]]]:
        """What people decided that still holds, per alarm: the shelve of alarms whose last shelving row is a
        shelve (timed ones with their end), and who took which alarms out of service and why."""
        last = (
            "SELECT j.alarm, j.action, j.ts, j.who, j.why, j.until FROM alarm_journal j JOIN (SELECT alarm, "
            "max(ts) AS ts FROM alarm_journal WHERE action IN ({}) GROUP BY alarm) m ON j.alarm = m.alarm AND "
            "j.ts = m.ts WHERE j.action IN ({}) ORDER BY j.id"
        )
        shelving = "'shelve', 'unshelve', 'shelve_expired'"
        service = "'remove_from_service', 'return_to_service'"
        shelves = {
            a: Shelve(who, why, from_micros(ts), from_micros(until) if until is not None else None)
            for a, action, ts, who, why, until in self.db.query(last.format(shelving, shelving))
            if action == "shelve"
        }
        oos = {
            a: (who, why)
            for a, action, _, who, why, _ in self.db.query(last.format(service, service))
            if action == "remove_from_service"
        }
        return shelves, oos

    def records(self, start: datetime, end: datetime) -> list[Record]:
        """Annunciated activations and every return to normal in [start, end), for the KPI report; the
        position is the alarm's area (mapped to operator positions by the report's caller)."""
        rows = self.db.query(
            "SELECT ts, alarm, action, priority, area FROM alarm_journal WHERE ts >= ? AND ts < ? AND "
            "((action = 'activate' AND annunciated = 1) OR action = 'clear') ORDER BY ts, id",
            (to_micros(start), to_micros(end)),
        )
        return [
            Record(from_micros(ts), alarm, action == "activate", prio, area or "plant")
            for ts, alarm, action, prio, area in rows
        ]
