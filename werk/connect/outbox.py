"""Store-and-forward: a bounded, ordered, on-disk queue for what could not be sent yet.

While the next hop (a broker, the bus of another process) is away, items wait here in SQLite so that neither a
long outage nor a restart of werk loses them; they leave in the order they came, and only once the next hop has
acknowledged them. At the limit the oldest items give way and are counted (``dropped``, kept across restarts),
never silently: a plant engineer would rather lose last week's data than today's.

Why SQLite and not a file of lines: appends, ordered reads and deletes of the acknowledged head are transactions,
so a crash in the middle leaves either the old or the new state, never a torn record.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

Item = tuple[str, bytes]  # (topic or key, payload)


class Outbox(Protocol):
    dropped: int

    def push(self, items: Sequence[Item]) -> None: ...

    def peek(self, n: int) -> list[Item]: ...

    def pop(self, n: int) -> None: ...

    def __len__(self) -> int: ...


class MemoryOutbox:
    """The same contract in memory: for tests, and where losing the queue on restart is acceptable."""

    def __init__(self, max_items: int = 100_000) -> None:
        self.max_items = max_items
        self.dropped = 0
        self._q: deque[Item] = deque()

    def push(self, items: Sequence[Item]) -> None:
        self._q.extend(items)
        over = len(self._q) - self.max_items
        for _ in range(max(0, over)):
            self._q.popleft()
        self.dropped += max(0, over)

    def peek(self, n: int) -> list[Item]:
        return [self._q[i] for i in range(min(n, len(self._q)))]

    def pop(self, n: int) -> None:
        for _ in range(min(n, len(self._q))):
            self._q.popleft()

    def __len__(self) -> int:
        return len(self._q)


class SqliteOutbox:
    def __init__(self, path: str | Path, max_items: int = 1_000_000) -> None:
        self.path = Path(path)
        self.max_items = max_items
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, payload BLOB)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER)")
        row = self._db.execute("SELECT value FROM outbox_meta WHERE key = 'dropped'").fetchone()
        self.dropped = int(row[0]) if row else 0
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def push(self, items: Sequence[Item]) -> None:
        if not items:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO outbox (topic, payload) VALUES (?, ?)", items)
            self._count += len(items)
            over = self._count - self.max_items
            if over > 0:
                db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (over,)
                )
                self._count -= over
                self.dropped += over
                db.execute(
                    "INSERT INTO outbox_meta VALUES ('dropped', ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                    (self.dropped, self.dropped),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._count = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            raise

    def peek(self, n: int) -> list[Item]:
        rows = self._db.execute("SELECT topic, payload FROM outbox ORDER BY seq LIMIT ?", (n,)).fetchall()
        return [(str(t), bytes(p)) for t, p in rows]

    def pop(self, n: int) -> None:
        cur = self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (n,)
        )
        self._count -= cur.rowcount

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()
