"""Fixtures of the store tests: the PostgreSQL server (tests/postgres.py), the apps' tables on each backend."""

from tests.app_databases import app_db, app_db_opener, plant_store
from tests.postgres import pg_database, pg_url

__all__ = ["app_db", "app_db_opener", "pg_database", "pg_url", "plant_store"]
