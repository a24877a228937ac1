"""Live OEE from states and counters, checked against hand-computed ISO 22400-2 arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werk.apps.machine_state.engine import MachineStateTracker, normalise_state

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_worked_example() -> None:
    """One hour observed, ideal cycle 30 s.

    0-10 min disconnected (not planned busy time), 10-50 min running (APT = 2400 s), 50-60 min fault.
    PBT = 3000 s; availability = 2400 / 3000 = 0.8.
    Counters: good 0 -> 70, scrap 5 -> 10: produced = 75, good = 70.
    effectiveness = 75 x 30 / 2400 = 0.9375; quality = 70 / 75 = 0.9333...; OEE = 0.8 x 0.9375 x 0.9333 = 0.7.
    """
    tr = MachineStateTracker("m", 30.0, T0)
    tr.on_count("good_count", 0)
    tr.on_count("scrap_count", 5)
    assert tr.on_state(at(600), "running") is not None
    tr.on_count("good_count", 70)
    tr.on_count("scrap_count", 10)
    change = tr.on_state(at(3000), "fault")
    assert change is not None and change.previous == "running" and change.duration_s == 2400
    k = tr.kpis(at(3600))
    assert k.pbt_s == 3000 and k.apt_s == 2400
    assert k.availability == pytest.approx(0.8)
    assert k.effectiveness == pytest.approx(0.9375)
    assert k.quality == pytest.approx(70 / 75)
    assert k.oee == pytest.approx(0.7)


def test_bad_quality_means_disconnected_and_is_not_counted_as_running() -> None:
    tr = MachineStateTracker("m", 10.0, T0)
    tr.on_state(at(0), "running")
    tr.on_state(at(100), "running", good_quality=False)
    tr.on_state(at(400), "running")
    k = tr.kpis(at(500))
    assert tr.time_in_state == {"running": 200.0, "disconnected": 300.0}
    assert k.availability == pytest.approx(1.0)  # disconnected time is unknown, not downtime


def test_counter_reset_is_not_negative_production() -> None:
    tr = MachineStateTracker("m", 10.0, T0)
    for v in (100, 110, 3, 8):  # PLC restarted between 110 and 3
        tr.on_count("good_count", v)
    assert tr.good.total == 10 + 3 + 5


def test_no_time_no_ratio() -> None:
    k = MachineStateTracker("m", None, T0).kpis(T0)
    assert (k.availability, k.effectiveness, k.quality, k.oee) == (None, None, None, None)


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Executing", "running"),
        ("NotExecuting", "idle"),
        ("OutOfService", "fault"),
        ("RUNNING", "running"),
        ("weird", "unknown"),
    ],
)
def test_state_names_from_machinery_and_werk(raw: str, state: str) -> None:
    assert normalise_state(raw) == state
