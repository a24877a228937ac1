"""Multivariate anomaly detection on live signals: pure engine, data in, data out.

Fit on a healthy period, then score each new sample. Each *feature* is either a signal's level or its change over
the last ``window`` samples (``x_t - x_{t-window}``); the score is the squared standardised deviation of every
feature from its healthy mean (a diagonal Mahalanobis distance, i.e. Hotelling's T-squared without the
cross-covariance), averaged over the last ``window`` samples:

    score_t = mean over the last ``window`` samples of  sum_f ((f - mean_f) / std_f)^2

By default every signal enters by its level (the detector werk has always run). ``changes=`` names signals that
also, or with ``levels=`` leaving them out, instead, enter by their change. Why a change: a signal that integrates
the process, such as a water or motor temperature, drifts with the history of the run (a pump loop warms through
a run and stays warm for minutes after a fault has cleared), so its *level* can leave the range of a short healthy
period for reasons that are not a fault now; its *rate* is the heat imbalance now. The change is taken over the
smoothing window, so no second time constant is introduced. (On SKAB, whose healthy periods are 400 s, scoring the
two temperatures by their change did not beat leaving them out; see BENCHMARKS.md.)

Why this form:

* **Explainable.** The score is a sum over features, so each signal's share (:meth:`AnomalyDetector.explain`,
  the shares of its level and its change added) is exact and non-negative; a plant engineer sees "Current and
  Volume Flow drove it", not an opaque number. A full covariance T-squared splits into contributions that can be
  negative and scored no better on SKAB.
* **Smoothed.** One noisy sample should not raise an alarm; a moving mean over ``window`` samples (60 at 1 Hz, the
  window SKAB's Conv-AE and MSET baselines use) trades a delay of seconds for far fewer false alarms. The mean is
  causal (past samples only), so the live score equals the offline one.
* **Threshold from healthy data only.** ``threshold = quantile(healthy full-window scores, 0.999) x 4/3``: the
  upper control limit rule of SKAB's Conv-AE baseline (``UCL = residuals.quantile(0.999) * 4 / 3``, over
  full-window residuals), applied to our score. No labelled fault is needed to set it. The first ``window - 1``
  scores of a stream average fewer samples, so they are left out of the quantile and never alarm
  (:attr:`AnomalyDetector.ready`, :meth:`AnomalyDetector.alarms_batch`).

**Sides.** ``sides=`` makes a feature one-sided: ``"up"`` scores only deviations above its healthy mean (a
vibration, a temperature, a power draw: a machine running cooler and smoother than its baseline, as one does after a
repair, is not anomalous), ``"down"`` only those below, ``"both"`` (the default) either. The z-score of a one-sided
feature is clipped at zero on its harmless side before it is squared.

State: :meth:`score_one` keeps two bounded deques, the last ``window`` per-feature terms and the last
``window + 1`` raw rows (for the changes); memory is ``O(window x signals)`` floats whatever the stream length.
:meth:`score_batch` is the same maths over an array from a fresh state, for benchmarks and back-fills.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Rows = FloatArray | Sequence[Mapping[str, float]]

# v1: levels of all signals (still written for such detectors, so older werk reads them); v2: any levels/changes;
# v3: v2 with one-sided features (written only when a feature is one-sided)
FEATURE_SET_VERSION = "anomaly-zsq-v2"
SIDED_VERSION = "anomaly-zsq-v3"
SIDES = {"both": 0, "up": 1, "down": -1}
LEVELS_ONLY_VERSION = "anomaly-zsq-v1"
CHANGE_SUFFIX = ":change"
DEFAULT_WINDOW = 60
DEFAULT_QUANTILE = 0.999
DEFAULT_MARGIN = 4.0 / 3.0


def as_array(rows: Rows, signals: Sequence[str], what: str = "samples") -> FloatArray:
    """``rows`` as a (``what``, signals) float array: an array of that shape, or one mapping per row that names
    every signal (a row that does not is refused with its index). ``what`` names a row in the messages."""
    if isinstance(rows, np.ndarray):
        arr = np.asarray(rows, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(signals):
            raise ValueError(f"{what} have shape {arr.shape}, expected ({what}, {len(signals)})")
        return arr
    out = np.empty((len(rows), len(signals)))
    for i, row in enumerate(rows):
        out[i] = _row(row, signals, where=f"row {i}")
    return out


def _row(sample: Mapping[str, float], signals: Sequence[str], where: str = "sample") -> FloatArray:
    missing = [s for s in signals if s not in sample]
    if missing:
        raise ValueError(f"{where} lacks signals {missing}")
    return np.array([float(sample[s]) for s in signals])


def causal_moving_mean(values: FloatArray, window: int) -> FloatArray:
    """Mean of the last ``window`` rows (fewer at the start) for each row, along axis 0."""
    c = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    hi = np.arange(1, len(values) + 1)
    lo = np.maximum(hi - window, 0)
    counts = (hi - lo).reshape(-1, *([1] * (values.ndim - 1)))
    result: FloatArray = (c[hi] - c[lo]) / counts
    return result


def causal_change(values: FloatArray, window: int) -> FloatArray:
    """``values[t] - values[t - window]`` for each row (against the first row while fewer are there), axis 0."""
    lag = np.maximum(np.arange(len(values)) - window, 0)
    result: FloatArray = values - values[lag]
    return result


@dataclass
class AnomalyDetector:
    """Healthy-baseline detector: ``score_one`` per sample, ``threshold``, ``explain`` per signal.

    ``mean`` and ``scale`` are per feature, in :meth:`feature_names` order: the ``levels`` first, then the
    ``changes``. ``levels=None`` means every signal.
    """

    kind: ClassVar[str] = "anomaly-zsq"

    signals: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    window: int
    threshold: float
    levels: tuple[str, ...] | None = None
    changes: tuple[str, ...] = ()
    sides: tuple[str, ...] | None = None
    _recent: deque[FloatArray] = field(init=False, repr=False)
    _raw: deque[FloatArray] = field(init=False, repr=False)
    _level_idx: list[int] = field(init=False, repr=False)
    _change_idx: list[int] = field(init=False, repr=False)
    _level_ix: npt.NDArray[np.intp] = field(init=False, repr=False)
    _change_ix: npt.NDArray[np.intp] = field(init=False, repr=False)
    _all_levels: bool = field(init=False, repr=False)
    _z_low: FloatArray = field(init=False, repr=False)
    _z_high: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1 sample, got {self.window}")
        levels = self.signals if self.levels is None else self.levels
        unknown = [s for s in (*levels, *self.changes) if s not in self.signals]
        if unknown:
            raise ValueError(f"levels/changes name signals {unknown} that are not among {list(self.signals)}")
        if len(set(levels)) != len(levels) or len(set(self.changes)) != len(self.changes):
            raise ValueError("a signal is named twice in levels or in changes")
        if not levels and not self.changes:
            raise ValueError("no features: levels and changes are both empty")
        self._level_idx = [self.signals.index(s) for s in levels]
        self._change_idx = [self.signals.index(s) for s in self.changes]
        self._level_ix = np.asarray(self._level_idx, dtype=np.intp)
        self._change_ix = np.asarray(self._change_idx, dtype=np.intp)
        self._all_levels = not self.changes and self._level_idx == list(range(len(self.signals)))
        n = len(self._level_idx) + len(self._change_idx)
        if np.shape(self.mean) != (n,) or np.shape(self.scale) != (n,):
            raise ValueError(
                f"mean/scale have shapes {np.shape(self.mean)}, {np.shape(self.scale)}; expected ({n},)"
            )
        sides = ("both",) * n if self.sides is None else self.sides
        if len(sides) != n or any(side not in SIDES for side in sides):
            raise ValueError(f"sides must be {n} of {sorted(SIDES)}, got {list(sides)}")
        codes = np.array([SIDES[side] for side in sides])
        self._z_low = np.where(codes > 0, 0.0, -np.inf)
        self._z_high = np.where(codes < 0, 0.0, np.inf)
        self._recent = deque(maxlen=self.window)
        self._raw = deque(maxlen=self.window + 1)

    @classmethod
    def fit(
        cls,
        healthy: Rows,
        signals: Sequence[str],
        *,
        window: int = DEFAULT_WINDOW,
        quantile: float = DEFAULT_QUANTILE,
        margin: float = DEFAULT_MARGIN,
        levels: Sequence[str] | None = None,
        changes: Sequence[str] = (),
        sides: Sequence[str] | None = None,
    ) -> AnomalyDetector:
        """Learn each feature's healthy mean and spread, and the alarm threshold, from a healthy period.

        ``levels``: signals scored by their level (default: all); ``changes``: signals scored by their change over
        ``window`` samples (default: none); ``sides``: per feature (:meth:`feature_names` order) ``"up"``,
        ``"down"`` or ``"both"`` (default: both for every feature).
        """
        x = as_array(healthy, signals)
        if len(x) < 2:
            raise ValueError("a healthy period of at least 2 samples is needed")
        lv = None if levels is None else tuple(levels)
        ch = tuple(changes)
        k = len(signals if lv is None else lv)
        # unit scale and no threshold until fitted; the constructor validates the feature lists
        sd = None if sides is None else tuple(sides)
        detector = cls(
            tuple(signals), np.zeros(k + len(ch)), np.ones(k + len(ch)), window, float("inf"), lv, ch, sd
        )
        f = detector.features_batch(x)
        # the change of a sample with fewer than ``window`` before it is a partial one: fit on full ones if any
        full = f[window:] if len(x) - window >= 2 else f
        mean = np.concatenate([f[:, :k].mean(axis=0), full[:, k:].mean(axis=0)])
        std = np.concatenate([f[:, :k].std(axis=0), full[:, k:].std(axis=0)])
        # a feature that never moved while healthy still gets a finite scale: 1e-6 of its signal's level, or 1e-9
        level = np.abs(x.mean(axis=0))[detector._level_idx + detector._change_idx]
        detector.mean = mean
        detector.scale = np.maximum(std, np.maximum(level * 1e-6, 1e-9))
        # the threshold is applied to full-window scores (see :attr:`ready`), so it is their quantile: the first
        # ``window - 1`` scores average fewer samples, are noisier, and would otherwise set it by chance
        healthy_scores = detector.score_batch(x)
        steady = healthy_scores[window - 1 :] if len(x) - window >= 1 else healthy_scores
        detector.threshold = float(np.quantile(steady, quantile) * margin)
        return detector

    def feature_names(self) -> list[str]:
        """Levels by their signal's name, changes as ``<signal>:change``; with the default features, the signals."""
        return [self.signals[i] for i in self._level_idx] + [
            self.signals[i] + CHANGE_SUFFIX for i in self._change_idx
        ]

    def feature_signals(self) -> list[str]:
        """The signal each feature comes from, in :meth:`feature_names` order."""
        return [self.signals[i] for i in (*self._level_idx, *self._change_idx)]

    def features_batch(self, x: FloatArray) -> FloatArray:
        """Raw features (levels, then changes over ``window``) of consecutive samples from a fresh state."""
        return np.hstack([x[:, self._level_idx], causal_change(x[:, self._change_idx], self.window)])

    def terms(self, features: FloatArray) -> FloatArray:
        """Per-sample, per-feature squared standardised deviations (one-sided ones clipped), shape
        (samples, features)."""
        z = np.clip((features - self.mean) / self.scale, self._z_low, self._z_high)
        result: FloatArray = z * z
        return result

    def contributions_batch(self, rows: Rows) -> FloatArray:
        """Per-feature smoothed terms for each sample (from a fresh state); they sum to :meth:`score_batch`."""
        x = as_array(rows, self.signals)
        return causal_moving_mean(self.terms(self.features_batch(x)), self.window)

    def score_batch(self, rows: Rows) -> FloatArray:
        """Smoothed score of every sample of an array or list of dicts, as if streamed from a fresh state."""
        result: FloatArray = self.contributions_batch(rows).sum(axis=1)
        return result

    def score_one(self, sample: Mapping[str, float]) -> float:
        """Add one sample (a value for every fitted signal) and return the smoothed anomaly score."""
        x = _row(sample, self.signals)
        self._raw.append(x)
        self._recent.append(self._terms_one(x, self._raw[0]))
        return float(np.mean(self._recent, axis=0).sum())

    def _terms_one(self, x: FloatArray, before: FloatArray) -> FloatArray:
        if self._all_levels:  # the default features: no indexing on the per-cycle path
            f = x
        else:
            f = np.concatenate([x[self._level_ix], x[self._change_ix] - before[self._change_ix]])
        z = np.clip((f - self.mean) / self.scale, self._z_low, self._z_high)
        result: FloatArray = z * z
        return result

    @property
    def ready(self) -> bool:
        """The smoothing window is full: scores from here on are comparable with the threshold."""
        return len(self._recent) == self.window

    def is_anomalous(self, score: float) -> bool:
        return score > self.threshold

    def alarms_batch(self, rows: Rows) -> npt.NDArray[np.bool_]:
        """Whether each sample raises an alarm, as if streamed from a fresh state: its score is above the threshold
        and the window is full (the first ``window - 1`` samples never alarm, as :attr:`ready` is false for them)."""
        alarms: npt.NDArray[np.bool_] = self.score_batch(rows) > self.threshold
        alarms[: self.window - 1] = False
        return alarms

    def explain(
        self, sample: Mapping[str, float] | None = None, *, by_feature: bool = False
    ) -> dict[str, float]:
        """Each signal's share of the current score (fractions summing to 1), largest first.

        With ``sample`` the sample alone is explained (no smoothing, nothing added to the state; its change is taken
        against the samples seen so far); without it, the smoothed score over the samples seen by :meth:`score_one`.
        A signal's share adds its level's and its change's; ``by_feature=True`` gives them apart.
        """
        if sample is not None:
            x = _row(sample, self.signals)
            # the sample's change as if it were the next one scored: the oldest row that would stay in the deque
            before = (
                self._raw[1] if len(self._raw) == self._raw.maxlen else (self._raw[0] if self._raw else x)
            )
            terms = self._terms_one(x, before)
        elif self._recent:
            terms = np.mean(self._recent, axis=0)
        else:
            raise ValueError("nothing to explain: no sample given and none scored yet")
        names = self.feature_names() if by_feature else self.feature_signals()
        total = float(terms.sum())
        shares = terms / total if total > 0 else np.full(len(terms), 1.0 / len(terms))
        out: dict[str, float] = {}
        for name, share in zip(names, shares.tolist(), strict=True):
            out[name] = out.get(name, 0.0) + share
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def reset(self) -> None:
        """Forget the smoothing window and the rows the changes look back to (after maintenance, a restart, a gap)."""
        self._recent.clear()
        self._raw.clear()

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "version": LEVELS_ONLY_VERSION,
            "signals": list(self.signals),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "window": self.window,
            "threshold": self.threshold,
        }
        if self.levels is not None or self.changes or self.sides is not None:
            payload["version"] = FEATURE_SET_VERSION
            payload["levels"] = None if self.levels is None else list(self.levels)
            payload["changes"] = list(self.changes)
        if self.sides is not None:
            payload["version"] = SIDED_VERSION
            payload["sides"] = list(self.sides)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AnomalyDetector:
        version = payload.get("version")
        if version not in (SIDED_VERSION, FEATURE_SET_VERSION, LEVELS_ONLY_VERSION):
            raise ValueError(f"feature set {version!r}, this code computes {SIDED_VERSION!r}")
        listed = version != LEVELS_ONLY_VERSION
        signals = tuple(str(s) for s in payload["signals"])
        mean = np.asarray(payload["mean"], dtype=np.float64)
        scale = np.asarray(payload["scale"], dtype=np.float64)
        levels_raw = payload.get("levels") if listed else None
        levels = None if levels_raw is None else tuple(str(s) for s in levels_raw)
        changes = tuple(str(s) for s in payload.get("changes", ())) if listed else ()
        sides_raw = payload.get("sides") if version == SIDED_VERSION else None
        sides = None if sides_raw is None else tuple(str(s) for s in sides_raw)
        n = len(signals if levels is None else levels) + len(changes)
        if mean.shape != (n,) or scale.shape != (n,) or np.any(scale <= 0):
            raise ValueError("mean/scale do not match the feature list, or a scale is not positive")
        return cls(
            signals, mean, scale, int(payload["window"]), float(payload["threshold"]), levels, changes, sides
        )
