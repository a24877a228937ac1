"""Span algebra shared by the OEE time model and the scheduler's calendar, on microseconds and on datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werk.core.spans import clip, intersect, subtract, union


def test_union_joins_overlapping_and_touching_spans_and_drops_empty_ones() -> None:
    assert union([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]


def test_subtract_cuts_holes_out_of_every_span() -> None:
    assert subtract([(0, 10), (20, 30)], [(2, 4), (8, 22), (29, 40)]) == [(0, 2), (4, 8), (22, 29)]
    assert subtract([(0, 10)], []) == [(0, 10)]


def test_intersect_and_clip_keep_what_both_cover() -> None:
    assert intersect([(0, 5), (10, 15)], [(3, 12)]) == [(3, 5), (10, 12)]
    assert clip([(0, 5), (6, 8), (9, 20)], 4, 10) == [(4, 5), (6, 8), (9, 10)]


def test_datetimes_go_through_the_same_algebra() -> None:
    t0 = datetime(2026, 3, 29, tzinfo=UTC)
    h = [t0 + timedelta(hours=i) for i in range(10)]
    working = union([(h[6], h[9]), (h[1], h[3]), (h[2], h[4])])
    assert working == [(h[1], h[4]), (h[6], h[9])]
    assert subtract([(h[0], h[9])], working) == [(h[0], h[1]), (h[4], h[6])]
