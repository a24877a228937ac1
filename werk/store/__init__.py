"""Historian and event log behind one interface, and the handle the apps keep their own tables through: in the werk
file, or both on a PostgreSQL server."""

from werk.config.model import HistorianConfig
from werk.store.app_database import AppDatabase, SQLiteAppDatabase, Transaction
from werk.store.base import Bucket, Historian
from werk.store.migrations import Migration
from werk.store.sqlite import SQLiteHistorian
from werk.store.sqlite_file import SQLiteFile


def open_file(config: HistorianConfig) -> SQLiteFile:
    """The werk file the config names, open (the historian's and every app's tables live in it)."""
    f = SQLiteFile(config.path, config.synchronous)
    f.open()
    return f


def open_historian(config: HistorianConfig, file: SQLiteFile | None = None) -> Historian:
    """The historian the config names, open: on the PostgreSQL server of ``url`` for ``backend: postgresql``,
    else in the werk file (``file`` when given, the platform's shared one)."""
    if config.backend == "postgresql":
        # with its minute rollups (werk.store.postgres_rollup): the same answers, long ranges faster
        from werk.store.postgres_rollup import RollupHistorian

        assert config.url is not None  # HistorianConfig refuses postgresql without one
        pg = RollupHistorian(config.url)
        pg.open()
        return pg
    h = SQLiteHistorian(file if file is not None else config.path, config.synchronous)
    h.open()
    return h


def open_app_database(config: HistorianConfig, file: SQLiteFile | None) -> AppDatabase:
    """Where the apps (and werk's users and audit trail) keep their tables, open: the PostgreSQL server of ``url``
    for ``backend: postgresql`` (every process of the plant shares them), else the werk file ``file`` (needed
    then, unused on PostgreSQL)."""
    if config.backend == "postgresql":
        from werk.store.app_postgres import PostgresAppDatabase

        assert config.url is not None  # HistorianConfig refuses postgresql without one
        db = PostgresAppDatabase(config.url)
        db.open()
        return db
    assert file is not None, "the apps' tables of backend sqlite are in the werk file: open it first"
    return SQLiteAppDatabase(file)


__all__ = [
    "AppDatabase",
    "Bucket",
    "Historian",
    "Migration",
    "SQLiteAppDatabase",
    "SQLiteFile",
    "SQLiteHistorian",
    "Transaction",
    "open_app_database",
    "open_file",
    "open_historian",
]
