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
