"""Where a plant-wide app's part counting stands, per counter, stored with the bookings it made.

The orders and the stock book parts as the increase of an asset's counter (``good_count``, ``scrap_count``) over
the last value they saw. In a cluster (``AppContext.from_log``) a batch of samples the killed holder of
``lease.plant`` handled, and did not acknowledge, comes again to the next holder, which would book its increases
a second time; and the next holder, starting without a last value, would not book the increase between the
last sample its predecessor saw and its own first. A mark (the counter's last sample time and value) written in
the same transaction as the bookings it led to answers both: a sample at or before the mark was counted already
and is passed by, and the mark's value is the baseline of the next. The mark moves with every sample, and is
stored with the next bookings: a batch that booked nothing leaves the stored mark where it was, and handling it
again from there gives the same result.

Each app keeps its marks in a table of its own (:func:`marks_migration`), in its own database.
"""

from __future__ import annotations

from datetime import datetime

from werk.core.model import from_micros, to_micros
from werk.store.app_database import AppDatabase, Transaction
from werk.store.migrations import Migration


def marks_migration(version: int, table: str) -> Migration:
    """The numbered migration that makes an app's marks table ``table``."""
    return Migration(
        version,
        "where the part counting stands per counter: a batch of samples handled again books nothing",
        f"""
        CREATE TABLE {table} (
            asset TEXT NOT NULL,
            signal TEXT NOT NULL,
            ts INTEGER NOT NULL,
            value INTEGER NOT NULL,
            PRIMARY KEY (asset, signal)
        )
        """,
    )


class CounterMarks:
    """The marks of one app (table ``table``): :meth:`load` them, ask :meth:`counted` of each counter sample,
    :meth:`move` past it, :meth:`save` with the bookings."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._marks: dict[tuple[str, str], tuple[datetime, int]] = {}
        self._moved: set[tuple[str, str]] = set()

    def load(self, db: AppDatabase) -> None:
        rows = db.query(f"SELECT asset, signal, ts, value FROM {self.table}")
        self._marks = {(a, s): (from_micros(ts), int(v)) for a, s, ts, v in rows}
        self._moved.clear()

    def counted(self, asset: str, signal: str, ts: datetime) -> bool:
        """Whether the sample of ``signal`` at ``ts`` is at or before the mark: counted already."""
        mark = self._marks.get((asset, signal))
        return mark is not None and ts <= mark[0]

    def baseline(self, asset: str, signal: str) -> int | None:
        """The counter's value at the mark: what its next increase is over, for an instance that saw none yet."""
        mark = self._marks.get((asset, signal))
        return None if mark is None else mark[1]

    def move(self, asset: str, signal: str, ts: datetime, value: int) -> None:
        self._marks[(asset, signal)] = (ts, value)
        self._moved.add((asset, signal))

    def save(self, tx: Transaction) -> None:
        """The marks moved since the last save, in the caller's transaction (the one of the bookings)."""
        rows = [
            (a, s, to_micros(self._marks[(a, s)][0]), self._marks[(a, s)][1]) for a, s in sorted(self._moved)
        ]
        if rows:
            tx.executemany(
                f"INSERT INTO {self.table} (asset, signal, ts, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (asset, signal) DO UPDATE SET ts = excluded.ts, value = excluded.value",
                rows,
            )
        self._moved.clear()
