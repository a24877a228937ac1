"""Moving the twin and the AAS services' tables of a werk file to PostgreSQL (part of ``werk store migrate --to
postgresql://...``), rows counted on both sides, for a plant that moves to ``historian.backend: postgresql``.

The server gets the tables of :data:`werk.store.migrations.PG_AAS_MIGRATIONS` first; then each of
:data:`werk.store.migrations.AAS_TABLES` the file has is copied whole, as the apps' tables are
(:func:`werk.store.transfer_apps.copy_table`: only into an empty table, left alone when the counts already agree,
reported when they differ), in the order its rows were first written, so the API pages the twin as it did. Values
stored alone keep their seq, and the server's ``aas_sync`` moves past them (a new epoch too: a werk process already
following the server loads the twin again). Stop every werk process on the file first: a change made meanwhile
may be missed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from werk.errors import StoreError
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.migrations import AAS_TABLES, PG_AAS_MIGRATIONS
from werk.store.transfer_apps import AppsReport, copy_table, has_table


def transfer_twin(path: Path, db: PostgresAppDatabase) -> AppsReport:
    """Copy the twin's and the AAS services' tables of the werk file at ``path`` into ``db`` (open)."""
    if not path.exists():
        raise StoreError(f"{path}: no such werk file")
    lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    report = AppsReport()
    try:
        db.migrate("aas", PG_AAS_MIGRATIONS)
        for table in AAS_TABLES:
            if has_table(lite, table):
                copy_table(lite, db, table, report, order_by="rowid")
    finally:
        lite.close()
    if any(report.copied.values()):
        with db.transaction() as tx:
            tx.execute(
                "UPDATE aas_sync SET seq = greatest(seq, (SELECT coalesce(max(seq), 0) FROM aas_value)), "
                "epoch = epoch + 1 WHERE id = 0"
            )
    return report
