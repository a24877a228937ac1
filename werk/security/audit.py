"""The audit trail: an append-only, hash-chained journal of who did what, when, from where, and what changed.

IEC 62443-3-3 SR 2.8 (auditable events), SR 2.9 (audit storage) and SR 3.9 (protection of audit information).
Every row holds the SHA-256 of the row before it and its own (over every column but its own hash), so a row
edited or deleted in the database breaks the chain at that row: :func:`verify` names it. Inside werk the table is
append-only by SQL triggers (an UPDATE or DELETE aborts; on PostgreSQL a TRUNCATE too); the chain is what catches
someone who edits the werk file with another tool, or the server's table as its owner (the triggers can be
dropped, the hashes cannot be made to agree without rewriting every row after the edit, and an export kept
elsewhere shows the old hashes).

Where it lives: in the werk file, or with ``historian.backend: postgresql`` on that server, where every ``werk
api`` replica appends to the one chain (:meth:`AuditLog.record` serializes the writers of the table).

Rows are written before the answer that reports the action goes out: an acknowledged write is always on record.
What is recorded: sign-in, failed sign-in, sign-out, every API write (method, path, status), machine writes (the
signal, the value before and after, the outcome), user, role, grant and token changes, refused credentials.
Secrets never are: not a password, not a token, not a session id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from werk.core.model import from_micros, to_micros, utcnow
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

OWNER = "werk.audit"
MIGRATIONS = (
    Migration(
        1,
        "the audit trail: append-only, hash-chained",
        """
        CREATE TABLE audit_log (
            seq     INTEGER PRIMARY KEY,        -- 1, 2, 3, ... without gaps
            ts      INTEGER NOT NULL,           -- microseconds since the epoch, UTC
            who     TEXT NOT NULL,              -- user name, or '' when nobody was identified
            client  TEXT NOT NULL,              -- address the request came from, 'cli' for the command line
            action  TEXT NOT NULL,              -- signin, signin.failed, api.write, machine.write, user.add, ...
            target  TEXT NOT NULL,              -- what it was done to: a path, a user, a signal
            before  TEXT,                       -- JSON, what it was
            after   TEXT,                       -- JSON, what it became (or the outcome)
            prev    TEXT NOT NULL,              -- hash of the row before ('' for the first)
            hash    TEXT NOT NULL               -- SHA-256 over prev and this row's columns
        )
        """,
    ),
)

COLUMNS = "seq, ts, who, client, action, target, before, after, prev, hash"

# statements with semicolons inside cannot be migrations (they are split on ';'): made at open, idempotently
_APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
)
_APPEND_ONLY_POSTGRES = (
    # several replicas starting at once take turns (an advisory lock), and find the guard made by the first
    "SELECT pg_advisory_xact_lock(hashtext('werk.audit append-only'))",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
    "CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)


@dataclass(frozen=True)
class AuditRow:
    seq: int
    ts: int
    who: str
    client: str
    action: str
    target: str
    before: str | None
    after: str | None
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ts"] = from_micros(self.ts).isoformat()
        return d


def row_hash(prev: str, seq: int, ts: int, who: str, client: str, action: str, target: str, before: str | None, after: str | None) -> str:  # fmt: skip
    """The chain's hash of one row: SHA-256 over the previous hash and the row's columns, as canonical JSON."""
    body = json.dumps([prev, seq, ts, who, client, action, target, before, after], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class AuditLog:
    """The journal (owner :data:`OWNER`) in the werk file, or on the plant's PostgreSQL server where every replica
    appends to the one chain. Thread-safe; :meth:`record` commits before it returns."""

    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)
        self.db.migrate(OWNER, MIGRATIONS)
        guard = _APPEND_ONLY_POSTGRES if self.db.dialect == "postgresql" else _APPEND_ONLY_SQLITE
        with self.db.transaction() as tx:
            for stmt in guard:
                tx.execute(stmt)

    def record(
        self,
        action: str,
        target: str,
        *,
        who: str = "",
        client: str = "",
        before: Any = None,
        after: Any = None,
    ) -> int:
        """Append one row (committed when this returns); its sequence number."""
        b, a = _json(before), _json(after)
        # the last row is read while the table's other writers wait (in this process, in a worker, the command
        # line, another replica), so none can append the same sequence number between the read and the insert
        with self.db.transaction(serialize="audit_log") as tx:
            last = tx.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, "")
            ts = to_micros(utcnow())
            h = row_hash(prev, seq, ts, who, client, action, target, b, a)
            tx.execute(
                f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, who, client, action, target, b, a, prev, h),
            )
        return seq

    def rows(self, after_seq: int = 0, limit: int | None = None) -> list[AuditRow]:
        """Rows after ``after_seq`` in order (at most ``limit``)."""
        sql = f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq"
        args: tuple[int, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return [AuditRow(*r) for r in self.db.query(sql, args)]

    def iter_rows(self, batch: int = 5000) -> Iterator[AuditRow]:
        after = 0
        while rows := self.rows(after, batch):
            yield from rows
            after = rows[-1].seq

    def verify(self) -> list[str]:
        """What is wrong with the chain, one message per broken row naming it ([] when intact)."""
        problems: list[str] = []
        prev_hash, expected = "", 1
        for r in self.iter_rows():
            if r.seq != expected:
                problems.append(f"row {expected}: missing (the next row is {r.seq}); rows were deleted")
            if r.prev != prev_hash:
                problems.append(f"row {r.seq}: its link to row {r.seq - 1} does not match that row's hash")
            if (
                row_hash(r.prev, r.seq, r.ts, r.who, r.client, r.action, r.target, r.before, r.after)
                != r.hash
            ):
                problems.append(
                    f"row {r.seq}: its content does not match its hash; the row was edited "
                    f"({r.action} {r.target!r} by {r.who or '-'})"
                )
            prev_hash, expected = r.hash, r.seq + 1
        return problems

    def export(self, fmt: str) -> str:
        """The whole journal as ``json`` (a list of rows) or ``csv`` (a header line, then a row per line)."""
        rows = [r.as_dict() for r in self.iter_rows()]
        if fmt == "json":
            return json.dumps(rows, ensure_ascii=False, indent=1)
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(AuditRow.__dataclass_fields__))
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()
