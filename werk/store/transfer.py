"""Moving a werk file's historian to PostgreSQL (``werk store migrate --to postgresql://...``), without loss.

Samples go signal by signal in time order, in chunks through :meth:`PostgresHistorian.write_samples` (COPY and
the idempotent upsert). Events go in the order of their ids, each chunk in one transaction together with the
progress row ``werk_import`` keeps for the file, so an interrupted run started again copies no event twice and
resumes samples where the last committed chunk ended (a chunk copied again changes nothing: upserts). At the end
every signal's count in the file is compared with its count on the server over the same time range, and each
signal gets the value type the file records for it.

What is copied here: signals, samples, events; the apps' tables, werk's users and the audit trail go by
:mod:`werk.store.transfer_apps`. What stays in the werk file: the twin (see docs/cluster.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from werk.core.model import Event, Quality, Sample, Value, from_micros
from werk.errors import StoreError
from werk.store.postgres import PostgresHistorian

CHUNK = 50_000

Progress = Callable[[str, int], None]  # (what: "samples" | "events", how many more copied)


@dataclass
class TransferReport:
    signals: int = 0
    samples: int = 0  # in the file
    events: int = 0  # in the file
    copied_samples: int = 0  # in this run (a resumed run copies what is left, and the last chunk again)
    copied_events: int = 0
    mismatches: list[str] = field(default_factory=list)  # signals whose counts differ, with both counts

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _open_file(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StoreError(f"{path}: no such werk file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.execute("SELECT count(*) FROM signal").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a werk file with a historian ({exc})") from None
    return db


def totals(path: Path) -> tuple[int, int]:
    """(samples, events) in the werk file: what the progress bars count to."""
    db = _open_file(path)
    try:
        return int(db.execute("SELECT count(*) FROM sample").fetchone()[0]), int(
            db.execute("SELECT count(*) FROM event").fetchone()[0]
        )
    finally:
        db.close()


def transfer(path: Path, pg: PostgresHistorian, progress: Progress | None = None) -> TransferReport:
    """Copy the historian of the werk file at ``path`` into ``pg`` (open); resumable, idempotent, checked."""
    step = progress or (lambda what, n: None)
    db = _open_file(path)
    report = TransferReport()
    source = str(path.resolve())
    try:
        conn = pg._writer()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS werk_import (source text NOT NULL, what text NOT NULL, "
            "position bigint NOT NULL, PRIMARY KEY (source, what))"
        )
        done: dict[str, int] = {
            what: int(pos)
            for what, pos in conn.execute(
                "SELECT what, position FROM werk_import WHERE source = %s", (source,)
            )
        }
        signals = db.execute("SELECT id, path, dtype FROM signal ORDER BY id").fetchall()
        report.signals = len(signals)
        report.samples, report.events = (
            int(db.execute("SELECT count(*) FROM sample").fetchone()[0]),
            int(db.execute("SELECT count(*) FROM event").fetchone()[0]),
        )
        for sid, sig, dtype in signals:
            key = f"sample:{sig}"
            after = done.get(key)
            if after is None:
                skipped = 0
                after = -(2**63)
            else:
                (skipped,) = db.execute(
                    "SELECT count(*) FROM sample WHERE signal_id = ? AND ts <= ?", (sid, after)
                ).fetchone()
            step("samples", int(skipped))
            while True:
                rows = db.execute(
                    "SELECT ts, value, quality FROM sample WHERE signal_id = ? AND ts > ? ORDER BY ts LIMIT ?",
                    (sid, after, CHUNK),
                ).fetchall()
                if not rows:
                    break
                pg.write_samples(
                    [Sample(sig, from_micros(ts), _value(v, dtype), Quality(q)) for ts, v, q in rows]
                )
                after = rows[-1][0]
                with conn.transaction():
                    _mark(conn, source, key, after)
                report.copied_samples += len(rows)
                step("samples", len(rows))
        last_event = done.get("event", 0)
        event_rows = done.get("event rows", 0)
        (skipped,) = db.execute("SELECT count(*) FROM event WHERE id <= ?", (last_event,)).fetchone()
        step("events", int(skipped))
        # a file written before events had keys has no such column: its events have none
        keyed = any(r[1] == "key" for r in db.execute("PRAGMA table_info(event)"))
        while True:
            rows = db.execute(
                f"SELECT id, ts, kind, source, data, {'key' if keyed else 'NULL'} FROM event "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (last_event, CHUNK),
            ).fetchall()
            if not rows:
                break
            events = [Event(k, src, from_micros(ts), json.loads(d), key) for _, ts, k, src, d, key in rows]
            with conn.transaction(), conn.cursor() as cur:  # the events and the progress row, at once
                cur.executemany(
                    "INSERT INTO event (ts, kind, source, data, key) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [(ts, k, src, d, key) for _, ts, k, src, d, key in rows],
                )
                last_event = rows[-1][0]
                event_rows += len(rows)
                _mark(conn, source, "event", last_event)
                _mark(conn, source, "event rows", event_rows)
            report.copied_events += len(events)
            step("events", len(rows))
        _check(db, pg, source, signals, report)
    finally:
        db.close()
    return report


def _mark(conn: object, source: str, what: str, position: int) -> None:
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO werk_import VALUES (%s, %s, %s) ON CONFLICT (source, what) DO UPDATE SET "
        "position = excluded.position",
        (source, what, position),
    )


def _value(v: object, dtype: str) -> Value:
    if dtype == "bool":
        return bool(v)
    return v  # type: ignore[return-value]


def _check(
    db: sqlite3.Connection,
    pg: PostgresHistorian,
    source: str,
    signals: list[tuple[int, str, str]],
    report: TransferReport,
) -> None:
    """Each signal's count in the file equals its count on the server over the file's time range; each signal
    gets the file's value type (the last one written there), which a copy in chunks may have left otherwise."""
    conn = pg._writer()
    with conn.transaction():
        for sid, sig, dtype in signals:
            n, lo, hi = db.execute(
                "SELECT count(*), min(ts), max(ts) FROM sample WHERE signal_id = ?", (sid,)
            ).fetchone()
            row = conn.execute(
                "SELECT count(*) FROM sample x JOIN signal g ON g.id = x.signal_id "
                "WHERE g.path = %s AND x.ts >= %s AND x.ts <= %s",
                (sig, lo if lo is not None else 0, hi if hi is not None else -1),
            ).fetchone()
            got = int(row[0]) if row else 0
            if n and got != n:
                report.mismatches.append(f"{sig}: {n} in the file, {got} on the server")
            conn.execute(
                "INSERT INTO signal (path, dtype) VALUES (%s, %s) ON CONFLICT (path) DO UPDATE SET "
                "dtype = excluded.dtype",
                (sig, dtype),
            )
        row = conn.execute(
            "SELECT position FROM werk_import WHERE source = %s AND what = 'event rows'", (source,)
        ).fetchone()
        copied = int(row[0]) if row else 0
        if copied != report.events:
            report.mismatches.append(f"events: {report.events} in the file, {copied} copied")
    pg._load_signals()
