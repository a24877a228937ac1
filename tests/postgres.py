"""The PostgreSQL server of the machine (127.0.0.1:5432, trust auth) for the tests that need one: a database per
test run (``werk_test_<random>``, dropped at the end), a schema per test inside it, so tests start empty and
leave nothing behind. ``WERK_TEST_PG`` names another server (a libpq URL without a database)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import need

SERVER = os.environ.get("WERK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def _reachable() -> str | None:
    try:
        with psycopg.connect(f"{SERVER}/postgres", connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {SERVER} ({str(exc).strip().splitlines()[0]})"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a database made for this test run, dropped at its end."""
    why = _reachable()
    need(why is None, why or "")
    name = f"werk_test_{secrets.token_hex(4)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload]
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[call-overload]


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose tables land in a schema of their own (made empty for this test, dropped after it)."""
    schema = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")  # type: ignore[call-overload]
    try:
        yield f"{pg_database}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_database, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[call-overload]
