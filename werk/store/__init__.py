"""Historian and event log behind one interface; SQLite by default."""

from werk.config.model import HistorianConfig
from werk.store.base import Bucket, Historian
from werk.store.sqlite import SQLiteHistorian


def open_historian(config: HistorianConfig) -> Historian:
    """Build and open the backend the config names."""
    if config.backend == "sqlite":
        h = SQLiteHistorian(config.path)
        h.open()
        return h
    raise ValueError(f"unknown historian backend {config.backend!r}")  # pragma: no cover - config forbids it


__all__ = ["Bucket", "Historian", "SQLiteHistorian", "open_historian"]
