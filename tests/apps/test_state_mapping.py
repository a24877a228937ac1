"""State mapping from Machinery, PackML, MTConnect words and from rules on signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from werk.apps.machine_state.mapping import StateMapper
from werk.apps.machine_state.settings import StateMappingConfig, StateRule

T0 = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("source", "signal", "word", "state"),
    [
        ("werk", "state", "running", "running"),
        ("werk", "state", "PRODUCING", "running"),
        ("machinery", "item_state", "OutOfService", "fault"),
        ("packml", "packml_state", "Suspended", "starved"),
        ("packml", "packml_state", "Held", "fault"),
        ("mtconnect", "execution", "ACTIVE", "running"),
        ("mtconnect", "execution", "STOPPED", "fault"),
        ("mtconnect", "execution", "UNAVAILABLE", "disconnected"),
        ("werk", "state", "gibberish", "unknown"),
    ],
)
def test_words_map_to_werk_states(source: str, signal: str, word: str, state: str) -> None:
    m = StateMapper(StateMappingConfig(source=source))  # type: ignore[arg-type]
    m.feed(T0, signal, word)
    assert m.state == state


def test_machinery_operation_mode_tells_setup_and_maintenance() -> None:
    m = StateMapper(StateMappingConfig(source="machinery"))
    m.feed(T0, "operation_mode", "Setup")
    assert m.feed(T0, "item_state", "NotExecuting") == "setup"
    assert m.feed(T0, "operation_mode", "Maintenance") == "maintenance"


def test_bad_quality_is_disconnected_until_good_again() -> None:
    m = StateMapper(None)
    m.feed(T0, "state", "running")
    assert m.feed(T0, "state", "running", good=False) == "disconnected"
    assert m.feed(T0, "state", "running") == "running"


def test_rule_must_hold_for_its_duration() -> None:
    """load < 5 for 30 s means idle; otherwise running."""
    rules = [StateRule(signal="load", op="<", value=5, for_s=30, state="idle")]
    m = StateMapper(StateMappingConfig(source="rules", rules=rules, default="running"))
    assert m.feed(T0, "load", 50.0) == "running"
    assert m.feed(T0 + timedelta(seconds=1), "load", 2.0) is None  # condition true, not yet for 30 s
    assert m.tick(T0 + timedelta(seconds=20)) is None
    assert m.tick(T0 + timedelta(seconds=31)) == "idle"
    assert m.feed(T0 + timedelta(seconds=40), "load", 60.0) == "running"
    assert m.feed(T0 + timedelta(seconds=41), "load", "n/a") is None  # text vs number: rule does not hold
