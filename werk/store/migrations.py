"""Numbered schema migrations per owner, applied in order at open, recorded in ``werk_migration``.

Each owner of tables in the werk file (the historian, the twin, every app) brings its own numbered list, so an app
added by a plug-in brings its tables without a number in anyone else's list. Why not Alembic: the historian's hot
path is hand-written SQL (upserts into a WITHOUT ROWID table, integer timestamps), not an ORM, and each owner's
schema is a handful of tables. A list of (version, SQL) per owner gives the same guarantees (ordered, recorded,
transactional, refuses a database newer than the code) with no env.py to ship.

Files written before owners had lists of their own recorded one global sequence in ``werk_schema``; a migration
that was one of those steps says so in ``legacy``, and is marked applied without running when the file's
``werk_schema`` has that step. The file then gets ``werk_schema`` version :data:`OWNERS_SCHEMA`, so a werk of
that era refuses it instead of writing into tables it no longer knows.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the ``werk_schema`` version that means "migrations per owner, in werk_migration"
OWNERS_SCHEMA = 8


@dataclass(frozen=True)
class Migration:
    """One step of an owner's schema: ``sql`` is statements separated by semicolons (none inside them);
    ``whole`` are statements that hold semicolons themselves (a PL/pgSQL function body), run after them."""

    version: int
    description: str
    sql: str
    legacy: int | None = None  # the step of the single global sequence this one was (werk_schema.version)
    whole: tuple[str, ...] = ()

    def statements(self) -> list[str]:
        """The statements of this step, in the order they run."""
        return [stmt for stmt in self.sql.split(";") if stmt.strip()] + list(self.whole)


def unique_column(version: int, description: str, table: str, column: str) -> Migration:
    """The step that adds the text column ``column`` to ``table`` with a unique index on it (rows without a value
    are not compared): a key written once, whoever writes it."""
    return Migration(
        version,
        description,
        f"ALTER TABLE {table} ADD COLUMN {column} TEXT; "
        f"CREATE UNIQUE INDEX {table}_{column} ON {table} ({column})",
    )


def check_sequence(owner: str, migrations: tuple[Migration, ...]) -> None:
    """An owner's versions run 1, 2, 3, ... without gaps: a plug-in with a hole in its list is a bug to catch
    at start, not a table that never gets made."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{owner}: migration versions must be 1, 2, 3, ... in order, got {versions}")


HISTORIAN_MIGRATIONS = (
    Migration(
        1,
        "signals, samples, events",
        """
        CREATE TABLE IF NOT EXISTS signal (
            id      INTEGER PRIMARY KEY,
            path    TEXT NOT NULL UNIQUE,
            dtype   TEXT NOT NULL DEFAULT 'float'
        );
        -- value has no declared type on purpose: SQLite then keeps ints as INTEGER, floats as REAL, text as TEXT
        CREATE TABLE IF NOT EXISTS sample (
            signal_id INTEGER NOT NULL,
            ts        INTEGER NOT NULL,            -- microseconds since 1970-01-01 UTC
            value,
            quality   INTEGER NOT NULL DEFAULT 0,  -- 0 good, 1 uncertain, 2 bad
            PRIMARY KEY (signal_id, ts)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS event (
            id      INTEGER PRIMARY KEY,
            ts      INTEGER NOT NULL,
            kind    TEXT NOT NULL,
            source  TEXT NOT NULL,
            data    TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_ts ON event (ts);
        CREATE INDEX IF NOT EXISTS event_source_ts ON event (source, ts)
        """,
        legacy=1,
    ),
    Migration(
        2,
        "an event's key, stored once",
        """
        ALTER TABLE event ADD COLUMN key TEXT;
        CREATE UNIQUE INDEX IF NOT EXISTS event_key ON event (key) WHERE key IS NOT NULL
        """,
    ),
)


# --- the twin (werk.aas.backend): applied by whichever of its stores opens the file first ------------------------------

AAS_OBJECTS_SQL = """
        -- one row per AAS Identifiable (shell, submodel, concept description) as Part 1 JSON
        CREATE TABLE IF NOT EXISTS aas_object (
            id          TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            json        TEXT NOT NULL,
            updated_ts  INTEGER NOT NULL       -- microseconds since 1970-01-01 UTC
        )
        """

AAS_SERVICES_SQL = """
        -- what clients register with the Part 2 registry, discovery and file server, IF NOT EXISTS because
        -- werk.aas.backend.service_store may create the tables in a file the historian has not opened yet
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

AAS_TWIN_SQL = """
        -- values set by PATCH $value since their submodel was last stored whole in aas_object: a value write
        -- stores the value alone, not its whole submodel. werk.aas.backend.persistence applies the rows in seq order on
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

#: where several werk processes serve one twin (``server.workers``), each follows what the others commit
#: (werk.aas.backend.follow): ``seq`` numbers every value row written alone, in commit order, and never goes back (a value
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

AAS_MIGRATIONS = (
    Migration(1, "aas objects", AAS_OBJECTS_SQL, legacy=2),
    Migration(
        2, "aas registry descriptors, discovery asset links, aasx packages", AAS_SERVICES_SQL, legacy=5
    ),
    Migration(3, "aas property values written alone, aasx supplementary files", AAS_TWIN_SQL, legacy=6),
    Migration(4, "aas commit sequence, for processes that share a twin", AAS_SYNC_SQL, legacy=7),
)


# --- the historian on PostgreSQL (werk.store.postgres) -----------------------------------------------------------------

#: the same tables as :data:`HISTORIAN_MIGRATIONS` on a PostgreSQL server. ``sample`` is range-partitioned by
#: ``ts`` (one partition per day, made ahead and on demand by werk.store.postgres), so retention drops whole
#: partitions. A value is in exactly one of ``f`` (float), ``i`` (int, bool) and ``s`` (text): PostgreSQL has no
#: untyped column, and three typed ones keep an int an int and text text, as SQLite's one untyped column does.
PG_HISTORIAN_MIGRATIONS = (
    Migration(
        1,
        "signals, samples partitioned by day, events",
        """
        CREATE TABLE IF NOT EXISTS signal (
            id      integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            path    text NOT NULL UNIQUE,
            dtype   text NOT NULL DEFAULT 'float'
        );
        CREATE TABLE IF NOT EXISTS sample (
            signal_id integer NOT NULL,
            ts        bigint NOT NULL,             -- microseconds since 1970-01-01 UTC
            f         double precision,
            i         bigint,
            s         text,
            quality   smallint NOT NULL DEFAULT 0, -- 0 good, 1 uncertain, 2 bad
            PRIMARY KEY (signal_id, ts)
        ) PARTITION BY RANGE (ts);
        CREATE TABLE IF NOT EXISTS event (
            id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            ts      bigint NOT NULL,
            kind    text NOT NULL,
            source  text NOT NULL,
            data    text NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_ts ON event (ts);
        CREATE INDEX IF NOT EXISTS event_source_ts ON event (source, ts)
        """,
    ),
    Migration(
        2,
        "an event's key, stored once",
        """
        ALTER TABLE event ADD COLUMN IF NOT EXISTS key text;
        CREATE UNIQUE INDEX IF NOT EXISTS event_key ON event (key) WHERE key IS NOT NULL
        """,
    ),
)


# --- the twin and the AAS services on PostgreSQL (werk.aas.backend.pg_twin, werk.aas.backend.service_store) --------

#: the tables of :data:`AAS_MIGRATIONS` on a PostgreSQL server, made in one step (a server never held an older
#: layout). ``ord`` numbers rows in the order they were first written, as SQLite's rowid does in the werk file: the
#: API's paging order, kept by an update. No semicolons in the comments: the runner splits on them.
PG_AAS_MIGRATIONS = (
    Migration(
        1,
        "aas objects, values written alone, files, commit sequence, registry, discovery, aasx packages",
        """
        CREATE TABLE IF NOT EXISTS aas_object (
            id          text PRIMARY KEY,
            kind        text NOT NULL,
            json        text NOT NULL,      -- the Identifiable as Part 1 JSON
            updated_ts  bigint NOT NULL,    -- microseconds since 1970-01-01 UTC
            ord         bigint GENERATED ALWAYS AS IDENTITY UNIQUE
        );
        CREATE TABLE IF NOT EXISTS aas_deleted (id text PRIMARY KEY, deleted_ts bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS aas_value (
            submodel_id text NOT NULL,
            path        text NOT NULL,
            value       text,
            seq         bigint NOT NULL,
            updated_ts  bigint NOT NULL,
            PRIMARY KEY (submodel_id, path)
        );
        CREATE INDEX IF NOT EXISTS aas_value_seq ON aas_value (seq);
        CREATE TABLE IF NOT EXISTS aas_file (
            name         text PRIMARY KEY,
            content_type text NOT NULL,
            data         bytea NOT NULL,
            updated_ts   bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS aas_sync (
            id    integer PRIMARY KEY CHECK (id = 0),
            seq   bigint NOT NULL,
            epoch bigint NOT NULL
        );
        INSERT INTO aas_sync (id, seq, epoch) VALUES (0, 0, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS aas_descriptor (
            kind        text NOT NULL,
            id          text NOT NULL,
            json        text NOT NULL,
            updated_ts  bigint NOT NULL,
            ord         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE IF NOT EXISTS aas_asset_link (
            aas_id      text NOT NULL,
            name        text NOT NULL,
            value       text NOT NULL,
            json        text NOT NULL,
            updated_ts  bigint NOT NULL,
            ord         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            PRIMARY KEY (aas_id, name, value)
        );
        CREATE INDEX IF NOT EXISTS aas_asset_link_asset ON aas_asset_link (name, value);
        CREATE TABLE IF NOT EXISTS aas_package (
            id          text PRIMARY KEY,
            file_name   text NOT NULL,
            aas_ids     text NOT NULL,
            data        bytea NOT NULL,
            updated_ts  bigint NOT NULL,
            ord         bigint GENERATED ALWAYS AS IDENTITY UNIQUE
        )
        """,
    ),
)

#: the twin's and the AAS services' tables, in the order ``werk store migrate`` copies them
AAS_TABLES = (
    "aas_object",
    "aas_deleted",
    "aas_value",
    "aas_file",
    "aas_descriptor",
    "aas_asset_link",
    "aas_package",
)
