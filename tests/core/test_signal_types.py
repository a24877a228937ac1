"""Declared signal types: a value becomes the type its binding declares, or is refused by name; text stays text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from werk.core.model import SignalType, Value, coerce, datetime_text


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("0001", "str", "0001"),
        ("123456.20", "str", "123456.20"),
        (123456.2, "str", "123456.2"),
        (7, "str", "7"),
        (True, "str", "true"),
        ("0012", "int", 12),
        (" -3 ", "int", -3),
        (4.0, "int", 4),
        ("33", "float", 33.0),
        ("1.5e3", "float", 1500.0),
        (2, "float", 2.0),
        ("TRUE", "bool", True),
        ("0", "bool", False),
        (1, "bool", True),
        ("2026-01-02T04:04:05.5+01:00", "datetime", "2026-01-02T03:04:05.500000Z"),
    ],
)
def test_a_value_becomes_the_declared_type(value: Value, kind: SignalType, expected: Value) -> None:
    got = coerce(value, kind)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        ("many", "int", "not a whole number"),
        (4.5, "int", "not a whole number"),
        ("12abc", "float", "not a number"),
        ("nan", "float", "not a number"),
        (float("inf"), "float", "not finite"),
        (10**400, "float", "beyond a double"),
        (True, "int", "is a boolean"),
        ("yes please", "bool", "not a boolean"),
        (2, "bool", "not a boolean"),
        ("2026-01-02T03:04:05", "datetime", "no UTC offset"),
        (1767323045, "datetime", "not ISO 8601"),
    ],
)
def test_a_value_that_is_not_the_declared_type_is_refused_by_name(
    value: Value, kind: SignalType, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        coerce(value, kind)


def test_datetime_text_is_fixed_width_utc_so_text_order_is_time_order() -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    texts = [datetime_text(t + timedelta(microseconds=us)) for us in (0, 1, 999_999)]
    assert texts[0] == "2026-01-02T03:04:05.000000Z" and texts == sorted(texts)
    assert {len(x) for x in texts} == {27}
    cet = timezone(timedelta(hours=1))
    assert datetime_text(datetime(2026, 1, 2, 4, 4, 5, tzinfo=cet)) == texts[0]
    assert datetime_text(datetime(2026, 1, 2, 3, 4, 5)) == texts[0]  # naive: UTC, as OPC UA's DateTime is
    assert coerce(t, "datetime") == coerce(t, "str") == texts[0]
