"""Failures, MTBF and MTTR of an asset from its state timeline (ISO 22400-2, 5.10.6 and 5.10.7). Pure.

A failure event is the asset entering ``fault`` from a state that was not already a breakdown (``fault`` or
``maintenance``); its repair time runs from that instant until the asset runs again. MTBF is the running time in
the range divided by the failures; MTTR the mean repair time of the failures that ended in the range. Time werk
did not see (``disconnected``) counts as neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from werk.core.model import Value, to_micros

BREAKDOWN = frozenset({"fault", "maintenance"})


@dataclass(frozen=True)
class Reliability:
    failures: int
    running_s: float
    mtbf_s: float | None
    mttr_s: float | None


def reliability(changes: Sequence[tuple[int, Value]], start: datetime, end: datetime) -> Reliability:
    """From (microseconds, state) changes, led by the state before ``start`` (the historian's ``changes``)."""
    a, z = to_micros(start), to_micros(end)
    failures = 0
    running_us = 0
    repairs: list[int] = []
    failed_at: int | None = None
    state: str | None = None
    since = a
    for ts, value in [*changes, (z, None)]:
        t = min(max(ts, a), z)
        if state == "running":
            running_us += t - since
        since = t
        if value is None:
            break
        new = str(value)
        if new == "fault" and state not in BREAKDOWN and ts >= a:
            failures += 1
            failed_at = ts
        elif new == "running" and failed_at is not None:
            repairs.append(ts - failed_at)
            failed_at = None
        state = new
    return Reliability(
        failures=failures,
        running_s=running_us / 1e6,
        mtbf_s=running_us / 1e6 / failures if failures else None,
        mttr_s=sum(repairs) / len(repairs) / 1e6 if repairs else None,
    )
