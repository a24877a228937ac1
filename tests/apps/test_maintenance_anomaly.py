"""Anomaly engine: an injected fault scores above the threshold and is explained by the right signal."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.conftest import shared_data
from werk.apps.maintenance.anomaly import AnomalyDetector, causal_moving_mean

SIGNALS = ("current", "pressure", "temperature")


def healthy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(2.0, 0.05, n), rng.normal(1.0, 0.02, n), rng.normal(60.0, 0.5, n)])


def as_dict(row: np.ndarray) -> dict[str, float]:
    return dict(zip(SIGNALS, map(float, row), strict=True))


def test_injected_fault_scores_high_and_is_explained() -> None:
    det = AnomalyDetector.fit(healthy(600), SIGNALS, window=20)
    live = healthy(400, seed=1)
    live[200:, 0] += 0.5  # current up by 10 healthy standard deviations
    scores = [det.score_one(as_dict(r)) for r in live]
    assert max(scores[:200]) < det.threshold  # new healthy data: no alarm
    assert min(scores[230:]) > det.threshold  # the fault: alarm once the window holds it
    assert np.mean(scores[230:]) > 20 * np.mean(scores[:200])
    why = det.explain()
    assert next(iter(why)) == "current"
    assert why["current"] > 0.9
    assert sum(why.values()) == pytest.approx(1.0)
    # one sample on its own, without touching the smoothing state
    assert next(iter(det.explain(as_dict(live[-1])))) == "current"


def test_streaming_equals_batch_and_reset_forgets() -> None:
    det = AnomalyDetector.fit(healthy(300), SIGNALS, window=15)
    live = healthy(100, seed=2)
    live[50:60, 1] += 1.0
    streamed = [det.score_one(as_dict(r)) for r in live]
    np.testing.assert_allclose(streamed, det.score_batch(live))
    np.testing.assert_allclose(det.score_batch([as_dict(r) for r in live]), streamed)
    det.reset()
    assert det.score_one(as_dict(live[0])) == pytest.approx(streamed[0])


def test_threshold_comes_from_the_healthy_period() -> None:
    data = healthy(2000)
    det = AnomalyDetector.fit(data, SIGNALS, window=10, quantile=0.99, margin=1.0)
    assert np.mean(det.score_batch(data) > det.threshold) == pytest.approx(0.01, abs=0.002)


def test_bad_input_is_refused() -> None:
    det = AnomalyDetector.fit(healthy(50), SIGNALS)
    with pytest.raises(ValueError, match="lacks signals \\['temperature'\\]"):
        det.score_one({"current": 2.0, "pressure": 1.0})
    with pytest.raises(ValueError, match="nothing to explain"):
        det.explain()
    with pytest.raises(ValueError, match="window"):
        AnomalyDetector.fit(healthy(50), SIGNALS, window=0)


def test_a_signal_constant_while_healthy_still_scores_finite() -> None:
    data = healthy(100)
    data[:, 1] = 1.0
    det = AnomalyDetector.fit(data, SIGNALS)
    assert np.isfinite(det.score_one(as_dict(data[0])))


def test_causal_moving_mean() -> None:
    np.testing.assert_allclose(causal_moving_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1.0, 2.0, 4.0, 6.0])


def test_skab_valve_closure_scores_above_normal_operation() -> None:
    """SKAB valve1/0.csv: fitted on its first 400 rows (SKAB protocol), the valve closure scores far higher."""
    path = shared_data("skab", "data", "valve1", "0.csv")
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head = rows[0]
    signals = head[1:-2]  # datetime first, anomaly and changepoint last
    x = np.array([[float(v) for v in r[1:-2]] for r in rows[1:]])
    anomaly = np.array([r[head.index("anomaly")] == "1.0" for r in rows[1:]])
    det = AnomalyDetector.fit(x[:400], signals)
    scores = det.score_batch(x)
    start = int(np.argmax(anomaly))
    assert anomaly.sum() > 300 and start > 450
    # normal operation before the fault (after it, the water has warmed: see the benchmark's false alarms)
    assert np.median(scores[anomaly]) > 3 * np.median(scores[400:start])
    assert np.mean(scores[anomaly] > det.threshold) > 0.8  # most of the fault is alarmed


def warming(n: int, start: int = 0, slope: float = 0.01, seed: int = 0) -> np.ndarray:
    """Healthy current and pressure, and a temperature that warms steadily (as a pump loop does through a run)."""
    data = healthy(n, seed)
    data[:, 2] = (
        60.0 + slope * np.arange(start, start + n) + np.random.default_rng(seed + 100).normal(0, 0.05, n)
    )
    return data


def test_a_warming_signal_scored_by_its_change_alarms_on_a_heat_burst_not_on_the_drift() -> None:
    train = warming(600)
    live = warming(600, start=600, seed=1)
    by_level = AnomalyDetector.fit(train, SIGNALS, window=20)
    by_change = AnomalyDetector.fit(
        train, SIGNALS, window=20, levels=["current", "pressure"], changes=["temperature"]
    )
    assert by_change.feature_names() == ["current", "pressure", "temperature:change"]
    # the same warming, carried on past the healthy period: its level leaves the healthy range, its rate does not
    assert by_level.alarms_batch(live).any()
    assert not by_change.alarms_batch(live).any()
    # the heating rate jumps fivefold (a heat burst): the change alarms, and the temperature is blamed
    burst = live.copy()
    burst[300:, 2] += 0.04 * np.arange(300)
    alarms = by_change.alarms_batch(burst)
    assert not alarms[:300].any() and alarms[330:].all()
    for row in burst[:400]:
        by_change.score_one(as_dict(row))
    assert next(iter(by_change.explain())) == "temperature"
    assert next(iter(by_change.explain(by_feature=True))) == "temperature:change"
    assert sum(by_change.explain(by_feature=True).values()) == pytest.approx(1.0)


def test_a_signal_by_level_and_change_is_explained_as_one_signal() -> None:
    det = AnomalyDetector.fit(healthy(300), SIGNALS, window=10, changes=SIGNALS)
    assert len(det.feature_names()) == 6
    live = healthy(50, seed=3)
    live[30:, 0] += 1.0
    for row in live[:-1]:
        det.score_one(as_dict(row))
    signals, features = det.explain(), det.explain(by_feature=True)
    assert set(signals) == set(SIGNALS) and len(features) == 6
    assert signals["current"] == pytest.approx(features["current"] + features["current:change"])
    # a sample alone: its change is taken against the rows seen so far, and the state is left alone
    alone = det.explain(as_dict(live[-1]), by_feature=True)
    terms = det.terms(det.features_batch(live))[-1]  # the last row's own terms, its change against live[-11]
    expected = dict(zip(det.feature_names(), terms / terms.sum(), strict=True))
    assert alone == pytest.approx(expected)
    assert next(iter(alone)) == "current"
    assert det.score_one(as_dict(live[-1])) == pytest.approx(det.score_batch(live)[-1])


def test_streaming_equals_batch_with_changes_and_reset_forgets_the_look_back() -> None:
    det = AnomalyDetector.fit(warming(300), SIGNALS, window=15, changes=["temperature", "current"])
    live = warming(120, start=300, seed=2)
    live[50:70, 0] += 0.3
    streamed = [det.score_one(as_dict(r)) for r in live]
    np.testing.assert_allclose(streamed, det.score_batch(live))
    np.testing.assert_allclose(
        det.contributions_batch(live).sum(axis=1), streamed
    )  # the per-feature terms add up to the score
    det.reset()
    assert not det.ready
    assert det.score_one(as_dict(live[0])) == pytest.approx(streamed[0])


def test_the_threshold_comes_from_full_windows_and_the_warm_up_never_alarms() -> None:
    data = healthy(500)
    det = AnomalyDetector.fit(data, SIGNALS, window=25, quantile=0.99, margin=1.0)
    scores = det.score_batch(data)
    assert det.threshold == pytest.approx(np.quantile(scores[24:], 0.99))
    # the first samples of a stream average fewer samples: a wild one is not an alarm until the window is full
    wild = healthy(60, seed=4)
    wild[:, 0] += 5.0
    alarms = det.alarms_batch(wild)
    assert not alarms[:24].any() and alarms[24:].all()
    states = []
    for row in wild[:26]:
        det.score_one(as_dict(row))
        states.append(det.ready)
    assert states == [False] * 24 + [True, True]


def test_payload_keeps_the_feature_lists_and_reads_the_old_format() -> None:
    data = warming(300)
    det = AnomalyDetector.fit(data, SIGNALS, window=12, levels=["current"], changes=["temperature"])
    payload = det.to_payload()
    assert payload["version"] == "anomaly-zsq-v2"
    back = AnomalyDetector.from_payload(payload)
    assert back.feature_names() == ["current", "temperature:change"]
    np.testing.assert_array_equal(back.score_batch(data), det.score_batch(data))
    # the default detector still writes the format older werk reads, and reads it back
    plain = AnomalyDetector.fit(data, SIGNALS, window=12)
    old = plain.to_payload()
    assert old["version"] == "anomaly-zsq-v1" and "changes" not in old
    np.testing.assert_array_equal(
        AnomalyDetector.from_payload(old).score_batch(data), plain.score_batch(data)
    )
    with pytest.raises(ValueError, match="do not match the feature list"):
        AnomalyDetector.from_payload({**payload, "changes": []})


def test_feature_lists_are_checked() -> None:
    with pytest.raises(ValueError, match="not among"):
        AnomalyDetector.fit(healthy(50), SIGNALS, changes=["humidity"])
    with pytest.raises(ValueError, match="named twice"):
        AnomalyDetector.fit(healthy(50), SIGNALS, levels=["current", "current"])
    with pytest.raises(ValueError, match="no features"):
        AnomalyDetector.fit(healthy(50), SIGNALS, levels=[])


def test_asset_health_does_not_count_cycles_before_the_window_is_full() -> None:
    from werk.apps.maintenance.health import SMOOTHING_CYCLES, AssetHealth

    h = AssetHealth("a", SIGNALS, baseline_cycles=40, anomaly_cycles=1, rul_warning_cycles=0.0)
    for row in healthy(40):
        assert h.on_cycle(as_dict(row)) == []
    assert h.detector is not None and h.detector.window == SMOOTHING_CYCLES
    sick = healthy(SMOOTHING_CYCLES, seed=5)
    sick[:, 1] += 1.0  # pressure up by 50 healthy standard deviations from the first cycle on
    # on_cycle gives the warnings a cycle raised or cleared, a list since one cycle may do both for two causes;
    # far above the threshold, but nothing until the window is full
    warnings = [h.on_cycle(as_dict(row)) for row in sick]
    assert warnings[:-1] == [[]] * (SMOOTHING_CYCLES - 1)
    [last] = warnings[-1]
    assert last.reason == "anomaly" and last.change == "raised"
    assert next(iter(last.detail["drivers"])) == "pressure"


def test_a_one_sided_feature_scores_only_its_harmful_side_and_keeps_it_in_its_payload() -> None:
    det = AnomalyDetector.fit(healthy(300), SIGNALS, window=5, sides=["up", "both", "down"])
    low, high = healthy(20, seed=3), healthy(20, seed=3)
    low[:, 0] -= 1.0  # current far below its healthy range: harmless for an "up" feature
    high[:, 0] += 1.0
    assert det.score_batch(low)[-1] < det.threshold < det.score_batch(high)[-1]
    again = AnomalyDetector.from_payload(det.to_payload())
    assert again.sides == ("up", "both", "down")
    np.testing.assert_allclose(again.score_batch(high), det.score_batch(high))
    with pytest.raises(ValueError, match="sides must be 3"):
        AnomalyDetector.fit(healthy(50), SIGNALS, sides=["up"])
