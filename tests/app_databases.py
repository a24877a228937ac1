"""The apps' tables on each backend for the tests that hold a store to its contract (``app_db_opener``, ``app_db``)
and for the end-to-end tests chosen to run on both (``plant_store``). ``app_db_opener`` is an opener (each
call a new handle on the same tables, as after a restart), once on a werk file and once on a PostgreSQL schema of
its own (tests/postgres.py: skipped with a reason where no server is reachable, required under CI=true)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from werk.config.model import WerkConfig
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


PlantStore = Callable[[WerkConfig], WerkConfig]


@pytest.fixture(params=["sqlite", "postgresql"])
def plant_store(request: pytest.FixtureRequest) -> PlantStore:
    """Puts a plant's store on one backend: the werk file as the plant file gives it, or ``historian.backend:
    postgresql`` on a schema of its own, where the historian and the apps' tables then live. For the few end-to-end
    tests chosen to run on both (the suites run on SQLite; this is their PostgreSQL variant, not everything twice)."""
    if request.param == "sqlite":
        return lambda config: config
    url = request.getfixturevalue("pg_url")

    def on_postgresql(config: WerkConfig) -> WerkConfig:
        historian = config.historian.model_copy(update={"backend": "postgresql", "url": url})
        return config.model_copy(update={"historian": historian})

    return on_postgresql
