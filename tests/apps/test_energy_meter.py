"""Meter arithmetic: the energy booked always equals what the counters really counted, whatever the order the
readings come in, through rollovers, resets, exchanges and glitches; buckets in local time add up."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from werk.apps.energy.baseline import fit, savings
from werk.apps.energy.calendar import edges, label, to_seconds
from werk.apps.energy.meter import (
    MeterEvent,
    book_counter,
    coverage,
    derived_power,
    energy_between,
    integrate_power,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def _simulate(
    seed: int, n: int, modulus: float, rated_kw: float, exchanges: int, glitches: int, jitter_s: float
) -> tuple[list[tuple[float, float]], list[MeterEvent], float]:
    """A meter's readings (stamped at poll time, up to ``jitter_s`` late), its exchange/reset events, and the true
    energy between its first and last genuine reading."""
    rnd = random.Random(seed)
    true_t = T0
    reading = rnd.uniform(0, modulus)
    true_total = 0.0
    out: list[tuple[float, float]] = []
    events: list[MeterEvent] = []
    ex_at = set(rnd.sample(range(2, n - 1), k=min(exchanges, max(n - 3, 0))))
    stamps: set[float] = set()
    for i in range(n):
        dt = rnd.choice([1.0, 2.0, 60.0, 900.0])
        true_t += dt
        used = rnd.uniform(0, rated_kw) * dt / 3600.0
        if i in ex_at:
            # the exchange happens part way into this interval: the old meter counts up to it, the new one on
            share = rnd.random()
            old_final = (reading + used * share) % modulus
            new_start = rnd.choice([0.0, rnd.uniform(0, modulus)])
            # after the last reading's stamp: a reading stamped later than the exchange is the new meter's
            at = max(true_t - dt + share * dt, out[-1][0] + 1e-3)
            events.append(MeterEvent(at, rnd.choice(["reset", "exchange"]), old_final, new_start))
            reading = (new_start + used * (1 - share)) % modulus
        else:
            reading = (reading + used) % modulus
        if i:
            true_total += used
        stamp = round(true_t + rnd.uniform(0, jitter_s), 6)
        stamps.add(stamp)
        out.append((stamp, reading))
    for _ in range(glitches):
        # a garbled register: half the range away from any plausible value, between two genuine readings
        k = rnd.randrange(1, n - 1)
        stamp = (out[k][0] + out[k + 1][0]) / 2
        if stamp not in stamps:
            out.append((stamp, (out[k][1] + modulus / 2) % modulus))
    return out, events, true_total


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.integers(5, 80),
    exchanges=st.integers(0, 3),
    glitches=st.integers(0, 3),
    batch=st.integers(1, 10),
)
def test_booked_energy_equals_true_consumption_through_shuffles_rollovers_exchanges_and_glitches(
    seed: int, n: int, exchanges: int, glitches: int, batch: int
) -> None:
    modulus, rated = (
        1000.0,
        50.0,
    )  # rated * longest interval << modulus / 2: a glitch is never a plausible step
    readings, events, truth = _simulate(seed, n, modulus, rated, exchanges, glitches, jitter_s=0.8)
    rnd = random.Random(seed ^ 0xBEEF)
    rnd.shuffle(readings)
    batches = [readings[i : i + batch] for i in range(0, len(readings), batch)]
    rnd.shuffle(batches)
    arrived = [r for b in batches for r in b]
    booked = book_counter(arrived, modulus=modulus, events=events, max_kw=rated, slack_s=1.0)
    assert booked.total == pytest.approx(truth, rel=1e-9, abs=1e-9)
    assert not [a for a in booked.anomalies if a.kind in ("jump", "drop", "pending", "unmeasured")]
    assert len([a for a in booked.anomalies if a.kind == "glitch"]) <= glitches
    assert np.all(np.diff(booked.cum) >= 0)
    # the historian's path (sorted arrays) books the same
    ordered = sorted(dict(arrived).items())
    arrays = (np.asarray([t for t, _ in ordered]), np.asarray([v for _, v in ordered]))
    again = book_counter(arrays, modulus=modulus, events=events, max_kw=rated, slack_s=1.0)
    assert again.total == booked.total and again.anomalies == booked.anomalies


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_buckets_cut_anywhere_add_up_to_the_total(seed: int, cuts: list[float]) -> None:
    readings, events, truth = _simulate(seed, 40, 1e6, 30.0, 1, 0, jitter_s=0)
    booked = book_counter(readings, modulus=1e6, events=events, max_kw=30.0)
    lo, hi = booked.ts[0], booked.ts[-1]
    inner = sorted(lo + c * (hi - lo) for c in cuts)
    parts = energy_between(booked, np.asarray([lo, *inner, hi]))
    assert math.fsum(parts) == pytest.approx(truth, rel=1e-9, abs=1e-9)
    assert np.all(parts >= -1e-12)


def test_an_honest_step_over_a_short_jittery_poll_interval_is_booked_not_flagged() -> None:
    # 22 kW drawn; polls each second but stamped 0.2 s late once: 6.1 Wh in 0.8 s looks like 27.5 kW
    step = 22.0 / 3600
    readings = [(T0, 100.0), (T0 + 1.0, 100 + step), (T0 + 1.8, 100 + 2 * step), (T0 + 3.0, 100 + 3 * step)]
    booked = book_counter(readings, max_kw=22.0, slack_s=1.0)
    assert booked.anomalies == [] and booked.total == pytest.approx(3 * step)


def test_a_spike_is_held_back_and_shown_and_the_next_reading_books_from_before_it() -> None:
    readings = [(T0, 100.0), (T0 + 60, 100.3), (T0 + 120, 99999.0), (T0 + 180, 100.9)]
    booked = book_counter(readings, max_kw=30.0)
    assert booked.total == pytest.approx(0.9)
    assert [(a.kind, a.value) for a in booked.anomalies] == [("glitch", 99999.0)]


def test_a_reset_nobody_recorded_books_no_phantom_energy_and_is_shown() -> None:
    # the 15 MWh phantom: a counter at 15 000 kWh reset to 0 with a modulus of 100 000 and no rated power
    readings = [(T0 + 60 * i, 15000.0 + i) for i in range(5)] + [
        (T0 + 300 + 60 * i, float(i)) for i in range(5)
    ]
    booked = book_counter(readings, modulus=100_000.0)
    assert booked.total == pytest.approx(4 + 4)  # before and after the reset; the step itself is not booked
    (drop,) = [a for a in booked.anomalies if a.kind == "drop"]
    assert drop.amount == pytest.approx(-15004.0) and drop.start == T0 + 240 and drop.end == T0 + 300


def test_recording_the_exchange_books_what_both_meters_counted() -> None:
    readings = [(T0, 500.0), (T0 + 60, 500.2), (T0 + 180, 3.1), (T0 + 240, 3.3)]
    event = MeterEvent(T0 + 120, "exchange", old_final=500.5, new_start=3.0)
    booked = book_counter(readings, events=[event], max_kw=30.0)
    assert booked.total == pytest.approx(0.5 + 0.3)
    assert booked.anomalies == []
    unknown = book_counter(readings, events=[MeterEvent(T0 + 120, "exchange", None, 3.0)], max_kw=30.0)
    assert unknown.total == pytest.approx(0.2 + 0.3)
    assert [a.kind for a in unknown.anomalies] == ["unmeasured"]


def test_a_rollover_is_booked_as_the_wrapped_step() -> None:
    readings = [(T0, 99_999.5), (T0 + 900, 0.7)]
    assert book_counter(readings, modulus=100_000.0, max_kw=20.0).total == pytest.approx(1.2)


def test_power_is_integrated_and_gaps_are_not_bridged() -> None:
    readings = [(T0 + i, 36.0) for i in range(101)] + [(T0 + 1000 + i, 36.0) for i in range(101)]
    booked = integrate_power(readings, max_gap_s=10)
    assert booked.total == pytest.approx(2 * 36.0 * 100 / 3600)
    assert [a.kind for a in booked.anomalies] == ["gap"]
    cov = coverage(booked, np.asarray([T0, T0 + 100, T0 + 1000, T0 + 1100]))
    assert cov.tolist() == pytest.approx([1.0, 0.0, 1.0])


def test_derived_power_is_root_three_v_i_cos_phi() -> None:
    p = derived_power(np.asarray([400.0]), np.asarray([100.0]), np.asarray([0.9]))
    assert p[0] == pytest.approx(math.sqrt(3) * 400 * 100 * 0.9 / 1000)


def test_local_days_months_and_quarter_hours_follow_daylight_saving() -> None:
    start, end = datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 23, tzinfo=UTC)
    days = edges(start, end, "Europe/Berlin", "day")
    # the plant's 29 March runs from 23:00 UTC on the 28th to 22:00 UTC on the 29th: 23 hours
    assert days[:2] == [datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)]
    hours = edges(
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
        "Europe/Berlin",
        "hour",
    )
    assert len(hours) - 1 == 25  # 25 October: the hour from 02:00 to 03:00 twice
    quarters = edges(
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
        "Europe/Berlin",
        "15min",
    )
    assert len(quarters) - 1 == 100
    months = edges(
        datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), "Europe/Berlin", "month"
    )
    assert [label(m, "Europe/Berlin", "month") for m in months] == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    assert months[0] == datetime(2025, 12, 31, 23, tzinfo=UTC)
    weeks = edges(datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC), "Asia/Kolkata", "week")
    assert weeks[0] == datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # Monday 00:00 +05:30
    shifts = edges(
        datetime(2026, 3, 4, 12, tzinfo=UTC),
        datetime(2026, 3, 4, 22, tzinfo=UTC),
        "Europe/Berlin",
        "shift",
        shift_starts=[time(6), time(14), time(22)],
    )
    assert shifts == [
        datetime(2026, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 3, 4, 13, tzinfo=UTC),
        datetime(2026, 3, 4, 21, tzinfo=UTC),
        datetime(2026, 3, 5, 5, tzinfo=UTC),
    ]


def test_a_day_of_constant_load_splits_by_local_hour_across_the_clock_change() -> None:
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)
    readings = [(start.timestamp() + 60 * i, 10.0 * i / 60) for i in range(24 * 60)]  # 10 kW
    booked = book_counter(readings, max_kw=12)
    day = edges(start, start + timedelta(hours=23), "Europe/Berlin", "day")
    assert energy_between(booked, to_seconds(day[:2]))[0] == pytest.approx(230.0)  # 23 hours of 10 kW


def test_a_valid_baseline_is_accepted_and_savings_carry_their_uncertainty() -> None:
    rnd = np.random.default_rng(7)
    parts = rnd.uniform(100, 500, 40)
    hours = rnd.uniform(8, 24, 40)
    energy = 50 + 0.8 * parts + 3 * hours + rnd.normal(0, 5, 40)
    base = fit(energy, {"parts": parts, "hours": hours})
    assert base.valid and base.r2 > 0.9 and base.p_value < 1e-6
    assert base.coefficients["parts"] == pytest.approx(0.8, abs=0.05)
    rep_parts, rep_hours = rnd.uniform(150, 450, 10), rnd.uniform(10, 20, 10)
    actual = 0.9 * (50 + 0.8 * rep_parts + 3 * rep_hours)  # a tenth saved
    s = savings(base, actual, {"parts": rep_parts, "hours": rep_hours})
    assert s.savings == pytest.approx(0.1 * s.expected, rel=0.1) and 0 < s.uncertainty < s.savings
    assert s.reasons == []
    out = savings(base, [100.0], {"parts": [2000.0], "hours": [12.0]})
    assert out.reasons and "parts" in out.reasons[0]


def test_a_baseline_the_drivers_do_not_explain_says_why() -> None:
    rnd = np.random.default_rng(3)
    base = fit(rnd.normal(100, 10, 30), {"parts": rnd.uniform(0, 100, 30)})
    assert not base.valid
    assert any("p =" in r for r in base.reasons) and any("R²" in r for r in base.reasons)
    few = fit([1.0, 2.0], {"parts": [1.0, 2.0]})
    assert not few.valid and "periods" in few.reasons[0]


def test_power_derived_from_voltage_current_and_power_factor_holds_each_at_its_last_value() -> None:
    from werk.apps.energy.meter import derived_series, integrate_power_arrays

    volts = (np.asarray([0.0, 1800.0]), np.asarray([400.0, 400.0]))
    amps = (np.asarray([0.0, 1800.0, 3600.0]), np.asarray([100.0, 50.0, 50.0]))
    pf = (np.asarray([10.0]), np.asarray([0.9]))  # the power factor arrives last: nothing before it
    ts, kw = derived_series(volts, amps, pf)
    assert ts.tolist() == [10.0, 1800.0, 3600.0]
    p100 = math.sqrt(3) * 400 * 100 * 0.9 / 1000
    assert kw.tolist() == pytest.approx([p100, p100 / 2, p100 / 2])
    booked = integrate_power_arrays(ts, kw, max_gap_s=4000, hold=True)
    assert booked.total == pytest.approx(p100 * 1790 / 3600 + p100 / 2 * 1800 / 3600)
