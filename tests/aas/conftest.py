"""Fixtures of the AAS tests: the PostgreSQL server (tests/postgres.py) and a plant's store on each backend
(tests/app_databases.py ``plant_store``), for the tests of the twin's persistence that run on both."""

from tests.app_databases import plant_store
from tests.postgres import pg_database, pg_url

__all__ = ["pg_database", "pg_url", "plant_store"]
