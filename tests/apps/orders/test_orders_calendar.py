"""The plant's calendar as the scheduler's unavailability (werk.apps.orders.calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from werk.apps.orders.calendar import closed, working_time
from werk.apps.orders.schedule import Job, Operation, Problem, solve, violations
from werk.config.model import PlannedDowntimeConfig, PlantConfig, ShiftConfig


def plant(**kw: object) -> PlantConfig:
    """A plant calendar alone (the tree does not matter here): one early shift on weekdays with a break."""
    shift = ShiftConfig(
        name="early",
        start="06:00",
        end="14:00",
        days=["mon", "tue", "wed", "thu", "fri"],
        breaks=[("10:00", "10:30")],
    )
    fields: dict[str, object] = {"shifts": [shift], "holidays": [], "planned_downtime": [], **kw}
    return PlantConfig.model_construct(enterprise="acme", timezone="Europe/Berlin", **fields)


MON = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday; Berlin is UTC+1 in December


def test_shifts_less_breaks_holidays_and_planned_downtime_are_the_working_time() -> None:
    p = plant(
        holidays=[date(2026, 12, 8)],
        planned_downtime=[
            PlannedDowntimeConfig(
                start=MON + timedelta(days=2, hours=7), end=MON + timedelta(days=2, hours=8)
            )
        ],
    )
    spans = working_time(p, MON, MON + timedelta(days=3))
    h = lambda d, hh, mm=0: MON + timedelta(days=d, hours=hh, minutes=mm)  # noqa: E731
    assert spans == [
        (h(0, 5), h(0, 9)),  # Monday 06:00-10:00 local
        (h(0, 9, 30), h(0, 13)),  # after the break, to 14:00 local
        # Tuesday is a holiday; Wednesday's 08:00-09:00 local is planned downtime
        (h(2, 5), h(2, 7)),
        (h(2, 8), h(2, 9)),
        (h(2, 9, 30), h(2, 13)),
    ]
    shut = closed(p, MON, MON + timedelta(days=1))
    assert shut == [(MON, h(0, 5)), (h(0, 9), h(0, 9, 30)), (h(0, 13), MON + timedelta(days=1))]


def test_a_plant_without_shifts_works_around_the_clock() -> None:
    p = plant(shifts=[])
    assert closed(p, MON, MON + timedelta(days=2)) == []


def test_the_plan_puts_work_inside_the_shifts() -> None:
    p = plant()
    shut = closed(p, MON, MON + timedelta(days=3))
    minute = lambda t: int((t - MON).total_seconds() // 60)  # noqa: E731
    windows = [(minute(a), minute(b)) for a, b in shut]
    job = Job("A", (Operation("A.0", {"M": 200}), Operation("A.1", {"M": 100})))
    problem = Problem((job,), unavailable={"M": windows})
    plan = solve(problem, time_limit_s=5)
    assert violations(problem, plan) == []
    # 200 min cannot fit before the break (06:00-10:00 is 240 min: it can), then 100 min after it
    assert plan.slots["A.0"].start == minute(MON + timedelta(hours=5))
    assert plan.slots["A.1"].start == minute(MON + timedelta(hours=9, minutes=30))
