"""Alarm expressions over several signals: what they compute, what they refuse (never eval), and an expression
alarm in the engine that waits for every input and goes unknown on a BAD one."""

from __future__ import annotations

import pytest

from tests.apps.test_alarms_states import P, at
from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.expressions import ExpressionError, parse
from werk.apps.alarms.settings import Alarm, AlarmDefinition
from werk.core.model import Quality, Sample


def test_expressions_compute_comparisons_logic_arithmetic_and_the_allowed_functions() -> None:
    e = parse("temperature > 70 and load < 10 or not running")
    assert e.signals == {"temperature", "load", "running"}
    assert e({"temperature": 75, "load": 5, "running": True}) is True
    assert e({"temperature": 65, "load": 5, "running": True}) is False
    assert e({"temperature": 65, "load": 5, "running": False}) is True
    assert parse("abs(a - b) > 2 * c")({"a": 1, "b": 5, "c": 1.5}) is True
    assert parse("0 < level <= 10")({"level": 10}) is True and parse("0 < level <= 10")({"level": 0}) is False
    assert parse("max(a, b, 3) == 7")({"a": 7, "b": 1}) is True
    assert parse("state == 'fault' and true")({"state": "fault"}) is True
    assert parse("-x + 1 > 0")({"x": 0.5}) is True


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("__import__('os').system('x')", "this call"),
        ("a.__class__", "Attribute"),
        ("a[0] > 1", "Subscript"),
        ("a ** 2 > 1", "the operator Pow"),
        ("(lambda: 1)() > 0", "this call"),
        ("a in b", "the comparison In"),
        ("open('f')", "this call"),
        ("a >", "not an expression"),
        ("1 > 0", "reads no signal"),
        ("[a] == [1]", "List"),
    ],
)
def test_anything_outside_the_whitelist_is_refused_with_what_it_is(text: str, refused: str) -> None:
    with pytest.raises(ExpressionError, match=refused):
        parse(text)


def test_an_expression_alarm_waits_for_every_input_and_a_bad_one_makes_it_unknown() -> None:
    d = AlarmDefinition.model_validate(
        {
            "type": "expression",
            "expression": "temperature > 70 and load < 10",
            "on_delay_s": 2,
            "priority": "high",
        }
    )
    a = Alarm(
        id="m1:idle-hot",
        name="idle-hot",
        asset="m1",
        asset_path=P,
        area="area",
        path=f"{P}/load",
        setpoint_path=None,
        suppress_in=frozenset(),
        d=d,
        inputs=(("load", f"{P}/load"), ("temperature", f"{P}/temperature")),
    )
    eng = AlarmEngine([a])
    assert eng.feed([Sample(f"{P}/temperature", at(0), 80.0)]) == []  # load unknown yet
    assert eng.feed([Sample(f"{P}/load", at(1), 5.0)]) == []  # on-delay running
    assert eng.feed([Sample(f"{P}/temperature", at(2), 81.0, Quality.BAD)]) == []  # unknown: the delay holds
    rows = eng.feed([Sample(f"{P}/temperature", at(3), 82.0)])
    assert [(r.after, r.ts) for r in rows] == [("unack", at(3))]
    rows = eng.feed([Sample(f"{P}/load", at(4), 50.0)])
    assert [(r.action, r.after) for r in rows] == [("clear", "rtn_unack")]
    assert eng.entries["m1:idle-hot"].cond.skipped == 1


def test_an_expression_definition_is_checked_when_the_plant_file_is_read() -> None:
    with pytest.raises(ValueError, match="column 1: this call"):
        AlarmDefinition.model_validate({"type": "expression", "expression": "exit() > 0"})
    with pytest.raises(ValueError, match="needs expression"):
        AlarmDefinition.model_validate({"type": "expression", "signal": "x", "expression": "x > 1"})
    with pytest.raises(ValueError, match="a high alarm needs signal"):
        AlarmDefinition.model_validate({"type": "high", "limit": 1})
