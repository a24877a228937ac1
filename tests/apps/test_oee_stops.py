"""Stops from state sequences: grouping, micro-stops, automatic reasons, unqualified stops, reclassification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werk.apps.oee.stops import StopTracker, classify, pareto

T0 = datetime(2026, 5, 4, 6, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def feed(tr: StopTracker, seq: list[tuple[float, str]]) -> dict[str, object]:
    stops = {}
    for t, state in seq:
        for s in tr.on_state(at(t), state):
            stops[s.id] = s
    return stops


def test_breakdown_repair_and_restart_are_one_stop() -> None:
    tr = StopTracker("m", micro_stop_s=60)
    stops = feed(
        tr, [(0, "running"), (100, "fault"), (400, "maintenance"), (1300, "setup"), (1500, "running")]
    )
    (stop,) = stops.values()
    assert stop.states == ["fault", "maintenance", "setup"]  # type: ignore[attr-defined]
    assert stop.duration_s(at(9999)) == 1400  # type: ignore[attr-defined]
    assert stop.reason is None and not stop.micro  # type: ignore[attr-defined]
    assert stop.status(at(1500), 300) == "unqualified"  # type: ignore[attr-defined]


def test_short_stop_is_a_micro_stop_with_its_reason() -> None:
    tr = StopTracker("m", micro_stop_s=60)
    stops = list(
        feed(tr, [(0, "running"), (10, "idle"), (40, "running"), (50, "starved"), (80, "running")]).values()
    )
    assert [(s.micro, s.reason) for s in stops] == [(True, "micro-stop"), (True, "starved")]


def test_self_explaining_stops_get_automatic_reasons_and_planned_flag() -> None:
    tr = StopTracker("m", micro_stop_s=10, planned_reasons=frozenset({"planned-stop"}))
    stops = list(
        feed(tr, [(0, "setup"), (600, "running"), (700, "planned_stop"), (2000, "running")]).values()
    )
    assert [(s.reason, s.reason_source, s.planned) for s in stops] == [
        ("changeover", "auto", False),
        ("planned-stop", "auto", True),
    ]


def test_disconnection_ends_a_stop_and_is_not_one() -> None:
    tr = StopTracker("m")
    stops = feed(
        tr, [(0, "running"), (5, "disconnected"), (500, "fault"), (900, "disconnected"), (950, "running")]
    )
    (stop,) = stops.values()
    assert (stop.start, stop.end) == (at(500), at(900))  # type: ignore[attr-defined]


def test_reclassification_keeps_history_and_pareto_follows() -> None:
    tr = StopTracker("m", micro_stop_s=0)
    stops = list(
        feed(tr, [(0, "running"), (100, "fault"), (700, "running"), (800, "idle"), (900, "running")]).values()
    )
    now = at(1000)
    assert [(r["reason"], r["count"]) for r in pareto(stops, now, 300)] == [("unqualified", 2)]
    classify(stops[0], "mechanical", "anna", at(950), planned=False)
    classify(stops[0], "tooling", "boss", at(960), planned=False, comment="broken insert")
    assert [(c.who, c.previous, c.reason) for c in stops[0].history] == [
        ("anna", None, "mechanical"),
        ("boss", "mechanical", "tooling"),
    ]
    rows = pareto(stops, now, 300)
    assert rows[0] == {"reason": "tooling", "count": 1, "duration_s": 600.0}


def test_a_stop_that_ended_without_a_reason_is_unqualified_not_open() -> None:
    """A 100 s stop that ended waits for a reason ("unqualified"); only a stop still going on and younger than
    the threshold is "open"."""
    tr = StopTracker("m", micro_stop_s=0)
    ended, going = list(feed(tr, [(0, "running"), (800, "idle"), (900, "running"), (950, "fault")]).values())
    assert ended.status(at(10_000), 300) == "unqualified"
    assert going.status(at(1000), 300) == "open" and going.status(at(1300), 300) == "unqualified"
    assert [r["reason"] for r in pareto([ended, going], at(1000), 300)] == ["unqualified", "open"]
