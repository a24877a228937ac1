"""RUL engine: causal window features, the PHM08 maths, and a small model on real C-MAPSS FD001 engines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import shared_data
from werk.apps.maintenance.rul import (
    RulFeatureSpec,
    RulModel,
    history_features,
    phm08_score,
    piecewise_rul,
    rmse,
    select_signals,
)

SENSORS = [f"s{i}" for i in range(1, 22)]


def degrading_history(n: int, seed: int) -> np.ndarray:
    """Two signals that drift up towards failure at cycle n, plus noise."""
    rng = np.random.default_rng(seed)
    life = np.arange(n) / n
    a = 10 + 2 * np.exp(3 * life) + rng.normal(0, 0.1, n)
    b = 5 - np.exp(2 * life) + rng.normal(0, 0.1, n)
    return np.column_stack([a, b])


def test_features_are_causal_and_accept_dict_rows() -> None:
    """Row i of the features depends only on cycles 0..i: it equals the last row of the history cut at i."""
    spec = RulFeatureSpec(signals=("a", "b"))
    h = degrading_history(60, seed=1)
    full = history_features(h, spec)
    assert full.shape == (60, len(spec.feature_names()))
    for i in (0, 1, 4, 29, 59):
        np.testing.assert_allclose(full[i], history_features(h[: i + 1], spec)[-1], rtol=1e-9, atol=1e-9)
    as_dicts = [{"a": float(r[0]), "b": float(r[1]), "other": 0.0} for r in h]
    np.testing.assert_allclose(history_features(as_dicts, spec), full)


def test_slope_feature_matches_least_squares() -> None:
    spec = RulFeatureSpec(signals=("a",), windows=(10,), alphas=(0.5,))
    h = np.asarray(3.0 * np.arange(40) + 7.0, dtype=np.float64).reshape(-1, 1)
    f = history_features(h, spec)[-1]
    names = spec.feature_names()
    assert f[names.index("a.slope10")] == pytest.approx(3.0)
    assert f[names.index("a.mean10")] == pytest.approx(np.mean(h[-10:]))


def test_missing_signal_and_bad_shape_are_refused() -> None:
    spec = RulFeatureSpec(signals=("a", "b"))
    with pytest.raises(ValueError, match="row 1 lacks signals \\['b'\\]"):
        history_features([{"a": 1.0, "b": 2.0}, {"a": 1.0}], spec)
    with pytest.raises(ValueError, match="expected \\(cycles, 2\\)"):
        history_features(np.zeros((5, 3)), spec)


def test_select_signals_drops_constant_and_two_level_columns() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.full(50, 518.67), rng.choice([21.60, 21.61], 50), rng.normal(0, 1, 50)])
    assert select_signals(x, ["const", "two_level", "moving"]) == ("moving",)


def test_targets_and_scores() -> None:
    np.testing.assert_array_equal(piecewise_rul(5, cap=3), [3, 3, 2, 1, 0])
    # PHM08: a late prediction by 10 costs e-1, an early one by 13 costs e-1 too; perfect costs nothing
    assert phm08_score([20.0], [10.0]) == pytest.approx(math.e - 1)
    assert phm08_score([0.0], [13.0]) == pytest.approx(math.e - 1)
    assert phm08_score([5.0, 6.0], [5.0, 6.0]) == 0.0
    assert phm08_score([10.0], [0.0]) > phm08_score([0.0], [10.0])  # late is worse than early
    assert rmse([1.0, 3.0], [1.0, 1.0]) == pytest.approx(math.sqrt(2))


def load_fd001() -> list[np.ndarray]:
    raw = np.loadtxt(shared_data("cmapss", "train_FD001.txt"))
    return [raw[raw[:, 0] == u][:, 5:] for u in np.unique(raw[:, 0])]


def test_small_model_on_fd001_orders_early_and_late_cycles() -> None:
    """Trained on 30 engines, on 10 others it sees the end coming and stays within a loose error bound."""
    engines = load_fd001()
    spec = RulFeatureSpec(signals=select_signals(np.vstack(engines[:30]), SENSORS))
    keep = [SENSORS.index(s) for s in spec.signals]
    engines = [e[:, keep] for e in engines]
    model = RulModel.fit(engines[:30], spec, rounds=150, seeds=(0,))

    errors = []
    for h in engines[30:40]:
        early = model.predict_history(h[:40])
        late = model.predict_history(h[: len(h) - 10])
        assert late < early - 40, (early, late)  # 10 cycles before failure vs a young engine
        assert 0.0 <= late <= 125.0
        for cut in (len(h) // 2, len(h) - 60, len(h) - 25):
            true = min(len(h) - cut, 125)
            errors.append(model.predict_history(h[:cut]) - true)
    assert rmse(errors, np.zeros(len(errors))) < 25.0  # published CNN: 18.45 on the test set
