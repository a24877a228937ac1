"""The apps' tables on each backend for the tests that hold a store to its contract: ``app_db`` is an opener (each
call a new handle on the same tables, as after a restart), once on a werk file and once on a PostgreSQL schema of
its own (tests/postgres.py: skipped with a reason where no server is reachable, required under CI=true)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from werk.store.app_database import AppDatabase, SQLiteAppDatabase
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.sqlite_file import SQLiteFile

Opener = Callable[[], AppDatabase]


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the apps' database on one backend; everything opened is closed at the end of the test."""
    opened: list[SQLiteFile | PostgresAppDatabase] = []
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None

    def open_db() -> AppDatabase:
        if url is None:
            file = SQLiteFile(tmp_path / "werk.db")
            file.open()
            opened.append(file)
            return SQLiteAppDatabase(file)
        db = PostgresAppDatabase(url)
        db.open()
        opened.append(db)
        return db

    yield open_db
    for o in reversed(opened):
        o.close()


@pytest.fixture
def app_db(app_db_opener: Opener) -> AppDatabase:
    """One open handle on the apps' database of one backend."""
    return app_db_opener()
