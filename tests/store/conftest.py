"""Fixtures of the store tests: the PostgreSQL server (tests/postgres.py)."""

from tests.postgres import pg_database, pg_url

__all__ = ["pg_database", "pg_url"]
