"""Remaining useful life (RUL) from an asset's signal history: pure engine, data in, data out.

The model is trained offline on run-to-failure histories (one array per asset life, one row per operating cycle)
and asked online, per asset, "how many cycles are left?" from the history since the asset's last renewal.

Method (the usual tree-ensemble route for NASA C-MAPSS, Saxena et al., PHM08):

* **Target** — piecewise-linear RUL, capped at ``cap`` cycles (125 for C-MAPSS FD001, the value of the published
  tables): a new asset shows no measurable degradation, so asking a model to tell 300 from 200 cycles left would
  only teach it noise.
* **Signals** — :func:`select_signals` drops those with at most two distinct values over the training data (constant
  or quantised to one step: they carry no degradation trend).
* **Features** (:func:`history_features`) — for every cycle, using only that cycle and the ones before it (so the
  training rows are exactly what a live asset offers): the cycle count, each signal's last value, its mean and
  least-squares slope over the last 5/10/20/30 cycles, two exponentially smoothed values (alpha 0.1 and 0.3) and
  the drift of the faster one from the asset's own first-cycles baseline (engines start with different wear).
* **Regressor** — gradient-boosted trees (LightGBM), a small seed ensemble averaged; predictions clipped to
  ``[0, cap]``.

The features are computed with cumulative sums, so one call gives every cycle of a history in O(cycles x signals):
training uses all rows, the live app uses the last row (:meth:`RulModel.predict_history`).

Scoring (:func:`rmse`, :func:`phm08_score`) follows the PHM08 challenge: d = predicted - true, the score
penalises late predictions (d > 0, the asset fails before we said) more than early ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict, Unpack

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from werk.apps.maintenance.anomaly import Rows, as_array

FloatArray = npt.NDArray[np.float64]
History = Rows  # one row per cycle

FEATURE_SET_VERSION = "rul-window-v1"
# Settings chosen by cross-validation on training engines only (benchmarks/rul_cmapss.py prints the comparison);
# two threads because training runs beside the plant's services on small edge boxes.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
}
DEFAULT_ROUNDS = 1500
SMALL_BATCH = 1000  # rows below which a prediction runs on one thread


@dataclass(frozen=True)
class RulFeatureSpec:
    """Which signals, in which order, and the window shapes; part of a model file's identity."""

    signals: tuple[str, ...]
    windows: tuple[int, ...] = (5, 10, 20, 30)
    alphas: tuple[float, ...] = (0.1, 0.3)
    baseline_cycles: int = 20

    def feature_names(self) -> list[str]:
        names = ["cycle", *(f"{s}.last" for s in self.signals)]
        for w in self.windows:
            names += [f"{s}.mean{w}" for s in self.signals]
            names += [f"{s}.slope{w}" for s in self.signals]
        for a in self.alphas:
            names += [f"{s}.ewm{a:g}" for s in self.signals]
        names += [f"{s}.drift" for s in self.signals]
        return names

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FEATURE_SET_VERSION,
            "signals": list(self.signals),
            "windows": list(self.windows),
            "alphas": list(self.alphas),
            "baseline_cycles": self.baseline_cycles,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RulFeatureSpec:
        if d.get("version") != FEATURE_SET_VERSION:
            raise ValueError(f"feature set {d.get('version')!r}, this code computes {FEATURE_SET_VERSION!r}")
        return cls(
            signals=tuple(str(s) for s in d["signals"]),
            windows=tuple(int(w) for w in d["windows"]),
            alphas=tuple(float(a) for a in d["alphas"]),
            baseline_cycles=int(d["baseline_cycles"]),
        )


def select_signals(train: FloatArray, names: Sequence[str]) -> tuple[str, ...]:
    """The signals worth modelling: more than two distinct values over the training rows (columns = ``names``)."""
    if train.ndim != 2 or train.shape[1] != len(names):
        raise ValueError(f"training array has shape {train.shape}, expected (rows, {len(names)})")
    return tuple(n for j, n in enumerate(names) if np.unique(train[:, j]).size > 2)


def _window_sums(c: FloatArray, w: int) -> FloatArray:
    """Sum over the last ``w`` rows (fewer at the start) from a cumulative sum with a leading zero row."""
    n = c.shape[0] - 1
    hi = np.arange(1, n + 1)
    lo = np.maximum(hi - w, 0)
    sums: FloatArray = c[hi] - c[lo]
    return sums


def history_features(history: History, spec: RulFeatureSpec) -> FloatArray:
    """Features of every cycle of one asset's history, shape (cycles, len(spec.feature_names())).

    Row i depends only on cycles 0..i, so the last row is what a live asset with that history gets. The history
    must start at the asset's last renewal (cycle 1 of its life).
    """
    x = as_array(history, spec.signals, "cycles")
    n, m = x.shape
    if n == 0:
        raise ValueError("history is empty: at least one cycle is needed")
    t = np.arange(1, n + 1, dtype=np.float64)
    zero = np.zeros((1, m))
    cx = np.vstack([zero, np.cumsum(x, axis=0)])
    ctx = np.vstack([zero, np.cumsum(t[:, None] * x, axis=0)])
    ct = np.concatenate([[0.0], np.cumsum(t)])[:, None]
    ctt = np.concatenate([[0.0], np.cumsum(t * t)])[:, None]
    parts: list[FloatArray] = [t[:, None], x]
    for w in spec.windows:
        k = np.minimum(t, w)[:, None]
        sx, stx = _window_sums(cx, w), _window_sums(ctx, w)
        st, stt = _window_sums(ct, w), _window_sums(ctt, w)
        den = k * stt - st**2
        slope = np.divide(k * stx - st * sx, den, out=np.zeros_like(sx), where=den > 0)
        parts += [sx / k, slope]
    ewm = x
    for a in spec.alphas:
        ewm = np.empty_like(x)
        ewm[0] = x[0]
        for i in range(1, n):
            ewm[i] = a * x[i] + (1.0 - a) * ewm[i - 1]
        parts.append(ewm)
    nb = np.minimum(t, spec.baseline_cycles).astype(np.int64)
    baseline = cx[nb] / nb[:, None]
    parts.append(ewm - baseline)
    return np.hstack(parts)


def piecewise_rul(n_cycles: int, cap: float) -> FloatArray:
    """Training target of a run-to-failure history: cycles left after each cycle, capped at ``cap``."""
    return np.minimum(np.arange(n_cycles - 1, -1, -1, dtype=np.float64), cap)


def rmse(predicted: npt.ArrayLike, true: npt.ArrayLike) -> float:
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(d**2)))


def phm08_score(predicted: npt.ArrayLike, true: npt.ArrayLike) -> float:
    """PHM08 challenge score, lower is better: sum of exp(-d/13)-1 (early, d<0) and exp(d/10)-1 (late)."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def training_set(
    histories: Sequence[FloatArray], spec: RulFeatureSpec, cap: float
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Features, capped targets and the history index of every row of run-to-failure histories."""
    xs, ys, gs = [], [], []
    for i, h in enumerate(histories):
        f = history_features(h, spec)
        xs.append(f)
        ys.append(piecewise_rul(len(f), cap))
        gs.append(np.full(len(f), i, dtype=np.int64))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(gs)


DEFAULT_CAP = 125.0


class TrainOptions(TypedDict, total=False):
    """How :meth:`RulModel.fit_features` trains, its defaults for those left out: the ``cap`` on the target
    (cycles), LightGBM ``params`` over :data:`DEFAULT_PARAMS`, boosting ``rounds``, one booster per seed of
    ``seeds``."""

    cap: float
    params: Mapping[str, Any] | None
    rounds: int
    seeds: Sequence[int]


@dataclass
class RulModel:
    """A trained RUL regressor: a seed ensemble of LightGBM boosters over :func:`history_features`."""

    kind: ClassVar[str] = "rul-lightgbm"

    spec: RulFeatureSpec
    cap: float
    boosters: list[lgb.Booster] = field(repr=False)

    @classmethod
    def fit(
        cls, histories: Sequence[FloatArray], spec: RulFeatureSpec, **options: Unpack[TrainOptions]
    ) -> RulModel:
        """Train on run-to-failure histories (each ends at the failure cycle), arrays of (cycles, signals)."""
        if not histories:
            raise ValueError("no training histories")
        x, y, _ = training_set(histories, spec, options.get("cap", DEFAULT_CAP))
        return cls.fit_features(x, y, spec, **options)

    @classmethod
    def fit_features(
        cls,
        x: FloatArray,
        y: FloatArray,
        spec: RulFeatureSpec,
        *,
        cap: float = DEFAULT_CAP,
        params: Mapping[str, Any] | None = None,
        rounds: int = DEFAULT_ROUNDS,
        seeds: Sequence[int] = (0, 1, 2),
    ) -> RulModel:
        """Train on a ready feature matrix (rows of :func:`history_features`) and capped targets."""
        base = {**DEFAULT_PARAMS, **(params or {})}
        boosters = []
        for seed in seeds:
            data = lgb.Dataset(x, y, feature_name=_lgb_names(spec), free_raw_data=True)
            boosters.append(lgb.train({**base, "seed": seed}, data, num_boost_round=rounds))
        return cls(spec=spec, cap=cap, boosters=boosters)

    def feature_names(self) -> list[str]:
        return self.spec.feature_names()

    def predict_features(self, x: FloatArray) -> FloatArray:
        """RUL in cycles for each feature row, averaged over the ensemble and clipped to [0, cap]."""
        # one thread for the live app's one row a cycle: LightGBM's OpenMP team costs about 20 ms a call on a
        # busy 2-core machine, 0.06 ms without it; a batch (training's hold-out, benchmarks) uses the model's
        small = len(x) < SMALL_BATCH
        preds = [
            np.asarray(b.predict(x, num_threads=1) if small else b.predict(x), dtype=np.float64)
            for b in self.boosters
        ]
        mean: FloatArray = np.mean(preds, axis=0)
        return np.clip(mean, 0.0, self.cap)

    def predict_history(self, history: History) -> float:
        """RUL in cycles after the last cycle of one asset's history (since its last renewal)."""
        return float(self.predict_features(history_features(history, self.spec)[-1:])[0])

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON-able parameters: LightGBM's own text model format, no pickle."""
        return {
            "spec": self.spec.to_dict(),
            "cap": self.cap,
            "boosters": [b.model_to_string() for b in self.boosters],
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> RulModel:
        spec = RulFeatureSpec.from_dict(payload["spec"])
        boosters = [lgb.Booster(model_str=s) for s in payload["boosters"]]
        for b in boosters:
            if b.num_feature() != len(spec.feature_names()):
                raise ValueError(
                    f"booster expects {b.num_feature()} features, the spec gives {len(spec.feature_names())}"
                )
        return cls(spec=spec, cap=float(payload["cap"]), boosters=boosters)


def _lgb_names(spec: RulFeatureSpec) -> list[str]:
    # LightGBM refuses some characters in feature names; keep ours readable but safe
    return [n.replace(".", "_") for n in spec.feature_names()]


def cross_validate(
    histories: Sequence[FloatArray],
    spec: RulFeatureSpec,
    *,
    cap: float = DEFAULT_CAP,
    params: Mapping[str, Any] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    folds: int = 5,
    cuts_per_history: int = 5,
    seed: int = 0,
    seeds: Sequence[int] = (0,),
) -> float:
    """RMSE on held-out histories cut at random cycles, k-fold over histories (never over rows of one history).

    This mimics the test protocol (the last cycle of a truncated history) on training data only, so model choices
    never look at test labels. Cuts start at cycle 31, like the shortest C-MAPSS test histories.
    """
    x, y, g = training_set(histories, spec, cap)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(histories))
    errors: list[float] = []
    for f in range(folds):
        held = order[f::folds]
        train = ~np.isin(g, held)
        model = RulModel.fit_features(
            x[train], y[train], spec, cap=cap, params=params, rounds=rounds, seeds=seeds
        )
        for h in held:
            rows = np.flatnonzero(g == h)
            cuts = rng.integers(min(30, len(rows) - 1), len(rows), size=cuts_per_history)
            pred = model.predict_features(x[rows[cuts]])
            errors.extend((pred - y[rows[cuts]]).tolist())
    return float(np.sqrt(np.mean(np.square(errors))))
