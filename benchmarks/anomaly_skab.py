"""Outlier detection on SKAB (Skoltech Anomaly Benchmark), beside the published leaderboard.

    python benchmarks/anomaly_skab.py [--quick]

Protocol (SKAB's outlier-detection notebooks, e.g. notebooks/Conv_AE.ipynb and MSET.ipynb in waico/SKAB):

* every labelled file (valve1, valve2, other: 34 experiments; anomaly-free.csv is not scored) is handled on its
  own: the detector is fitted on its first 400 rows, which SKAB treats as the anomaly-free part
  (``X_train = df[:400]``), and then scores every row of the file, the first 400 included;
* the ``anomaly`` column is the truth; predictions of all files are pooled into one confusion matrix;
* F1 = TP / (TP + (FP + FN) / 2), FAR = FP / (FP + TN) x 100, MAR = FN / (FN + TP) x 100 (SKAB core/metrics.py,
  ``chp_score(..., metric="binary")``).

The detector is werk's own (``werk.apps.maintenance.anomaly.AnomalyDetector``, the one the maintenance app runs
per asset): per feature a squared z-score against the 400 training rows, summed, causal moving mean over a window.

How every setting was made (none is tuned on the ``anomaly`` labels of the files it is reported on):

* Fixed, not searched (the full-window part since round 2, below): the alarm rule, per file UCL =
  0.999-quantile of the detector's full-window scores on its 400 training rows x 4/3 (the rule of SKAB's Conv-AE
  notebook, whose training residuals are all full-window ones), and no alarm before the window is full (Conv-AE
  predicts 0 for its first 59 rows too); a diagonal covariance (so that each signal's share of the score is exact,
  for the explanations); the 400 training rows (SKAB's protocol).
* Searched by leave-one-group-out cross-validation: a grid declared here before any of it was scored,
  4 feature sets x 3 windows (``FEATURE_SETS`` x ``WINDOWS``). For each group (valve1, valve2, other) in turn, the
  grid point with the best pooled F1 on the *other two* groups is picked and applied to the held-out group; the
  headline F1/FAR/MAR pool these out-of-fold predictions over all 34 files. Ties go to the earlier grid point.

  - feature sets: ``levels`` (every signal's level: werk's detector before this grid); ``thermal as change``
    (``Temperature`` and ``Thermocouple``, the motor-body and loop-fluid temperatures, by their change over the
    window, the other six by their level: a temperature integrates the heat balance, so its level carries the
    history of the run, which warms the water for the whole experiment and keeps it warm after a fault has cleared,
    while its rate is the imbalance now); ``levels + changes`` (all eight both ways, no physical assumption);
    ``no thermal`` (the six non-thermal levels, the crude version of the same assumption);
  - windows: 60 samples (1 Hz), the window of SKAB's Conv-AE and MSET baselines, and half and double it.

What was looked at, in order (so that the figure can be judged):

1. The grid was written after looking at the data: per-phase means of each signal (training rows, normal rows
   before the fault, the fault, normal rows after it) showed the two temperatures far from their training range
   in the normal rows after most faults, and werk's earlier notes blamed most false alarms on that. That look
   used the labels to find the phases, so the grid itself is not blind; the cross-validation only guards the
   choice *within* it. The grid was not changed after its first score.
2. Round 1, the grid with the threshold as werk computed it then (quantile over all 400 training scores, the first
   59 of which average fewer samples; alarms allowed from row 0): out of fold F1 0.776 (FAR 10.61 %, MAR 24.13 %);
   picks ``no thermal``/w60 for other and valve1, ``levels``/w60 for valve2. Goal not met.
3. Then, without labels: in 18 of 34 files the highest training score (which is what a 0.999-quantile of 400
   scores is) fell in the first 59 rows, where the moving mean covers fewer samples than the scores it is
   compared with later. A threshold must come from the distribution it is applied to, so round 2 takes the
   quantile over full-window scores only and never alarms before the window is full (live too:
   ``AnomalyDetector.ready``). This fix was made because round 1 missed the goal, and it is the only change
   between the rounds: the same grid, the same cross-validation. Round 2 is what this script prints; its margin
   over 0.80 is small (see BENCHMARKS.md).

Also printed, for comparison only: the grid point picked on all three groups (in-sample: its F1 is optimistic), the
old default (``levels``, window 60) and every grid point's pooled F1. Data: ../shared/data/skab relative to the
repo root. Goal: out-of-fold F1 >= 0.80. ``--quick``: every second file (17 of 34, from each group), the same
protocol; the whole run takes a few seconds anyway.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from werk.apps.maintenance.anomaly import DEFAULT_MARGIN, DEFAULT_QUANTILE, DEFAULT_WINDOW, AnomalyDetector

console = Console()
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "skab"
TRAIN_ROWS = 400
GOAL_F1 = 0.80
GROUPS = ("other", "valve1", "valve2")
# SKAB README leaderboard, outlier detection (F1, FAR %, MAR %), the version cited in ../shared/data/README.md
PUBLISHED = [
    ("Conv-AE", 0.78, 13.55, 28.02),
    ("MSET", 0.78, 39.73, 14.13),
    ("T-squared+Q (PCA)", 0.76, 26.62, 24.92),
    ("LSTM-AE", 0.74, 29.96, 25.92),
    ("T-squared", 0.66, 19.21, 42.60),
    ("Isolation forest", 0.29, 2.56, 82.89),
]

THERMAL = ("Temperature", "Thermocouple")  # motor body, loop fluid (SKAB README); both integrate heat
Features = tuple[list[str] | None, list[str]]  # (levels, None = all; changes)


def _thermal_as_change(signals: Sequence[str]) -> Features:
    return [s for s in signals if s not in THERMAL], [s for s in signals if s in THERMAL]


def _levels_and_changes(signals: Sequence[str]) -> Features:
    return None, list(signals)


def _no_thermal(signals: Sequence[str]) -> Features:
    return [s for s in signals if s not in THERMAL], []


FEATURE_SETS: dict[str, Callable[[Sequence[str]], Features]] = {
    "levels": lambda signals: (None, []),
    "thermal as change": _thermal_as_change,
    "levels + changes": _levels_and_changes,
    "no thermal": _no_thermal,
}
WINDOWS = (30, DEFAULT_WINDOW, 120)
OLD_DEFAULT = ("levels", DEFAULT_WINDOW)


@dataclass
class Experiment:
    name: str
    signals: list[str]
    x: np.ndarray
    anomaly: np.ndarray

    @property
    def group(self) -> str:
        return self.name.split("/")[0]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, o: Counts) -> Counts:
        return Counts(self.tp + o.tp, self.fp + o.fp, self.fn + o.fn, self.tn + o.tn)

    @property
    def f1(self) -> float:
        return self.tp / (self.tp + (self.fp + self.fn) / 2) if self.tp else 0.0

    @property
    def far(self) -> float:
        return self.fp / (self.fp + self.tn) * 100

    @property
    def mar(self) -> float:
        return self.fn / (self.fn + self.tp) * 100


def load(path: Path) -> Experiment:
    """One SKAB file: ``;``-separated, first column datetime, then the sensors, then anomaly and changepoint."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head = rows[0]
    sensors = [h for h in head[1:] if h not in ("anomaly", "changepoint")]
    cols = [head.index(s) for s in sensors]
    x = np.array([[float(r[c]) for c in cols] for r in rows[1:]])
    y = np.array([float(r[head.index("anomaly")]) == 1.0 for r in rows[1:]])
    return Experiment(f"{path.parent.name}/{path.name}", sensors, x, y)


def detector_for(e: Experiment, features: str, window: int) -> AnomalyDetector:
    """werk's detector with one grid point's settings, fitted on the file's first ``TRAIN_ROWS`` rows."""
    levels, changes = FEATURE_SETS[features](e.signals)
    return AnomalyDetector.fit(
        e.x[:TRAIN_ROWS],
        e.signals,
        window=window,
        quantile=DEFAULT_QUANTILE,
        margin=DEFAULT_MARGIN,
        levels=levels,
        changes=changes,
    )


def confusion(predicted: np.ndarray, truth: np.ndarray) -> Counts:
    return Counts(
        int(np.sum(predicted & truth)),
        int(np.sum(predicted & ~truth)),
        int(np.sum(~predicted & truth)),
        int(np.sum(~predicted & ~truth)),
    )


def pooled(per_file: dict[str, Counts], names: Sequence[str]) -> Counts:
    total = Counts()
    for n in names:
        total = total + per_file[n]
    return total


def main() -> None:
    # every setting is fixed above; --help prints the protocol
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="every second file (a check, not a figure)")
    quick = ap.parse_args().quick
    files = sorted(p for p in (DATA / "data").glob("*/*.csv") if p.parent.name != "anomaly-free")
    if not files:
        sys.exit(f"SKAB data not found under {DATA / 'data'} (see ../shared/data/README.md).")
    if quick:
        files = files[::2]
        console.print(
            f"quick run: every second file, {len(files)} of them (a check, not the figure of record)"
        )
    console.print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {metadata.version('numpy')}"
    )
    grid = [(f, w) for f in FEATURE_SETS for w in WINDOWS]
    # results[grid point][file name] = confusion counts of that file
    results: dict[tuple[str, int], dict[str, Counts]] = {g: {} for g in grid}
    experiments: list[Experiment] = []
    fit_s = score_s = 0.0
    rows = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        job = progress.add_task(f"fit on first {TRAIN_ROWS} rows, score each file", total=len(files))
        for path in files:
            e = load(path)
            experiments.append(e)
            for features, window in grid:
                t0 = time.perf_counter()
                det = detector_for(e, features, window)
                t1 = time.perf_counter()
                predicted = det.alarms_batch(e.x)
                score_s += time.perf_counter() - t1
                fit_s += t1 - t0
                rows += len(e.x)
                results[(features, window)][e.name] = confusion(predicted, e.anomaly)
            progress.advance(job)

    names_of = {g: [e.name for e in experiments if e.group == g] for g in GROUPS}
    all_names = [e.name for e in experiments]

    def best(names: Sequence[str]) -> tuple[str, int]:
        # max() keeps the first of equal scores, i.e. the earlier grid point
        return max(grid, key=lambda g: pooled(results[g], names).f1)

    out_of_fold: dict[str, Counts] = {}
    picks: list[str] = []
    for held_out in GROUPS:
        train_names = [n for g in GROUPS if g != held_out for n in names_of[g]]
        pick = best(train_names)
        picks.append(
            f"{held_out} <- {pick[0]}, w{pick[1]} (F1 {pooled(results[pick], train_names).f1:.3f} on the others, "
            f"{pooled(results[pick], names_of[held_out]).f1:.3f} held out)"
        )
        for n in names_of[held_out]:
            out_of_fold[n] = results[pick][n]
    oof = pooled(out_of_fold, all_names)
    in_sample_pick = best(all_names)
    in_sample = pooled(results[in_sample_pick], all_names)
    old = pooled(results[OLD_DEFAULT], all_names)

    console.print(
        f"{len(files)} experiments, {rows // len(grid):,} rows; train rows per file "
        f"{TRAIN_ROWS}; threshold = q{DEFAULT_QUANTILE} x {DEFAULT_MARGIN:.3f} of training scores; "
        f"grid {len(FEATURE_SETS)} feature sets x windows {WINDOWS}"
    )
    table = Table(
        "algorithm", "F1", "FAR, %", "MAR, %", title="SKAB outlier detection (pooled over all files)"
    )
    for name, p_f1, p_far, p_mar in PUBLISHED:
        table.add_row(name, f"{p_f1:.2f}", f"{p_far:.2f}", f"{p_mar:.2f}")

    def row(label: str, c: Counts, bold: bool = False) -> None:
        f1 = f"{c.f1:.2f} ({c.f1:.3f})"
        table.add_row(
            f"[bold]{label}[/bold]" if bold else label,
            f"[bold]{f1}[/bold]" if bold else f1,
            f"{c.far:.2f}",
            f"{c.mar:.2f}",
        )

    row("werk, out-of-fold (leave-one-group-out)", oof, bold=True)
    row(f"werk {in_sample_pick[0]}, w{in_sample_pick[1]} (picked on all: in-sample)", in_sample)
    row(f"werk {OLD_DEFAULT[0]}, w{OLD_DEFAULT[1]} (old default)", old)
    console.print(table)
    console.print("picks per held-out group: " + "; ".join(picks))
    console.print(
        "F1 by group, out of fold: "
        + ", ".join(f"{g} {pooled(out_of_fold, names_of[g]).f1:.3f}" for g in GROUPS)
    )
    grid_table = Table(
        "feature set", *(f"w{w}" for w in WINDOWS), title="every grid point, F1 over all files"
    )
    for f in FEATURE_SETS:
        grid_table.add_row(f, *(f"{pooled(results[(f, w)], all_names).f1:.3f}" for w in WINDOWS))
    console.print(grid_table)
    worst = sorted(out_of_fold.items(), key=lambda kv: -(kv[1].fp + kv[1].fn))[:5]
    console.print("most errors (out of fold): " + ", ".join(f"{n} (FP {c.fp}, FN {c.fn})" for n, c in worst))
    console.print(
        f"training time: {fit_s * 1000 / len(grid):.0f} ms for {len(files)} fits; "
        f"scoring {rows / score_s:,.0f} rows/s"
    )
    what = f"goal F1 >= {GOAL_F1:.2f} (out of fold)"
    print(f"{what}: met" if oof.f1 >= GOAL_F1 else f"{what}: not met ({oof.f1:.3f})")


if __name__ == "__main__":
    main()
