"""The read side of a store's connections: one connection per thread, reads counted so that closing waits for them.

Both stores (the SQLite werk file, :mod:`werk.store.sqlite_file`, and the PostgreSQL historian,
:mod:`werk.store.postgres`) keep one write connection of their own and give each reading thread a connection of
its own (a connection is not shared between threads). Closing must not pull a connection from under a read in
another thread, and a read after closing must fail with a message rather than reopen anything: :class:`Readers`
does that part, the same for both, and :class:`OneWriter` closes the two sides together.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from werk.errors import StoreError

CLOSE_WAIT_S = 30.0
"""How long closing waits for reads still running in other threads before it refuses to close."""


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class Readers(Generic[C]):
    """Per-thread read connections and the count of reads running (see the module docstring).

    ``where`` and ``what`` name the store in errors ("<where>: <what> is closed")."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        self.closed = True
        self._cond = threading.Condition()
        self._active = 0
        self._local = threading.local()
        self._conns: list[C] = []
        self._conns_lock = threading.Lock()

    def opened(self) -> None:
        """Reads are allowed from now on."""
        self.closed = False

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """A read in progress: :meth:`shut` waits for it; raises :class:`StoreError` once closed."""
        with self._cond:
            if self.closed:
                raise StoreError(f"{self.where}: {self.what} is closed")
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def connection(self, make: Callable[[], C], usable: Callable[[C], bool] = lambda _: True) -> C:
        """This thread's connection, made (by ``make``) on first use or when it is no longer ``usable``."""
        conn: C | None = getattr(self._local, "conn", None)
        if conn is None or not usable(conn):
            conn = make()
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def shut(self, writer_open: bool) -> bool:
        """Refuse new reads and wait (up to :data:`CLOSE_WAIT_S`) for those running; False when there was nothing
        to close (closed already and no writer open). Raises :class:`StoreError` when reads do not end in time."""
        with self._cond:
            if self.closed and not writer_open:
                return False
            self.closed = True
            if not self._cond.wait_for(lambda: self._active == 0, timeout=CLOSE_WAIT_S):
                raise StoreError(f"{self.where}: {self._active} reads still running; not closed")
        return True

    def close_connections(self) -> None:
        """Close every thread's connection (after :meth:`shut`); the next read after reopening makes new ones."""
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()


class OneWriter(Generic[C]):
    """A store's connections as both stores keep them (see the module docstring): ``_w``, the write connection (None
    while closed), used under ``write_lock``, and ``_readers``, each reading thread's own."""

    write_lock: threading.RLock
    _w: C | None
    _readers: Readers[C]

    def close(self) -> None:
        """Close after the reads still running in other threads; later calls are refused."""
        if not self._readers.shut(writer_open=self._w is not None):
            return
        with self.write_lock:
            if self._w is not None:
                self._w.close()
                self._w = None
            self._readers.close_connections()
