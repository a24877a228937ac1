"""Connections to a PostgreSQL server as werk's stores keep them: one write connection under a lock, connected again
when it was lost, and one autocommit read connection per thread (:class:`werk.store.connections.Readers`).

The historian (:mod:`werk.store.postgres`) and the apps' tables (:mod:`werk.store.app_postgres`) both connect this
way: a lost connection fails the call in progress with a :class:`~werk.errors.StoreError` naming the server, and the
next call connects again, so a database restart costs the calls made while it was away, not the process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from werk.errors import StoreError
from werk.store.connections import OneWriter, Readers

log = logging.getLogger(__name__)

Conn = psycopg.Connection[tuple[Any, ...]]


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


class PgConnections(OneWriter[Conn]):
    """The connections of one store on the server at ``url``; ``what`` names the store in messages ("the
    historian"). Thread-safe; :meth:`close` waits (up to :data:`werk.store.connections.CLOSE_WAIT_S`) for reads
    still running in other threads and refuses later ones."""

    def __init__(self, url: str, what: str) -> None:
        self.url = url
        self.where = redact(url)
        self.what = what
        self.write_lock = threading.RLock()
        self._w = None
        self._readers = Readers(self.where, what)

    def _connect(self, application_name: str | None = None) -> Conn:
        """A new autocommit connection; with ``application_name``, named so in ``pg_stat_activity``."""
        named: dict[str, Any] = {} if application_name is None else {"application_name": application_name}
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10, **named)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot connect to PostgreSQL for {self.what}: {exc}") from None

    def _writer(self) -> Conn:
        """The write connection (hold the lock), connected again if the last one was lost."""
        if self._readers.closed:
            raise StoreError(f"{self.where}: {self.what} is closed")
        if self._w is None or self._w.closed or self._w.broken:
            if self._w is not None:
                log.warning("postgres.reconnect what=%s where=%s", self.what, self.where)
                with contextlib.suppress(Exception):
                    self._w.close()
            self._w = None
            self._w = self._connect()
        return self._w

    @contextlib.contextmanager
    def _read(self) -> Iterator[Conn]:
        """This thread's read connection, inside the guard ``close`` waits for."""
        with self._readers.guard():
            yield self._readers.connection(self._connect, lambda c: not (c.closed or c.broken))
