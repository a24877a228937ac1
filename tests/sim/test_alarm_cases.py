"""The simulator's alarm cases, off unless asked for: a chattering sensor, a stale signal and a compressor trip
that starves the machines behind it, each seen by the alarm engine as the alarm it should raise, and the KPI report
finding the chattering alarm and the flood."""

from __future__ import annotations

from datetime import UTC, datetime

from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.kpi import Record, report
from werk.apps.alarms.settings import AlarmsSettings, expand
from werk.config import demo_config_path, parse_config
from werk.core.model import Sample
from werk.sim.config import AlarmCases
from werk.sim.factory import Factory

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MACHINES = ["cnc-1", "cnc-2", "lathe-1", "lathe-2", "press-1", "robot-1", "assembly-1"]


def factory(cases: dict[str, object] | None) -> Factory:
    config = parse_config(demo_config_path().read_text(), "demo.yaml")
    sim = config.section("sim").model_copy(
        update={"acceleration": 1.0, "tick_s": 1.0, "alarm_cases": AlarmCases.model_validate(cases or {})}
    )
    return Factory(config.model_copy(update={"sim": sim}), T0)


def test_without_cases_the_simulator_plays_exactly_as_before() -> None:
    a, b = factory(None), factory({"stale": [{"asset": "cnc-1", "signal": "load", "start_s": 10_000}]})
    for _ in range(600):
        assert a.step() == b.step()


def test_a_chattering_sensor_a_stale_signal_and_a_trip_raise_their_alarms() -> None:
    f = factory(
        {
            "chatter": [
                {
                    "asset": "press-1",
                    "signal": "vibration",
                    "center": 2.0,
                    "amplitude": 0.3,
                    "period_s": 10,
                    "every_s": 3600,
                    "for_s": 120,
                    "start_s": 60,
                }
            ],
            "stale": [{"asset": "cnc-1", "signal": "load", "every_s": 3600, "for_s": 300, "start_s": 600}],
            "trip": [
                {"asset": "compressor-1", "starves": MACHINES, "every_s": 3600, "for_s": 300, "start_s": 1200}
            ],
        }
    )
    config = parse_config(demo_config_path().read_text(), "demo.yaml")
    refs = {r.name: r for r in config.assets()}
    settings = AlarmsSettings.model_validate(
        {
            "templates": {},
            "suppress_in": [],
            "assets": {
                **{
                    m: {"starved": {"signal": "state", "type": "discrete", "value": "starved"}}
                    for m in MACHINES
                },
                "press-1": {
                    "vibration-high": {"signal": "vibration", "type": "high", "limit": 2.0},
                    "starved": {"signal": "state", "type": "discrete", "value": "starved"},
                },
                "cnc-1": {
                    "load-stale": {"signal": "load", "type": "stale", "timeout_s": 60},
                    "starved": {"signal": "state", "type": "discrete", "value": "starved"},
                },
                "compressor-1": {
                    "tripped": {"signal": "state", "type": "discrete", "value": "fault", "priority": "high"}
                },
            },
        }
    )
    eng = AlarmEngine(expand(config, settings))
    eng.start(T0)
    rows = []
    starving: set[str] = set()
    for _ in range(1800):
        changed = f.step()
        rows += eng.feed([Sample(refs[a].signal_path(s), f.now, v) for a, s, v in changed])
        rows += eng.tick(f.now)
        if f.sim_seconds == 1203:
            starving = {m for m in MACHINES if eng.entries[f"{m}:starved"].state.active}
    raised = [r for r in rows if r.action == "activate"]
    first = {r.alarm: (r.ts - T0).total_seconds() for r in reversed(raised)}
    # the stale signal: frozen from 600 s, stale 60 s later
    assert 659 <= first["cnc-1:load-stale"] <= 661  # last change at 599 s
    # the trip at 1200 s: the compressor faults and every machine behind it starves at once
    assert 1200 <= first["compressor-1:tripped"] <= 1202
    assert starving == set(MACHINES)
    recs = [Record(r.ts, r.alarm, r.action == "activate") for r in rows if r.action in ("activate", "clear")]
    rep = report(recs)
    assert "press-1:vibration-high" in [c.tag for c in rep.chattering]
    # the chattering sensor alone floods its 10-minute period (12 raises in 120 s)
    assert rep.peak_10min > 10 and rep.flood_periods >= 1
    (s,) = [s for s in rep.suggestions if s.tag == "press-1:vibration-high"]
    # an off-delay a little over one swing makes the episode's dozen raises one alarm
    assert s.activations - s.kept_with_off_delay >= 10 and s.off_delay_s <= 60
