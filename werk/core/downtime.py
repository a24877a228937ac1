"""Downtime records: a stop of an asset and its reason history. Shared by the OEE engine, the store and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from werk.core.model import to_micros


@dataclass
class Classification:
    ts: datetime
    who: str
    reason: str
    previous: str | None
    comment: str = ""


@dataclass
class Stop:
    asset: str
    start: datetime
    first_state: str
    end: datetime | None = None
    states: list[str] = field(default_factory=list)
    reason: str | None = None
    reason_source: str = ""  # "auto" | "operator"
    planned: bool = False
    micro: bool = False
    history: list[Classification] = field(default_factory=list)

    @property
    def id(self) -> str:
        """Stable across restarts: the asset and the start instant identify a stop."""
        return f"{self.asset}@{to_micros(self.start)}"

    def duration_s(self, now: datetime) -> float:
        return ((self.end or now) - self.start).total_seconds()

    def status(self, now: datetime, unqualified_after_s: float) -> str:
        if self.reason is not None:
            return "classified"
        return "unqualified" if self.duration_s(now) >= unqualified_after_s else "open"
