"""Half-open spans of time ``(start, end)``, in integer microseconds or as datetimes: clipping, union, subtraction
and intersection of lists of them. Pure.

Shared by the apps that reason about time a plant is planned, working or closed (the OEE time model, the
scheduler's calendar), so each adds and takes away time the same way. A span with ``end <= start`` is empty;
every result is sorted by start, its spans disjoint and non-empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T", int, datetime)


def clip(spans: Iterable[tuple[T, T]], start: T, end: T) -> list[tuple[T, T]]:
    """The parts of ``spans`` inside [start, end), in their order."""
    return [(max(s, start), min(e, end)) for s, e in spans if min(e, end) > max(s, start)]


def union(spans: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """The time any of ``spans`` covers: overlapping or touching spans joined, in order."""
    out: list[tuple[T, T]] = []
    for s, e in sorted(span for span in spans if span[1] > span[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def subtract(base: Sequence[tuple[T, T]], holes: Sequence[tuple[T, T]]) -> list[tuple[T, T]]:
    """The time of ``base`` that no hole covers; both sorted by start (as :func:`union` leaves them)."""
    out: list[tuple[T, T]] = []
    for s, e in base:
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
        if cur < e:
            out.append((cur, e))
    return out


def intersect(a: Sequence[tuple[T, T]], b: Sequence[tuple[T, T]]) -> list[tuple[T, T]]:
    """The time both cover, of two sorted lists of disjoint spans (one two-pointer pass)."""
    out: list[tuple[T, T]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out
