"""A request's time range: refused where local calendars would overflow, with the parameter it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werk.core.period import period
from werk.errors import InputError


def test_a_timestamp_near_year_one_is_refused_naming_its_parameter_before_any_default_is_computed() -> None:
    def default(z: datetime) -> datetime:
        return z - timedelta(days=7)

    with pytest.raises(InputError, match="outside 1900 to 8999") as caught:
        period(None, datetime(1, 1, 2, tzinfo=UTC), default_start=default)
    assert caught.value.loc == ("query", "end")
    with pytest.raises(InputError) as caught:
        period(datetime(86, 11, 10, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), default_start=default)
    assert caught.value.loc == ("query", "start")
    a, z = period(None, datetime(2026, 1, 8, tzinfo=UTC), default_start=default)
    assert (a, z) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))
