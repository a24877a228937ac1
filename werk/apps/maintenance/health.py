"""An asset's health, decided from its per-cycle rows: baseline, anomaly score, RUL, and when to warn. Pure.

Renewal: a stop that went through ``maintenance`` is taken as a repair that renewed the asset, so the history the
RUL model reads restarts (its model was trained on lives that start at a renewal). The healthy baseline stays.
Warnings latch: one per life, so a sick machine raises one work order, not one per cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from werk.apps.maintenance.anomaly import AnomalyDetector
from werk.apps.maintenance.rul import RulModel

MAX_HISTORY = (
    5000  # cycles kept per life; a longer life keeps its latest cycles (the RUL windows are shorter)
)


SMOOTHING_CYCLES = 5


def threshold_floor(k: int, window: int = SMOOTHING_CYCLES) -> float:
    """The lowest alarm threshold a short baseline may set: a healthy score is the mean over ``window`` cycles of a
    sum of ``k`` squared z-scores, about chi-square(k) / window with mean k and standard deviation sqrt(2k/window);
    six of those above the mean. A 30-cycle baseline's 99.9 % quantile is mostly luck, and a threshold below this
    floor would open work orders for noise."""
    return k + 6.0 * math.sqrt(2.0 * k / window)


@dataclass
class Warning:
    reason: str  # "anomaly" | "rul"
    detail: dict[str, Any]


@dataclass
class AssetHealth:
    asset: str
    signals: tuple[str, ...]
    baseline_cycles: int
    anomaly_cycles: int
    rul_warning_cycles: float
    rul_model: RulModel | None = None
    detector: AnomalyDetector | None = None
    baseline: list[dict[str, float]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    score: float | None = None
    rul: float | None = None
    above: int = 0
    warned: bool = False
    cycles_seen: int = 0

    def on_cycle(self, row: dict[str, float]) -> Warning | None:
        """A finished cycle's row; returns a warning the first time this life looks like it will fail soon."""
        self.cycles_seen += 1
        self.history.append(row)
        del self.history[:-MAX_HISTORY]
        if self.detector is None:
            self.baseline.append(row)
            if len(self.baseline) >= self.baseline_cycles:
                self.detector = AnomalyDetector.fit(self.baseline, self.signals, window=SMOOTHING_CYCLES)
                k = len(self.detector.feature_names())
                self.detector.threshold = max(self.detector.threshold, threshold_floor(k))
        else:
            self.score = self.detector.score_one(row)
            # until the smoothing window is full the score averages fewer cycles than the threshold was set for
            alarm = self.detector.ready and self.detector.is_anomalous(self.score)
            self.above = self.above + 1 if alarm else 0
        if self.rul_model is not None:
            self.rul = self.rul_model.predict_history(self._rul_rows())
        if self.warned:
            return None
        if self.rul is not None and self.rul < self.rul_warning_cycles:
            self.warned = True
            return Warning("rul", {"rul_cycles": round(self.rul, 1), **self._explain()})
        if self.above >= self.anomaly_cycles:
            self.warned = True
            return Warning("anomaly", {"score": round(self.score or 0.0, 3), **self._explain()})
        return None

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

    def renewed(self) -> None:
        """A repair renewed the asset: a new life for RUL, a fresh smoothing window, warnings re-armed."""
        self.history.clear()
        self.rul = None
        self.above = 0
        self.warned = False
        if self.detector is not None:
            self.detector.reset()

    def snapshot(self) -> dict[str, Any]:
        d = self.detector
        return {
            "asset": self.asset,
            "cycles_seen": self.cycles_seen,
            "baseline": {
                "cycles": len(self.baseline),
                "needed": self.baseline_cycles,
                "ready": d is not None,
            },
            "score": self.score,
            "threshold": d.threshold if d else None,
            "drivers": self._explain().get("drivers", {}),
            "rul_cycles": self.rul,
            "life_cycles": len(self.history),
            "warned": self.warned,
            "has_rul_model": self.rul_model is not None,
        }
