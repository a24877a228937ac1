"""Numbered schema migrations, applied in order at open, recorded in ``werk_schema``.

Why not Alembic: the historian's hot path is hand-written SQL (upserts into a WITHOUT ROWID table, integer
timestamps), not an ORM, and its schema is a handful of tables. A list of (version, SQL) per backend gives the same
guarantees (ordered, recorded, transactional, refuses a database newer than the code) with no env.py to ship.
"""

from __future__ import annotations

#: migration 5's tables; werk.twin.service_store runs the same text (IF NOT EXISTS) when it opens a file first
AAS_SERVICES_SQL = """
        -- what clients register with the Part 2 registry, discovery and file server, IF NOT EXISTS because
        -- werk.twin.service_store may create the tables in a file the historian has not opened yet
        CREATE TABLE IF NOT EXISTS aas_descriptor (
            kind        TEXT NOT NULL,     -- shell or submodel
            id          TEXT NOT NULL,
            json        TEXT NOT NULL,     -- the descriptor as the client sent it (Part 2 JSON)
            updated_ts  INTEGER NOT NULL,  -- microseconds since 1970-01-01 UTC
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE IF NOT EXISTS aas_asset_link (
            aas_id      TEXT NOT NULL,
            name        TEXT NOT NULL,
            value       TEXT NOT NULL,
            json        TEXT NOT NULL,     -- the SpecificAssetId as posted
            updated_ts  INTEGER NOT NULL,
            PRIMARY KEY (aas_id, name, value)
        );
        CREATE INDEX IF NOT EXISTS aas_asset_link_asset ON aas_asset_link (name, value);
        CREATE TABLE IF NOT EXISTS aas_package (
            id          TEXT PRIMARY KEY,
            file_name   TEXT NOT NULL,
            aas_ids     TEXT NOT NULL,     -- JSON list of the shell ids the package holds
            data        BLOB NOT NULL,     -- the .aasx file as uploaded
            updated_ts  INTEGER NOT NULL
        );
        """

#: migration 6's tables; werk.twin.persistence runs the same text (IF NOT EXISTS) when it opens a file first
AAS_TWIN_SQL = """
        -- values set by PATCH $value since their submodel was last stored whole in aas_object: a value write
        -- stores the value alone, not its whole submodel. werk.twin.persistence applies the rows in seq order on
        -- load and folds them into aas_object at the next start (no semicolons here: the runner splits on them)
        CREATE TABLE IF NOT EXISTS aas_value (
            submodel_id TEXT NOT NULL,
            path        TEXT NOT NULL,     -- the element's idShortPath, as the request named it
            value       TEXT,              -- the Property's value in its XSD lexical form, NULL for none
            seq         INTEGER NOT NULL,  -- order of the writes, across paths
            updated_ts  INTEGER NOT NULL,  -- microseconds since 1970-01-01 UTC
            PRIMARY KEY (submodel_id, path)
        );
        -- AASX supplementary files (thumbnails, File element attachments) of the twin, by package path
        CREATE TABLE IF NOT EXISTS aas_file (
            name         TEXT PRIMARY KEY,  -- the path File elements and thumbnails name, e.g. /aasx/files/a.pdf
            content_type TEXT NOT NULL,
            data         BLOB NOT NULL,
            updated_ts   INTEGER NOT NULL
        );
        """

#: migration 7: where several werk processes serve one twin (``server.workers``), each follows what the others commit
#: (werk.twin.follow): ``seq`` numbers every value row written alone, in commit order, and never goes back (a value
#: row's seq is taken from here, so a follower reads the rows past the last seq it applied); ``epoch`` counts the
#: transactions that changed whole objects (a follower that does not write them reloads when it moves)
AAS_SYNC_SQL = """
        CREATE TABLE IF NOT EXISTS aas_sync (
            id    INTEGER PRIMARY KEY CHECK (id = 0),
            seq   INTEGER NOT NULL,
            epoch INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO aas_sync (id, seq, epoch) SELECT 0, coalesce(max(seq), 0), 0 FROM aas_value;
        CREATE INDEX IF NOT EXISTS aas_value_seq ON aas_value (seq)
        """

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
    (
        2,
        "aas objects (werk.twin.persistence)",
        """
        -- one row per AAS Identifiable (shell, submodel, concept description) as Part 1 JSON, IF NOT EXISTS because
        -- werk.twin.persistence may create the table in a file the historian has not opened yet
        CREATE TABLE IF NOT EXISTS aas_object (
            id          TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            json        TEXT NOT NULL,
            updated_ts  INTEGER NOT NULL       -- microseconds since 1970-01-01 UTC
        );
        """,
    ),
    (
        3,
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
    ),
    (
        4,
        "maintenance work orders",
        """
        CREATE TABLE work_order (
            id       TEXT PRIMARY KEY,
            asset    TEXT NOT NULL,
            status   TEXT NOT NULL,
            created  INTEGER NOT NULL,
            body     TEXT NOT NULL                -- the whole order as JSON (see werk.core.maintenance)
        );
        CREATE INDEX work_order_asset ON work_order (asset, created);
        CREATE INDEX work_order_status ON work_order (status, created);
        """,
    ),
    (
        5,
        "aas registry descriptors, discovery asset links, aasx packages (werk.twin.service_store)",
        AAS_SERVICES_SQL,
    ),
    (6, "aas property values written alone, aasx supplementary files (werk.twin.persistence)", AAS_TWIN_SQL),
    (7, "aas commit sequence, for processes that share a twin (werk.twin.follow)", AAS_SYNC_SQL),
]
