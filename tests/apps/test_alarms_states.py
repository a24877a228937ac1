"""The ISA-18.2 state model, transition by transition, and the timing rules on synthetic signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from werk.apps.alarms.conditions import Condition
from werk.apps.alarms.engine import AlarmEngine, UnknownAlarm
from werk.apps.alarms.settings import Alarm, AlarmDefinition
from werk.apps.alarms.states import AlarmState, TransitionError
from werk.core.model import Quality, Sample

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
P = "acme/s/area/line/cell/m1"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def steps(state: AlarmState, *calls: tuple[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for name, args in calls:
        for row in getattr(state, name)(*args):
            out.append((row.action, row.before, row.after))
    return out


def test_an_alarm_goes_unack_acked_normal_when_acknowledged_while_active() -> None:
    a = AlarmState("m1:temp")
    rows = a.condition(at(0), True, 81.0)
    assert [(r.before, r.after, r.annunciated) for r in rows] == [("normal", "unack", True)]
    assert a.acknowledge(at(5), "olga")[0].after == "acked"
    assert a.condition(at(9), False)[0].after == "normal"


def test_an_alarm_that_returns_before_its_acknowledge_waits_in_rtn_unack() -> None:
    a = AlarmState("m1:temp")
    a.condition(at(0), True)
    assert a.condition(at(3), False)[0].after == "rtn_unack"
    row = a.acknowledge(at(4), "olga", "seen")[0]
    assert (row.before, row.after, row.who, row.why) == ("rtn_unack", "normal", "olga", "seen")
    # active again before anyone acknowledged: back to unack, annunciated again
    a.condition(at(5), True)
    a.condition(at(6), False)
    assert a.condition(at(7), True)[0].after == "unack"


def test_a_latching_alarm_stays_latched_until_it_is_reset() -> None:
    a = AlarmState("m1:door", latching=True)
    a.condition(at(0), True)
    a.acknowledge(at(1), "olga")
    assert a.condition(at(2), False)[0].after == "latched"
    assert a.acknowledge(at(3), "olga")[0].after == "normal"
    a.condition(at(4), True)
    assert a.condition(at(5), False)[0].after == "latched"  # unacknowledged and returned: still latched


def test_acknowledging_what_needs_no_acknowledge_is_refused_with_the_state() -> None:
    a = AlarmState("m1:temp")
    with pytest.raises(TransitionError, match="is normal"):
        a.acknowledge(at(0), "olga")
    a.condition(at(1), True)
    a.acknowledge(at(2), "olga")
    with pytest.raises(TransitionError, match="is acked"):
        a.acknowledge(at(3), "olga")


def test_a_timed_shelve_hides_the_alarm_and_expires_with_who_and_why_in_the_journal() -> None:
    a = AlarmState("m1:temp")
    a.condition(at(0), True)
    row = a.shelve_it(at(1), "olga", "sensor being cleaned", at(61))[0]
    assert (row.after, row.who, row.why) == ("shelved", "olga", "sensor being cleaned")
    assert a.shelve is not None and a.shelve.until == at(61)
    # changes under the shelve are followed but not annunciated
    rows = a.condition(at(10), False) + a.condition(at(20), True)
    assert [(r.after, r.annunciated) for r in rows] == [("shelved", False), ("shelved", False)]
    assert a.expire(at(60)) == []
    row = a.expire(at(75))[0]
    # stamped when it expired, back as unack since the condition is active
    assert (row.action, row.ts, row.after, row.annunciated) == ("shelve_expired", at(61), "unack", True)


def test_a_one_shot_shelve_ends_when_the_condition_clears() -> None:
    a = AlarmState("m1:temp")
    with pytest.raises(TransitionError, match="not active"):
        a.shelve_it(at(0), "olga", "chattering", None)
    a.condition(at(1), True)
    a.shelve_it(at(2), "olga", "chattering", None)
    row = a.condition(at(30), False)[0]
    assert (row.before, row.after) == ("shelved", "normal")
    assert a.shelve is None


def test_shelving_needs_a_reason_a_future_end_and_unshelve_brings_an_active_alarm_back() -> None:
    a = AlarmState("m1:temp")
    a.condition(at(0), True)
    with pytest.raises(TransitionError, match="reason"):
        a.shelve_it(at(1), "olga", "  ", at(100))
    with pytest.raises(TransitionError, match="future"):
        a.shelve_it(at(1), "olga", "noise", at(1))
    a.acknowledge(at(1), "olga")
    a.shelve_it(at(2), "olga", "noise", at(100))
    with pytest.raises(TransitionError, match="cannot be shelved"):
        a.shelve_it(at(3), "olga", "again", at(100))
    row = a.unshelve(at(4), "olga")[0]
    assert (row.before, row.after, row.annunciated) == ("shelved", "unack", True)
    with pytest.raises(TransitionError, match="not shelved"):
        a.unshelve(at(5), "olga")


def test_suppression_by_design_hides_activations_and_an_active_alarm_comes_back_unacknowledged() -> None:
    a = AlarmState("m1:temp")
    assert steps(a, ("suppress", (at(0), True, "setup"))) == [("suppress", "normal", "suppressed")]
    rows = a.condition(at(1), True)
    assert [(r.after, r.annunciated) for r in rows] == [("suppressed", False)]
    row = a.suppress(at(2), False, "running")[0]
    assert (row.action, row.after, row.annunciated) == ("unsuppress", "unack", True)
    assert a.suppress(at(3), False) == []  # no change, no row


def test_out_of_service_wins_over_everything_and_needs_a_reason() -> None:
    a = AlarmState("m1:temp")
    with pytest.raises(TransitionError, match="reason"):
        a.remove_from_service(at(0), "sam", "")
    a.remove_from_service(at(0), "sam", "transmitter replaced")
    a.suppress(at(1), True, "setup")
    a.condition(at(2), True)
    assert a.state == "out_of_service"
    with pytest.raises(TransitionError, match="cannot be shelved"):
        a.shelve_it(at(3), "olga", "x", at(50))
    with pytest.raises(TransitionError, match="out of service already"):
        a.remove_from_service(at(3), "sam", "again")
    assert a.return_to_service(at(4), "sam")[0].after == "suppressed"
    with pytest.raises(TransitionError, match="in service"):
        a.return_to_service(at(5), "sam")
    a.suppress(at(6), False, "running")
    assert a.state == "unack"


def cond(**kw: Any) -> Condition:
    return Condition(AlarmDefinition.model_validate({"signal": "x", **kw}))


def run(c: Condition, values: list[tuple[float, Any]]) -> list[tuple[float, bool]]:
    out = []
    for t, v in values:
        ch = c.feed(t, v, True)
        if ch is not None:
            out.append((ch[0], ch[1]))
    return out


def test_a_deadband_keeps_a_value_wobbling_at_the_limit_from_chattering() -> None:
    wobble = [(float(i), 80.5 if i % 2 else 79.5) for i in range(20)] + [(20.0, 77.0)]
    assert len(run(cond(type="high", limit=80), list(wobble))) == 20
    assert run(cond(type="high", limit=80, deadband=2), wobble) == [(1.0, True), (20.0, False)]
    low = [(0.0, 9.0), (1.0, 10.5), (2.0, 9.5), (3.0, 11.5)]
    assert run(cond(type="low", limit=10, deadband=1), low) == [(0.0, True), (3.0, False)]


def test_an_on_delay_drops_short_excursions_and_stamps_the_alarm_when_the_delay_ran_out() -> None:
    c = cond(type="high", limit=80, on_delay_s=5)
    assert run(c, [(0.0, 85), (3.0, 85), (4.0, 70)]) == []  # 4 s above: too short
    assert run(c, [(10.0, 85), (12.0, 86), (16.0, 86)]) == [(15.0, True)]
    # the clock alone ends a delay when no sample comes
    c2 = cond(type="high", limit=80, on_delay_s=5)
    assert c2.feed(0.0, 85, True) is None
    assert c2.due() == 5.0 and c2.tick(4.0) is None
    ch = c2.tick(7.0)
    assert ch is not None and ch[:2] == (5.0, True)


def test_an_off_delay_holds_the_alarm_through_short_returns() -> None:
    c = cond(type="low", limit=10, off_delay_s=10)
    assert run(c, [(0.0, 5), (1.0, 12), (5.0, 5), (6.0, 12), (20.0, 12)]) == [(0.0, True), (16.0, False)]


def test_deviation_rate_discrete_bit_and_bad_quality_conditions() -> None:
    assert run(cond(type="deviation", limit=2, setpoint=50), [(0, 51), (1, 53), (2, 47.5), (3, 49)]) == [
        (1, True),
        (3, False),
    ]
    assert run(cond(type="rate", limit=1.0), [(0, 10), (1, 10.5), (2, 13), (4, 13.5)]) == [
        (2, True),
        (4, False),
    ]
    assert run(cond(type="discrete", value="fault"), [(0, "running"), (1, "fault"), (2, "idle")]) == [
        (1, True),
        (2, False),
    ]
    assert run(cond(type="discrete", value=True), [(0, False), (1, 1), (2, 0)]) == [(1, True), (2, False)]
    assert run(cond(type="discrete", bit=3), [(0, 0b0100), (1, 0b1100), (2, 0b0111)]) == [
        (1, True),
        (2, False),
    ]
    q = cond(type="bad_quality", on_delay_s=2)
    assert q.feed(0, 1.0, False) is None and q.feed(1, 1.0, False) is None
    assert q.feed(3, 1.0, False) == (2.0, True, 1.0)
    c = cond(type="high", limit=1)
    assert c.feed(0, "n/a", True) is None and c.feed(1, 99, False) is None and c.skipped == 2


def test_a_signal_without_samples_goes_stale_and_a_sample_brings_it_back() -> None:
    c = cond(type="stale", timeout_s=30)
    c.feed(0.0, 1.0, True)
    assert c.due() == 30.0 and c.tick(29.0) is None
    ch = c.tick(31.0)
    assert ch is not None and ch[:2] == (30.0, True)
    assert c.feed(40.0, 1.0, True) == (40.0, False, 1.0)


def test_definitions_are_refused_when_incomplete_with_what_is_missing() -> None:
    for kw, msg in [
        ({"type": "high"}, "needs a limit"),
        ({"type": "deviation", "limit": 1}, "exactly one of setpoint"),
        ({"type": "discrete"}, "exactly one of value and bit"),
        ({"type": "stale"}, "timeout_s"),
        ({"type": "rate", "limit": 0}, "above 0"),
    ]:
        with pytest.raises(ValueError, match=msg):
            AlarmDefinition.model_validate({"signal": "x", **kw})


def alarm(name: str, **kw: Any) -> Alarm:
    d = AlarmDefinition.model_validate(kw)
    return Alarm(
        id=f"m1:{name}",
        name=name,
        asset="m1",
        asset_path=P,
        area="area",
        path=f"{P}/{d.signal}",
        setpoint_path=f"{P}/{d.setpoint_signal}" if d.setpoint_signal else None,
        suppress_in=frozenset(d.suppress_in or ["setup", "maintenance"]),
        d=d,
    )


def test_the_engine_routes_samples_suppresses_by_machine_state_and_ticks_delays() -> None:
    eng = AlarmEngine(
        [
            alarm("temp", signal="temperature", type="high", limit=80, on_delay_s=2),
            alarm("dev", signal="speed", type="deviation", limit=5, setpoint_signal="speed_sp"),
            alarm("quiet", signal="noise", type="stale", timeout_s=10),
        ]
    )
    eng.start(at(0))

    def s(sig: str, t: float, v: Any, q: Quality = Quality.GOOD) -> Sample:
        return Sample(f"{P}/{sig}", at(t), v, q)

    assert eng.feed([s("temperature", 1, 90), s("other", 1, 1)]) == []
    rows = eng.tick(at(4))
    assert [(r.alarm, r.ts, r.after) for r in rows] == [("m1:temp", at(3), "unack")]
    # setup suppresses the asset's alarms by design; running brings the active one back
    rows = eng.feed([s("machine_state", 5, "setup")])
    assert {(r.alarm, r.after) for r in rows} == {
        ("m1:temp", "suppressed"),
        ("m1:dev", "suppressed"),
        ("m1:quiet", "suppressed"),
    }
    rows = eng.feed([s("machine_state", 6, "running")])
    assert {(r.alarm, r.after) for r in rows} == {
        ("m1:temp", "unack"),
        ("m1:dev", "normal"),
        ("m1:quiet", "normal"),
    }
    assert eng.feed([s("speed_sp", 7, 100), s("speed", 7, 106)])[0].alarm == "m1:dev"
    rows = eng.tick(at(12))  # no sample of noise since start: stale after 10 s
    assert [(r.alarm, r.ts) for r in rows] == [("m1:quiet", at(10))]
    eng.acknowledge("m1:temp", at(13), "olga")
    with pytest.raises(UnknownAlarm, match="no alarm 'm1:nope'"):
        eng.acknowledge("m1:nope", at(13), "olga")
    rows = eng.shelve("m1:dev", at(14), "olga", "calibration", at(20)) + eng.tick(at(21))
    assert [r.action for r in rows] == ["shelve", "shelve_expired"]
