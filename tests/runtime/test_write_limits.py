"""Writes to a machine stay within the limits the plant file or the machine's own model gives; a number for a
signal whose range nobody gives is refused; every refusal is audited, and nothing is sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import plant_config
from werk.config.model import WriteLimits
from werk.errors import ConnectorError, WriteRefused
from werk.runtime.platform import Platform

WRITABLE = "                          writable: [feed_override]   # a supervisor may change it through the twin's API\n"
LIMITED = (
    "                          writable: [feed_override]\n"
    "                          limits: {feed_override: {min: 10, max: 120, step: 5}}\n"
)


def _limited(text: str) -> str:
    assert WRITABLE in text
    text = text.replace(WRITABLE, LIMITED, 1)  # cnc-1's binding, the first of the demo
    # a meter's register that werk may write, with no range anywhere
    meter = (
        '{connector: meters, root: "unit=1", signals: &meter {power: "hr:0 float32", energy: "hr:2 float64"}}'
    )
    assert meter in text
    return text.replace(meter, meter[:-1] + ", writable: [power]}", 1)


def test_limits_name_the_limit_they_refuse_by() -> None:
    lim = WriteLimits(min=10, max=120, step=5)
    assert lim.refusal(85, "plant file") is None and lim.refusal(10.0, "plant file") is None
    assert lim.refusal(1e308, "plant file") == "1e+308 is above the maximum 120 (plant file)"
    assert lim.refusal(5, "x") == "5 is below the minimum 10 (x)"
    assert lim.refusal(82, "x") == "82 is not on the step 5 from 10 (x)"
    assert lim.refusal(True, "x") == "True is not a number, and the signal takes numbers (x)"
    assert WriteLimits(step=0.1).refusal(0.3, "x") is None  # 3 steps, as near as a double gets
    for bad in ({}, {"min": 2, "max": 1}, {"step": 0}):
        with pytest.raises(ValidationError):
            WriteLimits(**bad)


async def test_a_write_outside_the_plant_files_limits_is_refused_and_audited(tmp_path: Path) -> None:
    config = plant_config(tmp_path, patch=_limited)
    platform = Platform(config)
    audit = platform.bus.subscribe_events({"audit"})
    feed = config.asset("cnc-1").signal_path("feed_override")
    power = config.asset("cnc-1").signal_path("power")
    refused: list[tuple[str, Any, str]] = [
        (feed, 1e308, "1e+308 is above the maximum 120 (limits in the plant file)"),
        (feed, 82, "82 is not on the step 5 from 10 (limits in the plant file)"),
        (feed, "fast", "'fast' is not a number"),
        (power, 5.0, "no range is known for this signal"),
    ]
    for path, value, reason in refused:
        with pytest.raises(WriteRefused, match=re.escape(reason)):
            await platform.write_signal(path, value, "sam")
    # within the limits it goes to the connector, which is not connected here: failed, not refused
    with pytest.raises(ConnectorError, match="not connected"):
        await platform.write_signal(feed, 85, "sam")
    results = [e.data["result"] for batch in [await audit.get() for _ in range(5)] for e in batch]
    assert [r.split(":")[0] for r in results] == ["refused"] * 4 + ["failed"]
    assert results[0] == "refused: 1e+308 is above the maximum 120 (limits in the plant file)"
