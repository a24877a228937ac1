"""Outlier detection on SKAB (Skoltech Anomaly Benchmark), beside the published leaderboard.

    python benchmarks/anomaly_skab.py

Protocol (SKAB's outlier-detection notebooks, e.g. notebooks/Conv_AE.ipynb and MSET.ipynb in waico/SKAB):

* every labelled file (valve1, valve2, other: 34 experiments; anomaly-free.csv is not scored) is handled on its
  own: the detector is fitted on its first 400 rows, which SKAB treats as the anomaly-free part, and then scores
  every row of the file, the first 400 included;
* the ``anomaly`` column is the truth; predictions of all files are pooled into one confusion matrix;
* F1 = TP / (TP + (FP + FN) / 2), FAR = FP / (FP + TN) x 100, MAR = FN / (FN + TP) x 100 (SKAB core/metrics.py,
  ``chp_score(..., metric="binary")``).

Threshold rule (stated, as the protocol asks): per file, UCL = 0.999-quantile of the detector's scores on its 400
training rows x 4/3, the rule of SKAB's Conv-AE notebook. Window 60 samples (1 Hz), as SKAB's Conv-AE and MSET.
No setting is tuned on the ``anomaly`` labels. Data: ../shared/data/skab relative to the repo root.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
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
# SKAB README leaderboard, outlier detection (F1, FAR %, MAR %), the version cited in ../shared/data/README.md
PUBLISHED = [
    ("Conv-AE", 0.78, 13.55, 28.02),
    ("MSET", 0.78, 39.73, 14.13),
    ("T-squared+Q (PCA)", 0.76, 26.62, 24.92),
    ("LSTM-AE", 0.74, 29.96, 25.92),
    ("T-squared", 0.66, 19.21, 42.60),
    ("Isolation forest", 0.29, 2.56, 82.89),
]


@dataclass
class Experiment:
    name: str
    signals: list[str]
    x: np.ndarray
    anomaly: np.ndarray


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="smoothing window, samples")
    a = ap.parse_args()
    files = sorted(p for p in (DATA / "data").glob("*/*.csv") if p.parent.name != "anomaly-free")
    if not files:
        sys.exit(f"SKAB data not found under {DATA / 'data'} (see ../shared/data/README.md).")
    console.print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {metadata.version('numpy')}"
    )

    tp = tn = fp = fn = 0
    fit_s = score_s = 0.0
    rows = 0
    per_file: list[tuple[str, int, int, int]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        job = progress.add_task("fit on first 400 rows, score each file", total=len(files))
        for path in files:
            e = load(path)
            t0 = time.perf_counter()
            det = AnomalyDetector.fit(
                e.x[:TRAIN_ROWS], e.signals, window=a.window, quantile=DEFAULT_QUANTILE, margin=DEFAULT_MARGIN
            )
            t1 = time.perf_counter()
            predicted = det.score_batch(e.x) > det.threshold
            score_s += time.perf_counter() - t1
            fit_s += t1 - t0
            rows += len(e.x)
            f_tp = int(np.sum(predicted & e.anomaly))
            f_fp = int(np.sum(predicted & ~e.anomaly))
            f_fn = int(np.sum(~predicted & e.anomaly))
            tp, fp, fn = tp + f_tp, fp + f_fp, fn + f_fn
            tn += int(np.sum(~predicted & ~e.anomaly))
            per_file.append((e.name, f_tp, f_fp, f_fn))
            progress.advance(job)

    f1 = tp / (tp + (fn + fp) / 2)
    far = fp / (fp + tn) * 100
    mar = fn / (fn + tp) * 100
    console.print(
        f"{len(files)} experiments, {rows:,} rows; train rows per file {TRAIN_ROWS}; window {a.window}; "
        f"threshold = q{DEFAULT_QUANTILE} x {DEFAULT_MARGIN:.3f} of training scores"
    )
    table = Table(
        "algorithm", "F1", "FAR, %", "MAR, %", title="SKAB outlier detection (pooled over all files)"
    )
    for name, p_f1, p_far, p_mar in PUBLISHED:
        table.add_row(name, f"{p_f1:.2f}", f"{p_far:.2f}", f"{p_mar:.2f}")
    table.add_row(
        "[bold]werk z-score (diag. T-squared), 60 s mean[/bold]",
        f"[bold]{f1:.2f}[/bold] ({f1:.3f})",
        f"{far:.2f}",
        f"{mar:.2f}",
    )
    console.print(table)
    groups = sorted({n.split("/")[0] for n, *_ in per_file})
    parts = []
    for g in groups:
        g_tp, g_fp, g_fn = (sum(r[k] for r in per_file if r[0].startswith(g + "/")) for k in (1, 2, 3))
        parts.append(f"{g} {g_tp / (g_tp + (g_fp + g_fn) / 2):.3f}")
    console.print("F1 by group: " + ", ".join(parts))
    worst = sorted(per_file, key=lambda r: -(r[2] + r[3]))[:5]
    console.print(
        "most errors: " + ", ".join(f"{n} (FP {fpn}, FN {fnn})" for n, _, fpn, fnn in worst),
    )
    console.print(
        f"training time: {fit_s * 1000:.0f} ms for {len(files)} fits; scoring {rows / score_s:,.0f} rows/s"
    )
    console.print(f"goal F1 >= 0.80: {'met' if f1 >= 0.80 else 'NOT met'}")


if __name__ == "__main__":
    main()
