"""Fixtures of the end-to-end tests: the store of the few run on both backends (tests/app_databases.py)."""

from tests.app_databases import plant_store
from tests.postgres import pg_database, pg_url

__all__ = ["pg_database", "pg_url", "plant_store"]
