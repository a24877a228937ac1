"""Numbered schema migrations, applied in order at open, recorded in ``werk_schema``.

Why not Alembic: the historian's hot path is hand-written SQL (upserts into a WITHOUT ROWID table, integer
timestamps), not an ORM, and its schema is a handful of tables. A list of (version, SQL) per backend gives the same
guarantees (ordered, recorded, transactional, refuses a database newer than the code) with no env.py to ship.
"""

from __future__ import annotations

SQLITE_MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "signals, samples, events",
        """
        CREATE TABLE signal (
            id      INTEGER PRIMARY KEY,
            path    TEXT NOT NULL UNIQUE,
            dtype   TEXT NOT NULL DEFAULT 'float'
        );
        -- value has no declared type on purpose: SQLite then keeps ints as INTEGER, floats as REAL, text as TEXT
        CREATE TABLE sample (
            signal_id INTEGER NOT NULL,
            ts        INTEGER NOT NULL,            -- microseconds since 1970-01-01 UTC
            value,
            quality   INTEGER NOT NULL DEFAULT 0,  -- 0 good, 1 uncertain, 2 bad
            PRIMARY KEY (signal_id, ts)
        ) WITHOUT ROWID;
        CREATE TABLE event (
            id      INTEGER PRIMARY KEY,
            ts      INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            source  TEXT NOT NULL,
            data    TEXT NOT NULL
        );
        CREATE INDEX event_ts ON event (ts);
        CREATE INDEX event_source_ts ON event (source, ts);
        """,
    ),
]
