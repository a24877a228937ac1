"""Energy baselines after ISO 50006: energy explained by its drivers (parts, operating hours, outside temperature)
by ordinary least squares, accepted only when the model is statistically valid, and savings against it with their
uncertainty. Pure functions, no I/O.

Acceptance (ISO 50006 Annex C, IPMVP's usual thresholds): the regression's F-test p-value below ``max_p`` (0.10),
R² at least ``min_r2`` (0.5), and more observations than coefficients plus two. A baseline that fails says which
test it failed and by how much, so a person can add a driver or a longer period rather than trust a poor model.
When savings are computed, each reporting period's drivers must lie inside the range the baseline saw (within
``range_margin`` of it), since a regression says nothing outside its data.

Savings = baseline expected - actual, summed over the reporting periods; the uncertainty is the half-width of the
prediction interval of that sum at ``confidence`` (the model's residual variance plus the variance of the
coefficients at the reporting drivers, Student's t with n - p degrees of freedom).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats  # type: ignore[import-untyped]  # scipy comes with lightgbm, a werk dependency


def _finite(x: float) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: coefficients (``intercept`` and one per driver), fit statistics, the drivers' range, and
    whether it is valid (``reasons`` empty) or why not."""

    drivers: tuple[str, ...]
    intercept: float
    coefficients: dict[str, float]
    n: int
    r2: float
    p_value: float
    cv_rmse: float
    ranges: dict[str, tuple[float, float]]
    reasons: list[str] = field(default_factory=list)
    _xtx_inv: tuple[tuple[float, ...], ...] = ()
    _sigma2: float = 0.0

    @property
    def valid(self) -> bool:
        return not self.reasons

    def expected(self, drivers: Mapping[str, float]) -> float:
        return self.intercept + sum(self.coefficients[d] * float(drivers[d]) for d in self.drivers)

    def as_dict(self) -> dict[str, object]:
        return {
            "drivers": list(self.drivers),
            "intercept": self.intercept,
            "coefficients": self.coefficients,
            "n": self.n,
            "r2": self.r2,
            "p_value": self.p_value,
            "cv_rmse": _finite(self.cv_rmse),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "valid": self.valid,
            "reasons": self.reasons,
        }


def fit(
    energy: Sequence[float],
    drivers: Mapping[str, Sequence[float]],
    *,
    max_p: float = 0.10,
    min_r2: float = 0.5,
) -> Baseline:
    """Fit energy (one value per period, e.g. per day or week) against its drivers (same length each)."""
    names = tuple(drivers)
    y = np.asarray(energy, dtype=np.float64)
    n, k = len(y), len(names)
    for d in names:
        if len(drivers[d]) != n:
            raise ValueError(f"driver {d!r} has {len(drivers[d])} values, energy has {n}")
    reasons: list[str] = []
    p = k + 1
    if n < p + 2:
        reasons.append(f"only {n} periods for {p} coefficients: at least {p + 2} are needed")
        return Baseline(
            names,
            float(y.mean()) if n else 0.0,
            dict.fromkeys(names, 0.0),
            n,
            0.0,
            1.0,
            math.nan,
            {},
            reasons,
        )
    x = np.column_stack([np.ones(n), *[np.asarray(drivers[d], dtype=np.float64) for d in names]])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    dof = n - p
    sigma2 = ss_res / dof
    if k == 0 or ss_tot == 0:
        p_value = 1.0
    elif ss_res == 0:
        p_value = 0.0
    else:
        f_stat = ((ss_tot - ss_res) / k) / (ss_res / dof)
        p_value = float(stats.f.sf(f_stat, k, dof))
    mean = float(y.mean())
    cv = math.sqrt(sigma2) / mean if mean else math.nan
    if p_value >= max_p:
        reasons.append(f"F-test p = {p_value:.3g}, not below {max_p}: the drivers do not explain the energy")
    if r2 < min_r2:
        reasons.append(f"R² = {r2:.3f}, below {min_r2}")
    try:
        inv = np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        reasons.append("the drivers are collinear (one is a multiple of another)")
        inv = np.full((p, p), np.nan)
    ranges = {d: (float(np.min(x[:, i + 1])), float(np.max(x[:, i + 1]))) for i, d in enumerate(names)}
    return Baseline(
        names,
        float(beta[0]),
        {d: float(beta[i + 1]) for i, d in enumerate(names)},
        n,
        r2,
        p_value,
        cv,
        ranges,
        reasons,
        tuple(tuple(float(v) for v in row) for row in inv),
        sigma2,
    )


@dataclass(frozen=True)
class Savings:
    """Savings over reporting periods: expected (baseline) - actual, with the half-width of its interval at
    ``confidence``; ``reasons`` say why it cannot be trusted (an invalid baseline, drivers out of range)."""

    expected: float
    actual: float
    savings: float
    uncertainty: float
    confidence: float
    reasons: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "expected": self.expected,
            "actual": self.actual,
            "savings": self.savings,
            "uncertainty": _finite(self.uncertainty),
            "confidence": self.confidence,
            "valid": not self.reasons,
            "reasons": self.reasons,
        }


def savings(
    baseline: Baseline,
    actual: Sequence[float],
    drivers: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.90,
    range_margin: float = 0.10,
) -> Savings:
    """Savings of the reporting periods (``actual`` energy and their ``drivers``) against ``baseline``."""
    reasons = list(baseline.reasons)
    m = len(actual)
    rows = (
        np.column_stack([np.ones(m), *[np.asarray(drivers[d], dtype=np.float64) for d in baseline.drivers]])
        if m
        else np.zeros((0, len(baseline.drivers) + 1))
    )
    for i, d in enumerate(baseline.drivers):
        lo, hi = baseline.ranges.get(d, (math.nan, math.nan))
        pad = (hi - lo) * range_margin
        vals = rows[:, i + 1]
        if m and (vals.min() < lo - pad or vals.max() > hi + pad):
            reasons.append(
                f"driver {d!r} ranges {vals.min():g}..{vals.max():g} in the reporting periods, outside the "
                f"baseline's {lo:g}..{hi:g}"
            )
    beta = np.asarray([baseline.intercept, *[baseline.coefficients[d] for d in baseline.drivers]])
    expected = float(np.sum(rows @ beta)) if m else 0.0
    act = math.fsum(actual)
    uncertainty = math.nan
    if baseline._xtx_inv and baseline.n > len(beta):
        inv = np.asarray(baseline._xtx_inv)
        ones = rows.sum(axis=0)
        var = baseline._sigma2 * (m + float(ones @ inv @ ones))
        t = float(stats.t.ppf(0.5 + confidence / 2, baseline.n - len(beta)))
        uncertainty = t * math.sqrt(max(var, 0.0))
    return Savings(expected, act, expected - act, uncertainty, confidence, reasons)
