"""Fixtures of the security tests: werk's users and audit trail on each backend (tests/app_databases.py,
tests/postgres.py)."""

from tests.app_databases import app_db, app_db_opener
from tests.postgres import pg_database, pg_url

__all__ = ["app_db", "app_db_opener", "pg_database", "pg_url"]
