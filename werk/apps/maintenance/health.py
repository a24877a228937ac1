"""An asset's health, decided from its per-cycle rows: baseline, anomaly score, RUL, warnings and one health state.
Pure: rows and their times in, decisions out; its state goes to a dict and back (:meth:`AssetHealth.to_state`), so
the app can keep it in its tables across restarts.

**Baseline.** ``baseline_cycles`` rows of the asset while it runs: enough to cover its normal variety (products,
changeovers, warm and cold starts). A repair while the first baseline is being learned drops its last
``skip_before_repair`` rows (the failing end of a life is not healthy behaviour). The best healthy reference is a
machine just repaired, so a baseline is *anchored* when it was learned from the start of a life and *provisional*
otherwise (the first one: learned from whatever point of its life the asset was at when werk began watching). A
provisional baseline keeps scoring, and at the asset's next repair an anchored one is learned from the new life to
replace it (restarted by a repair before it is complete: an asset whose lives are shorter than a baseline keeps
its provisional one). The rows are stored; the detector and its threshold are computed from them again at every
start, so a change of the false-alarm budget, the sides or the smoothing takes effect without relearning.

**Score.** :class:`~werk.apps.maintenance.anomaly.AnomalyDetector` over the rows: a sum of squared z-scores against
the baseline, one-sided where the settings say so (a vibration or temperature below its baseline is a healthier
machine, not an anomaly: that is how a repaired machine looks), averaged over ``smoothing_cycles`` cycles.

**Threshold from a false-alarm budget** (:func:`calibrate`). The user allows ``false_alarms_per_month`` warnings per
machine on a healthy machine. With the asset's cycle rate ``r`` (cycles per month, measured while the baseline was
learned: wall-clock time between its first and last row, stops included), that is a probability per cycle of
``p = budget / r``. A warning episode starts with an up-crossing of the threshold ``T`` (and needs more: ``N``
cycles above it in a row), so episodes per cycle <= up-crossings per cycle <= ``P(score > T)``; choosing ``T`` with
``P(score > T) = p`` keeps the false warnings at or below the budget, whatever the scores' correlation from cycle to
cycle (the bound is loose by about the length of a run above the threshold, so the real rate is lower).
``P(score > T)`` comes from a gamma distribution fitted by moments to out-of-sample scores: a probe detector is fitted
on two of every three baseline cycles and the third ones, which it has not seen, are scored as live cycles will be.
Held-out cycles are spread over the whole baseline rather than taken from its end, so a slow drift inside the
baseline (a machine's wear over its first cycles) counts as range the detector has seen, not as an extrapolation:
on the simulator a hold-out of the last third set thresholds an order of magnitude higher on the fastest-wearing
machines and missed their breakdowns (BENCHMARKS.md). A smoothed sum of squared z-scores is a scaled chi-square
when the signals are Gaussian and independent, and a gamma (its generalisation with free shape and scale) also
takes correlated and drifting signals. Its
quantile is taken with the Wilson-Hilferty cube-root normal approximation. The detector that runs is then fitted on
the whole baseline (its spread estimated from more rows, so its live scores are if anything lower than the held-out
ones the threshold came from). With fewer than :data:`MIN_HOLDOUT` held-out scores (a baseline shorter than about
60 cycles) the moments are too unsure, and the threshold does not go below :func:`threshold_floor`, the bound for
independent Gaussian signals.

**Hysteresis** (:class:`Hysteresis`). A warning is raised after ``anomaly_cycles`` cycles in a row above ``T`` and
cleared after ``clear_cycles`` cycles in a row below a lower level ``L`` (the fitted healthy distribution's 95 %
quantile: back inside the healthy range, not just under the line). A cleared warning re-arms, so a false alarm does
not blind the asset to the failure that follows. The RUL warning works the same way: raised when the predicted RUL
is below ``rul_warning_cycles`` for ``anomaly_cycles`` cycles, cleared when it is above 1.5 times that for
``clear_cycles`` cycles (a repair restarts the life the model reads, so its RUL rises and the warning clears).

**Health state** (:meth:`AssetHealth.status`): ``learning`` (no baseline yet, so no anomaly check, and no RUL
warning or watch either: a RUL model alone does not make an asset ``ok``, since the anomaly score, which sees fault
modes the RUL model never saw, cannot judge it yet; the reason gives the RUL, when there is one, and the baseline's
progress), ``ok`` (the anomaly check runs and nothing is wrong), ``watch``
(the score is above the threshold but not yet for long enough; or the anomaly episode is raised but a valid RUL
model predicts at least twice ``rul_warning_cycles``; or the RUL is below twice the warning level), ``warning``
(the anomaly or the RUL warning is raised), ``alarm`` (both are: two independent models agree). The anomaly score
says "unlike the baseline"; the RUL model, trained on this asset type's run-to-failure lives, says whether such a
difference is near a failure. Normal wear shows in the score long before it matters (a machine at half its life
vibrates twice as much as a new one), so where a valid model says the failure is far, the anomaly alone is a
``watch``, with both figures in the reason; without a model the anomaly warns on its own. A fault mode the RUL
model never saw is the price of that rule: it is watched, not warned, while the model is confident. The reason
names the signals, the models and how sure they are: the baseline's coverage and the RUL model's hold-out error,
or why there is none.

**Renewal.** A stop that went through ``maintenance`` is taken as a repair: the history the RUL model reads
restarts (its model was trained on lives that start at a renewal), and the smoothing window starts afresh. The
baseline stays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from werk.apps.maintenance.anomaly import AnomalyDetector
from werk.apps.maintenance.rul import RulModel
from werk.i18n import N_

MAX_HISTORY = (
    5000  # cycles kept per life; a longer life keeps its latest cycles (the RUL windows are shorter)
)
SMOOTHING_CYCLES = 5
DAYS_PER_MONTH = 30.44
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86400.0
DEFAULT_CYCLE_S = 60.0  # cycle time assumed while rows come without times (tests, back-fills)
CLEAR_QUANTILE = 0.95
RUL_CLEAR_FACTOR = 1.5
RUL_WATCH_FACTOR = 2.0
MIN_HOLDOUT = 20  # held-out scores below which their moments are too unsure and the floor applies
STATE_VERSION = 1
STATES = ("learning", "ok", "watch", "warning", "alarm")


def threshold_floor(k: int, window: int = SMOOTHING_CYCLES) -> float:
    """The lowest alarm threshold: a healthy score of ``k`` independent Gaussian features is the mean over
    ``window`` cycles of a sum of ``k`` squared z-scores, about chi-square(k) / window with mean k and standard
    deviation sqrt(2k/window); six of those above the mean."""
    return k + 6.0 * math.sqrt(2.0 * k / window)


def gamma_quantile(mean: float, var: float, upper_tail: float) -> float:
    """The value a gamma distribution of this mean and variance exceeds with probability ``upper_tail``
    (Wilson-Hilferty: the cube root of a gamma variable is close to normal). In the far tail it errs high, on the
    side of fewer alarms: chi-square(4) at 1e-3 +1.4 %, at 1e-6 +5.5 %; chi-square(1) at 1e-7 +19 %."""
    mean = max(mean, 1e-12)
    var = max(var, (0.01 * mean) ** 2)
    shape, scale = mean * mean / var, var / mean
    z = NormalDist().inv_cdf(1.0 - upper_tail)
    c = 1.0 / (9.0 * shape)
    return shape * scale * max(0.0, 1.0 - c + z * math.sqrt(c)) ** 3


DRIVER_SHARE = 0.1  # a signal's share of the anomaly score below which a reason does not name it


def english_duration(seconds: float) -> str:
    """A duration as the English summary writes it (the units of :meth:`werk.i18n.Formatter.duration`)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def english(args: dict[str, Any]) -> dict[str, str]:
    """A reason's values as the English summary writes them: scores and limits with one decimal, cycles whole,
    durations (``*_s``) in minutes or hours."""
    return {
        k: english_duration(v)
        if k.endswith("_s") and isinstance(v, int | float)
        else f"{v:.1f}"
        if k in ("score", "threshold")
        else f"{v:.0f}"
        if isinstance(v, float)
        else str(v)
        for k, v in args.items()
    }


def drivers_text(
    drivers: dict[str, float], name: Callable[[str], str] = str, percent: Callable[[float], str] | None = None
) -> str:
    """The signals driving an anomaly score, with their shares (those of at least :data:`DRIVER_SHARE`):
    ``name`` and ``percent`` write them in the reader's language (default: as the plant file names them, in
    English)."""
    pct = percent or (lambda v: f"{v:.0%}")
    return ", ".join(f"{name(k)} {pct(v)}" for k, v in drivers.items() if v >= DRIVER_SHARE)


@dataclass(frozen=True)
class Calibration:
    """How a threshold was set: the held-out score distribution, the budget and what it allows per cycle."""

    threshold: float
    clear_level: float
    holdout_mean: float
    holdout_var: float
    holdout_cycles: int
    cycle_s: float  # mean seconds per cycle (wall clock, stops included) while the baseline was learned
    false_alarms_per_month: float
    exceedance_per_cycle: float  # p = budget / cycles per month: P(score > threshold) on a healthy asset
    floored: bool  # a short baseline's threshold was below :func:`threshold_floor`, which was taken instead


def calibrate(
    rows: np.ndarray,
    signals: tuple[str, ...],
    *,
    window: int,
    sides: tuple[str, ...] | None,
    cycle_s: float,
    false_alarms_per_month: float,
) -> tuple[AnomalyDetector, Calibration]:
    """The detector for a baseline (``rows``: cycles x signals) and its threshold for a false-alarm budget (see the
    module docstring for the statistics)."""
    n = len(rows)
    held_out = np.arange(n) % 3 == 2
    probe = AnomalyDetector.fit(rows[~held_out], signals, window=window, sides=sides)
    # the smoothed score of a held-out cycle still averages the cycles before it, fitted ones among them: the
    # scores are of the whole baseline streamed through the probe, taken at the held-out cycles with a full window
    scores = probe.score_batch(rows)
    held = scores[held_out & (np.arange(n) >= window - 1)]
    if len(held) < 3:  # a baseline too short for a hold-out: every full-window score (the floor guards)
        held = scores[window - 1 :] if n - window >= 2 else scores
    mean, var = float(np.mean(held)), float(np.var(held, ddof=1)) if len(held) > 1 else 0.0
    detector = AnomalyDetector.fit(rows, signals, window=window, sides=sides)
    per_month = SECONDS_PER_MONTH / max(cycle_s, 1e-6)
    p = min(0.5, false_alarms_per_month / per_month)
    budgeted = gamma_quantile(mean, var, p)
    floor = threshold_floor(len(detector.feature_names()), window) if len(held) < MIN_HOLDOUT else 0.0
    threshold = max(budgeted, floor)
    detector.threshold = threshold
    clear = min(gamma_quantile(mean, var, 1.0 - CLEAR_QUANTILE), 0.9 * threshold)
    return detector, Calibration(
        threshold, clear, mean, var, len(held), cycle_s, false_alarms_per_month, p, budgeted < floor
    )


@dataclass
class Hysteresis:
    """Raised after ``enter_cycles`` high cycles in a row, cleared after ``clear_cycles`` low ones in a row."""

    enter_cycles: int
    clear_cycles: int
    active: bool = False
    high_run: int = 0
    low_run: int = 0
    raised: int = 0  # episodes so far

    def update(self, high: bool, low: bool) -> str | None:
        """One cycle's verdict; returns ``"raised"`` or ``"cleared"`` when the state changes."""
        if not self.active:
            self.high_run = self.high_run + 1 if high else 0
            if self.high_run >= self.enter_cycles:
                self.active, self.high_run, self.low_run = True, 0, 0
                self.raised += 1
                return "raised"
            return None
        self.low_run = self.low_run + 1 if low else 0
        if self.low_run >= self.clear_cycles:
            self.active, self.high_run, self.low_run = False, 0, 0
            return "cleared"
        return None

    def state(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "high_run": self.high_run,
            "low_run": self.low_run,
            "raised": self.raised,
        }

    def restore(self, d: dict[str, Any]) -> None:
        self.active = bool(d.get("active", False))
        self.high_run, self.low_run = int(d.get("high_run", 0)), int(d.get("low_run", 0))
        self.raised = int(d.get("raised", 0))


@dataclass
class Warning:
    """A warning raised or cleared: ``reason`` is the cause (``anomaly`` or ``rul``), ``change`` what happened."""

    reason: str  # "anomaly" | "rul"
    detail: dict[str, Any]
    change: str = "raised"  # "raised" | "cleared"
    at_s: float | None = None  # the end of the cycle that caused it (seconds since the epoch), when known


@dataclass
class AssetHealth:
    asset: str
    signals: tuple[str, ...]
    baseline_cycles: int
    anomaly_cycles: int
    rul_warning_cycles: float
    rul_model: RulModel | None = None
    clear_cycles: int = 10
    smoothing_cycles: int = SMOOTHING_CYCLES
    false_alarms_per_month: float = 1.0
    sides: tuple[str, ...] | None = None
    skip_before_repair: int = 25
    rul_rmse: float | None = None  # the RUL model's hold-out error, cycles (from its file)
    rul_refused: str | None = None  # why a model file was refused
    detector: AnomalyDetector | None = None
    calibration: Calibration | None = None
    baseline: list[dict[str, float]] = field(default_factory=list)
    baseline_first_s: float | None = None  # seconds since the epoch of the baseline's first and last rows
    baseline_last_s: float | None = None
    anchored: bool = False  # the baseline was learned from the start of a life (right after a repair)
    relearning: list[dict[str, float]] | None = None  # an anchored baseline being learned to replace this one
    history: list[dict[str, float]] = field(default_factory=list)
    score: float | None = None
    rul: float | None = None
    cycles_seen: int = 0
    warnings: dict[str, bool] = field(default_factory=dict)  # the warnings raised now, by cause
    anomaly: Hysteresis = field(init=False)  # the anomaly score's episodes
    rul_warning: Hysteresis = field(init=False)  # the RUL's episodes

    def __post_init__(self) -> None:
        self.anomaly = Hysteresis(self.anomaly_cycles, self.clear_cycles)
        self.rul_warning = Hysteresis(self.anomaly_cycles, self.clear_cycles)

    # --- decisions ------------------------------------------------------------------------------------------------

    def on_cycle(self, row: dict[str, float], at_s: float | None = None) -> list[Warning]:
        """A finished cycle's row (``at_s``: when it ended, seconds since the epoch); returns the warnings this
        cycle raised or cleared."""
        self.cycles_seen += 1
        self.history.append(row)
        del self.history[:-MAX_HISTORY]
        if self.detector is None:
            self.baseline.append({s: float(row[s]) for s in self.signals})
            if at_s is not None:
                self.baseline_first_s = at_s if self.baseline_first_s is None else self.baseline_first_s
                self.baseline_last_s = at_s
            if len(self.baseline) >= self.baseline_cycles:
                self.fit()
        else:
            if self.relearning is not None:
                self.relearning.append({s: float(row[s]) for s in self.signals})
                if len(self.relearning) >= self.baseline_cycles:
                    self.baseline, self.relearning, self.anchored = self.relearning, None, True
                    self.fit()
            self.score = self.detector.score_one(row)
            # until the smoothing window is full the score averages fewer cycles than the threshold was set for
            if self.detector.ready and self.calibration is not None:
                self.anomaly.update(
                    self.score > self.calibration.threshold, self.score < self.calibration.clear_level
                )
        if self.rul_model is not None:
            self.rul = self.rul_model.predict_history(self._rul_rows())
        if self.rul is not None:
            self.rul_warning.update(
                self.rul < self.rul_warning_cycles, self.rul > RUL_CLEAR_FACTOR * self.rul_warning_cycles
            )
        changes: list[Warning] = []
        for cause, now in (("anomaly", self.anomaly_warning), ("rul", self.rul_warning.active)):
            if now != self.warnings.get(cause, False):
                self.warnings[cause] = now
                detail: dict[str, Any] = (
                    {"score": round(self.score or 0.0, 3)}
                    if cause == "anomaly"
                    else {"rul_cycles": None if self.rul is None else round(self.rul, 1)}
                )
                changes.append(
                    Warning(cause, {**detail, **self._explain()}, "raised" if now else "cleared", at_s)
                )
        return changes

    @property
    def rul_disagrees(self) -> bool:
        """A valid RUL model predicts at least twice the warning level: what the anomaly score sees is, by the
        model trained on this asset's run-to-failure lives, not near a failure."""
        return (
            self.rul_model is not None
            and self.rul is not None
            and self.rul >= RUL_WATCH_FACTOR * self.rul_warning_cycles
        )

    @property
    def anomaly_warning(self) -> bool:
        """The anomaly episode is raised and no valid RUL model disagrees (:attr:`rul_disagrees`)."""
        return self.anomaly.active and not self.rul_disagrees

    def fit(self) -> None:
        """Detector and threshold from the baseline's rows (when it has enough of them)."""
        if len(self.baseline) < max(self.baseline_cycles, 3):
            return
        rows = np.array([[r[s] for s in self.signals] for r in self.baseline[: self.baseline_cycles]])
        self.detector, self.calibration = calibrate(
            rows,
            self.signals,
            window=self.smoothing_cycles,
            sides=self.sides,
            cycle_s=self.cycle_s(),
            false_alarms_per_month=self.false_alarms_per_month,
        )

    def cycle_s(self) -> float:
        """Mean seconds per cycle (wall clock, stops included) over the baseline rows seen so far."""
        n = len(self.baseline)
        if self.baseline_first_s is None or self.baseline_last_s is None or n < 2:
            return DEFAULT_CYCLE_S
        span = self.baseline_last_s - self.baseline_first_s
        return span / (n - 1) if span > 0 else DEFAULT_CYCLE_S

    def renewed(self) -> None:
        """A repair renewed the asset: a new life for RUL and a fresh smoothing window. A baseline that was not
        learned from the start of a life is learned again from this one (a machine just repaired is the best
        reference of healthy there is), beside the one in use, which goes on scoring until its replacement is
        complete; a repair before that restarts it. While the first baseline is still being learned, its last
        ``skip_before_repair`` rows are dropped (they may be the failing end of a life) and learning goes on."""
        self.history.clear()
        self.rul = None
        if self.detector is not None:
            self.detector.reset()
            if not self.anchored:
                self.relearning = []
        elif self.skip_before_repair:
            del self.baseline[-self.skip_before_repair :]
            if not self.baseline:
                self.baseline_first_s = self.baseline_last_s = None

    @property
    def warned(self) -> bool:
        """A warning (anomaly or RUL) is raised now."""
        return any(self.warnings.values())

    def _rul_rows(self) -> list[dict[str, float]]:
        assert self.rul_model is not None
        need = self.rul_model.spec.signals
        return [r for r in self.history if all(s in r for s in need)]

    def _explain(self) -> dict[str, Any]:
        if self.detector is None or self.score is None:
            return {}
        shares = self.detector.explain()
        return {
            "threshold": round(self.detector.threshold, 3),
            "drivers": {k: round(v, 3) for k, v in list(shares.items())[:3]},
        }

    # --- what it says -------------------------------------------------------------------------------------------

    def status(self) -> tuple[str, dict[str, Any]]:
        """The health state (one of :data:`STATES`) and its reason: a one-line summary, the signals and models
        behind it, and how sure each model is."""
        drivers = self._explain().get("drivers", {})
        cal = self.calibration
        anomaly_on, rul_on = self.warnings.get("anomaly", False), self.warnings.get("rul", False)
        models: list[str] = []
        # each part of the reason: a message (translated on the pages) and its values
        parts: list[tuple[str, dict[str, Any]]] = []
        if cal is not None and self.score is not None and (self.anomaly.active or self.anomaly.high_run > 0):
            models.append("anomaly")
            args = {"score": self.score, "threshold": cal.threshold, "drivers": drivers_text(drivers)}
            if self.anomaly.active:
                parts.append((N_("score {score} above threshold {threshold} ({drivers})"), args))
            else:
                parts.append((N_("score {score} just went above threshold {threshold} ({drivers})"), args))
            if self.anomaly.active and not anomaly_on:
                parts.append((N_("but the RUL model predicts {rul} cycles"), {"rul": self.rul}))
        if rul_on or (self.rul is not None and self.rul < RUL_WATCH_FACTOR * self.rul_warning_cycles):
            models.append("rul")
            parts.append(
                (
                    N_("RUL {rul} cycles (warning below {limit})"),
                    {"rul": self.rul, "limit": self.rul_warning_cycles},
                )
            )
        if anomaly_on and rul_on:
            state = "alarm"
        elif anomaly_on or rul_on:
            state = "warning"
        elif models:
            state = "watch"
        elif self.detector is None:
            # no anomaly check yet: whatever the RUL says, the asset is not known to be healthy
            state = "learning"
        else:
            state = "ok"
        if self.detector is None:
            # what is known first (a warning's cause, the RUL), then that the anomaly check is still learning
            if not parts and self.rul is not None:
                parts.append((N_("RUL {rul} cycles"), {"rul": self.rul}))
            progress = self.baseline_progress()
            have = {"have": progress["cycles"], "need": progress["needed"]}
            if progress["remaining_s"] is None:
                parts.append((N_("anomaly check still learning its baseline ({have}/{need} cycles)"), have))
            else:
                parts.append(
                    (
                        N_(
                            "anomaly check still learning its baseline ({have}/{need} cycles, about {left_s} left)"
                        ),
                        {**have, "left_s": progress["remaining_s"]},
                    )
                )
        elif not parts:
            parts.append((N_("score {score} within the healthy baseline"), {"score": self.score or 0.0}))
            if self.rul is not None:
                parts.append((N_("RUL {rul} cycles"), {"rul": self.rul}))
        confidence = {
            "baseline_cycles": min(len(self.baseline), self.baseline_cycles),
            "baseline_needed": self.baseline_cycles,
            "baseline_coverage": round(min(1.0, len(self.baseline) / self.baseline_cycles), 3),
            "rul_model": "valid"
            if self.rul_model is not None
            else (f"refused: {self.rul_refused}" if self.rul_refused else "none"),
            "rul_rmse_cycles": None if self.rul_rmse is None else round(self.rul_rmse, 2),
        }
        reason = {
            "summary": "; ".join(message.format(**english(args)) for message, args in parts),
            "parts": [{"message": message, "args": args} for message, args in parts],
            "signals": [k for k, v in drivers.items() if v >= DRIVER_SHARE] if "anomaly" in models else [],
            "models": models,
            "confidence": confidence,
        }
        return state, reason

    def baseline_progress(self) -> dict[str, Any]:
        """Cycles in the baseline, cycles needed, and how long the rest will take at the rate seen so far."""
        have = min(len(self.baseline), self.baseline_cycles)
        left = 0 if self.detector is not None else max(0, self.baseline_cycles - have)
        known = self.baseline_first_s is not None and have >= 2
        return {
            "cycles": have,
            "needed": self.baseline_cycles,
            "ready": self.detector is not None,
            "remaining_cycles": left,
            "remaining_s": round(left * self.cycle_s(), 1) if known or left == 0 else None,
        }

    def snapshot(self) -> dict[str, Any]:
        d, cal = self.detector, self.calibration
        state, reason = self.status()
        return {
            "asset": self.asset,
            "cycles_seen": self.cycles_seen,
            "baseline": self.baseline_progress(),
            "score": self.score,
            "threshold": d.threshold if d else None,
            "clear_level": cal.clear_level if cal else None,
            "calibration": asdict(cal) if cal else None,
            "drivers": self._explain().get("drivers", {}),
            "rul_cycles": self.rul,
            "life_cycles": len(self.history),
            "warned": self.warned,
            "warnings": {
                "anomaly": self.warnings.get("anomaly", False),
                "rul": self.warnings.get("rul", False),
            },
            "state": state,
            "reason": reason,
            "has_rul_model": self.rul_model is not None,
        }

    # --- persistence ----------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """What survives a restart: the baseline's rows and times, the warnings' states, the cycle count. The
        detector is not stored: it is computed from the rows again (:meth:`restore`)."""
        return {
            "version": STATE_VERSION,
            "signals": list(self.signals),
            "baseline": [[r[s] for s in self.signals] for r in self.baseline],
            "baseline_first_s": self.baseline_first_s,
            "baseline_last_s": self.baseline_last_s,
            "anchored": self.anchored,
            "relearning": None
            if self.relearning is None
            else [[r[s] for s in self.signals] for r in self.relearning],
            "cycles_seen": self.cycles_seen,
            "anomaly": self.anomaly.state(),
            "rul_warning": self.rul_warning.state(),
            "warnings": self.warnings,
        }

    def restore(self, d: dict[str, Any]) -> bool:
        """Take a stored state back; False (and nothing changed) if it was stored for other signals."""
        if d.get("version") != STATE_VERSION or tuple(d.get("signals", ())) != self.signals:
            return False
        self.baseline = [dict(zip(self.signals, map(float, r), strict=True)) for r in d.get("baseline", [])]
        self.baseline_first_s, self.baseline_last_s = d.get("baseline_first_s"), d.get("baseline_last_s")
        self.anchored = bool(d.get("anchored", False))
        relearning = d.get("relearning")
        self.relearning = (
            None
            if relearning is None
            else [dict(zip(self.signals, map(float, r), strict=True)) for r in relearning]
        )
        self.cycles_seen = int(d.get("cycles_seen", 0))
        self.anomaly.restore(d.get("anomaly", {}))
        self.rul_warning.restore(d.get("rul_warning", {}))
        self.warnings = {str(k): bool(v) for k, v in d.get("warnings", {}).items()}
        self.detector = self.calibration = None
        self.fit()
        return True
