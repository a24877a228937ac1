"""ISO 22400-2 KPIs and the shift calendar, checked against arithmetic done by hand (written out in each test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from werk.apps.oee.kpi import StateInterval, combine, kpis, time_model
from werk.apps.oee.shifts import ShiftCalendar, ShiftDef

BERLIN = "Europe/Berlin"


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


def test_worked_example_one_shift_with_a_break() -> None:
    """Early shift 06:00-14:00 Berlin (UTC+1 in January: 05:00-13:00 UTC), break 09:00-09:30 local.

    POT = 8 h = 28 800 s; PDOT = break 1 800 s; PBT = 27 000 s.
    States (UTC): 05:00-06:00 setup (AUST 3 600), 06:00-12:00 running (APT 21 600, minus the break 08:00-08:30
    UTC = 1 800 s -> 19 800), 12:00-12:30 fault (ADOT 1 800), 12:30-13:00 starved (ADET 1 800).
    APT + AUST + ADOT + ADET = 19 800 + 3 600 + 1 800 + 1 800 = 27 000 = PBT (no unknown time).
    PQ = 600, GQ = 588, PRI = 30 s.
    availability = 19 800 / 27 000 = 0.7333..; effectiveness = 600 x 30 / 19 800 = 0.90909..;
    quality = 588 / 600 = 0.98; OEE = 0.7333 x 0.90909 x 0.98 = 0.65333..; MTBF = 19 800 / 1; MTTR = 1 800 / 1.
    TEEP over the 24 h calendar day = OEE x 27 000 / 86 400.
    """
    cal = ShiftCalendar(BERLIN, (ShiftDef("early", time(6), time(14), breaks=((time(9), time(9, 30)),)),))
    day = (utc(2026, 1, 14, 0), utc(2026, 1, 15, 0))
    shifts = cal.periods(*day)
    assert [(p.start, p.end) for p in shifts] == [(utc(2026, 1, 14, 5), utc(2026, 1, 14, 13))]
    iv = [
        StateInterval(utc(2026, 1, 14, 5), utc(2026, 1, 14, 6), "setup"),
        StateInterval(utc(2026, 1, 14, 6), utc(2026, 1, 14, 12), "running"),
        StateInterval(utc(2026, 1, 14, 12), utc(2026, 1, 14, 12, 30), "fault"),
        StateInterval(utc(2026, 1, 14, 12, 30), utc(2026, 1, 14, 13), "starved"),
    ]
    tm = time_model(iv, shifts, day)
    assert (tm.pot_s, tm.pdot_s, tm.pbt_s) == (28_800, 1_800, 27_000)
    assert (tm.apt_s, tm.aust_s, tm.adot_s, tm.adet_s, tm.unknown_s) == (19_800, 3_600, 1_800, 1_800, 0)
    r = kpis("m", day, tm, pq=600, gq=588, failures=1, pri_s=30.0)
    assert r.availability == pytest.approx(19_800 / 27_000)
    assert r.effectiveness == pytest.approx(600 * 30 / 19_800)
    assert r.quality_ratio == pytest.approx(0.98)
    assert r.oee == pytest.approx(0.653333, abs=1e-6)
    assert r.teep == pytest.approx(0.653333 * 27_000 / 86_400, abs=1e-6)
    assert (r.mtbf_s, r.mttr_s, r.sq, r.scrap_ratio) == (19_800, 1_800, 12, pytest.approx(0.02))


def test_stop_spanning_a_shift_change_is_split_between_the_shifts() -> None:
    """Shifts 06-14 and 14-22 UTC. A fault 13:00-15:00: 1 h in each shift's ADOT; running otherwise."""
    cal = ShiftCalendar("UTC", (ShiftDef("early", time(6), time(14)), ShiftDef("late", time(14), time(22))))
    iv = [
        StateInterval(utc(2026, 6, 1, 6), utc(2026, 6, 1, 13), "running"),
        StateInterval(utc(2026, 6, 1, 13), utc(2026, 6, 1, 15), "fault"),
        StateInterval(utc(2026, 6, 1, 15), utc(2026, 6, 1, 22), "running"),
    ]
    early, late = cal.periods(utc(2026, 6, 1), utc(2026, 6, 2))
    for p, apt in ((early, 7 * 3600), (late, 7 * 3600)):
        tm = time_model(iv, [p], (p.start, p.end))
        assert (tm.pbt_s, tm.apt_s, tm.adot_s) == (8 * 3600, apt, 3600)


def test_night_shift_across_the_autumn_dst_change_lasts_nine_hours() -> None:
    """Night shift 22:00-06:00 Berlin starting Sat 2026-10-24: clocks go back 03:00 -> 02:00 on Sunday.

    22:00 CEST = 20:00 UTC; 06:00 CET = 05:00 UTC: POT = 9 h = 32 400 s (the crew works 9 real hours).
    A stop from 23:30 local (21:30 UTC) to 00:30 local (22:30 UTC) crosses midnight: ADOT 3 600 s.
    Running the rest: APT = 32 400 - 3 600 = 28 800; availability = 28 800 / 32 400 = 0.888..
    """
    cal = ShiftCalendar(BERLIN, (ShiftDef("night", time(22), time(6)),))
    (night,) = [
        p for p in cal.periods(utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) if p.day == date(2026, 10, 24)
    ]
    assert (night.start, night.end) == (utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))
    iv = [
        StateInterval(utc(2026, 10, 24, 20), utc(2026, 10, 24, 21, 30), "running"),
        StateInterval(utc(2026, 10, 24, 21, 30), utc(2026, 10, 24, 22, 30), "fault"),
        StateInterval(utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 5), "running"),
    ]
    tm = time_model(iv, [night], (night.start, night.end))
    assert (tm.pot_s, tm.adot_s, tm.apt_s) == (32_400, 3_600, 28_800)
    assert kpis(
        "m", (night.start, night.end), tm, pq=0, gq=0, failures=1, pri_s=None
    ).availability == pytest.approx(28_800 / 32_400)


def test_spring_night_shift_lasts_seven_hours() -> None:
    cal = ShiftCalendar(BERLIN, (ShiftDef("night", time(22), time(6)),))
    (night,) = [
        p for p in cal.periods(utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) if p.day == date(2026, 3, 28)
    ]
    assert (night.end - night.start) == timedelta(hours=7)


def test_disconnected_time_is_not_running_and_is_shown_as_unknown() -> None:
    """One 8 h shift: 4 h running, 2 h disconnected, 2 h without any data. APT 4 h, unknown 4 h: coverage 0.5,
    and availability over the 4 h werk saw is 1 (the unseen half is neither loss nor production)."""
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),))
    win = (utc(2026, 2, 2, 8), utc(2026, 2, 2, 16))
    iv = [
        StateInterval(utc(2026, 2, 2, 8), utc(2026, 2, 2, 12), "running"),
        StateInterval(utc(2026, 2, 2, 12), utc(2026, 2, 2, 14), "disconnected"),
    ]
    tm = time_model(iv, cal.periods(*win), win)
    assert (tm.apt_s, tm.unknown_s, tm.pbt_s) == (4 * 3600, 4 * 3600, 8 * 3600)
    r = kpis("m", win, tm, pq=0, gq=0, failures=0, pri_s=1.0, min_coverage=0.8)
    assert (r.availability, r.coverage, r.low_coverage, r.time.observed_s) == (1.0, 0.5, True, 4 * 3600)


def test_zero_planned_time_gives_undefined_ratios_not_zero() -> None:
    """A holiday: no shift, so POT = PBT = 0; the machine ran anyway (production outside planned time)."""
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),), frozenset({date(2026, 12, 25)}))
    win = (utc(2026, 12, 25), utc(2026, 12, 26))
    iv = [StateInterval(utc(2026, 12, 25, 9), utc(2026, 12, 25, 10), "running")]
    tm = time_model(iv, cal.periods(*win), win)
    assert (tm.pot_s, tm.pbt_s, tm.apt_s, tm.outside_s) == (0, 0, 0, 3600)
    r = kpis("m", win, tm, pq=10, gq=10, failures=0, pri_s=10.0)
    assert (r.availability, r.effectiveness, r.oee, r.mtbf_s) == (None, None, None, None)
    assert r.quality_ratio == 1.0


def test_planned_stop_moves_time_from_down_to_planned() -> None:
    """8 h shift; a 1 h stop classified as planned (no orders): PDOT 1 h, PBT 7 h, APT 7 h, availability 1."""
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),))
    win = (utc(2026, 2, 2, 8), utc(2026, 2, 2, 16))
    iv = [
        StateInterval(win[0], utc(2026, 2, 2, 12), "running"),
        StateInterval(utc(2026, 2, 2, 12), utc(2026, 2, 2, 13), "idle"),
        StateInterval(utc(2026, 2, 2, 13), win[1], "running"),
    ]
    tm = time_model(iv, cal.periods(*win), win, planned_stops=[(utc(2026, 2, 2, 12), utc(2026, 2, 2, 13))])
    assert (tm.pdot_s, tm.pbt_s, tm.apt_s, tm.adet_s) == (3600, 7 * 3600, 7 * 3600, 0)


def test_line_effectiveness_weighs_each_assets_ideal_cycle() -> None:
    """A: APT 1 000 s, 40 parts x 20 s = 800 s ideal. B: APT 1 000 s, 10 x 90 s = 900 s. C (no PRI): APT 1 000 s.
    Line effectiveness = (800 + 900) / (1 000 + 1 000) = 0.85 (C does not dilute it)."""
    win = (utc(2026, 1, 1), utc(2026, 1, 1, 1))
    cal = ShiftCalendar("UTC", (ShiftDef("d", time(0), time(0)),))
    iv = [StateInterval(win[0], utc(2026, 1, 1, 0, 16, 40), "running")]
    tm = time_model(iv, cal.periods(*win), win)
    a = kpis("A", win, tm, pq=40, gq=40, failures=0, pri_s=20.0)
    b = kpis("B", win, tm, pq=10, gq=9, failures=0, pri_s=90.0)
    c = kpis("C", win, tm, pq=0, gq=0, failures=0, pri_s=None)
    line = combine("line", win, [a, b, c])
    assert line.effectiveness == pytest.approx(0.85)
    assert line.time.apt_s == 3000 and line.pq == 50 and line.quality_ratio == pytest.approx(49 / 50)


def test_overlapping_shift_definitions_count_once() -> None:
    """06-14 and 12-20 overlap 12-14: POT is 06-20 = 14 h, not 16 h."""
    cal = ShiftCalendar("UTC", (ShiftDef("a", time(6), time(14)), ShiftDef("b", time(12), time(20))))
    win = (utc(2026, 2, 2), utc(2026, 2, 3))
    iv = [StateInterval(utc(2026, 2, 2, 6), utc(2026, 2, 2, 20), "running")]
    tm = time_model(iv, cal.periods(*win), win)
    assert (tm.pot_s, tm.apt_s) == (14 * 3600, 14 * 3600)


def test_overlapping_planned_stops_count_once() -> None:
    """A planned stop 12-13 inside a plant-wide planned window 11:30-13:30: PDOT 2 h, not 3 h."""
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),))
    win = (utc(2026, 2, 2, 8), utc(2026, 2, 2, 16))
    planned = [(utc(2026, 2, 2, 12), utc(2026, 2, 2, 13)), (utc(2026, 2, 2, 11, 30), utc(2026, 2, 2, 13, 30))]
    tm = time_model([StateInterval(win[0], win[1], "running")], cal.periods(*win), win, planned_stops=planned)
    assert (tm.pdot_s, tm.pbt_s, tm.apt_s) == (2 * 3600, 6 * 3600, 6 * 3600)


def test_a_shift_watched_for_nine_minutes_has_kpis_over_those_minutes_and_its_coverage() -> None:
    """08:00-16:00; werk watched 15:51-16:00: 8 min running, 1 min idle. Before: availability 480 / 28 800 =
    1.7 % (unknown time counted as loss). Now: availability 480 / 540 = 88.9 %, coverage 540 / 28 800 = 1.9 %,
    marked as low coverage; the plant's figures follow the same rule."""
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),))
    win = (utc(2026, 2, 2, 8), utc(2026, 2, 2, 16))
    iv = [
        StateInterval(utc(2026, 2, 2, 15, 51), utc(2026, 2, 2, 15, 59), "running"),
        StateInterval(utc(2026, 2, 2, 15, 59), win[1], "idle"),
    ]
    tm = time_model(iv, cal.periods(*win), win)
    r = kpis("m", win, tm, pq=16, gq=16, failures=0, pri_s=30.0, min_coverage=0.5)
    assert r.availability == pytest.approx(480 / 540)
    assert r.coverage == pytest.approx(540 / 28_800) and r.low_coverage
    assert r.effectiveness == pytest.approx(16 * 30 / 480) and r.flags == []
    plant = combine("plant", win, [r, r], min_coverage=0.5)
    assert plant.availability == pytest.approx(480 / 540) and plant.coverage == pytest.approx(540 / 28_800)
    assert plant.low_coverage


def test_nothing_seen_gives_no_kpis_and_zero_coverage() -> None:
    cal = ShiftCalendar("UTC", (ShiftDef("s", time(8), time(16)),))
    win = (utc(2026, 2, 2, 8), utc(2026, 2, 2, 16))
    r = kpis("m", win, time_model([], cal.periods(*win), win), pq=0, gq=0, failures=0, pri_s=30.0)
    assert (r.availability, r.oee, r.coverage) == (None, None, 0.0)


def test_more_parts_than_the_ideal_cycle_allows_is_flagged_with_its_cause() -> None:
    """1 h running, PRI 60 s, 90 parts: effectiveness, OEE and TEEP 150 %: kept as computed, flagged."""
    win = (utc(2026, 1, 1), utc(2026, 1, 1, 1))
    cal = ShiftCalendar("UTC", (ShiftDef("d", time(0), time(0)),))
    tm = time_model([StateInterval(*win, "running")], cal.periods(*win), win)
    r = kpis("m", win, tm, pq=90, gq=90, failures=0, pri_s=60.0)
    assert r.effectiveness == pytest.approx(1.5)
    assert [(f.kpi, f.cause) for f in r.flags] == [
        ("effectiveness", "ideal_cycle_time"),
        ("oee", "ideal_cycle_time"),
        ("teep", "ideal_cycle_time"),
    ]
    assert "60 s" in r.flags[0].message
    idle = time_model([StateInterval(*win, "idle")], cal.periods(*win), win)
    parts_while_idle = kpis("m", win, idle, pq=5, gq=5, failures=0, pri_s=60.0)
    assert [(f.kpi, f.cause) for f in parts_while_idle.flags] == [("effectiveness", "state_mapping")]


def test_targets_are_shown_against_the_actual_values() -> None:
    from werk.apps.oee.kpi import Target, against

    win = (utc(2026, 1, 1), utc(2026, 1, 1, 1))
    cal = ShiftCalendar("UTC", (ShiftDef("d", time(0), time(0)),))
    iv = [
        StateInterval(win[0], utc(2026, 1, 1, 0, 45), "running"),
        StateInterval(utc(2026, 1, 1, 0, 45), win[1], "fault"),
    ]
    r = kpis("m", win, time_model(iv, cal.periods(*win), win), pq=45, gq=45, failures=1, pri_s=60.0)
    got = against(r, {"oee": 0.8, "availability": 0.7, "mttr_s": 600, "mtbf_s": 3600})
    assert got == {
        "oee": Target(0.8, 0.75, False),
        "availability": Target(0.7, 0.75, True),
        "mttr_s": Target(600, 900.0, False),
        "mtbf_s": Target(3600, 2700.0, False),
    }
