"""`werk maintenance train`: RUL models for simulated assets, from run-to-failure lives the simulator generates.

Per asset: generate lives (``werk.sim.lives``), turn each into per-cycle rows with the same aggregator the live app
uses, hold out the last fifth of the lives, train on the rest, score every cycle of the held-out lives (RMSE in cycles, RUL capped at 125 as in
the C-MAPSS protocol), and save the model with its metrics and the hash of its training data.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from werk.apps.maintenance.cycles import CycleAggregator
from werk.apps.maintenance.model_file import model_path, save_model, sha256_of_arrays
from werk.apps.maintenance.rul import (
    FloatArray,
    RulFeatureSpec,
    RulModel,
    history_features,
    piecewise_rul,
    rmse,
    select_signals,
)
from werk.apps.maintenance.settings import maintenance_settings
from werk.config.model import WerkConfig
from werk.sim.lives import lives
from werk.sim.spec import sim_asset, sim_of

CAP_CYCLES = 125.0


@dataclass(frozen=True)
class Trained:
    asset: str
    path: Path
    lives: int
    rows: int
    rmse_cycles: float


def life_rows(ticks: list[dict[str, float | int | str]], signals: tuple[str, ...]) -> FloatArray:
    agg = CycleAggregator(signals)
    rows = []
    for v in ticks:
        agg.state(str(v["state"]))
        for s in signals:
            agg.value(s, float(v[s]))
        row = agg.cycle(int(v["cycle_count"]))
        if row is not None:
            rows.append([row[s] for s in signals])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(signals))


def train_asset(
    config: WerkConfig,
    asset: str,
    *,
    n_lives: int = 30,
    rounds: int = 300,
    progress: Callable[[str, int, int], None] | None = None,
) -> Trained:
    ref = config.asset(asset)
    sim, plant_sim = sim_asset(ref.config), sim_of(config)
    if sim is None or plant_sim is None:
        raise ValueError(f"asset {asset!r} is not simulated; train it from recorded lives instead")
    settings = maintenance_settings(config)
    signals = tuple(settings.signals)
    histories = []
    for i, life in enumerate(
        lives(sim, seed=plant_sim.seed * 1000 + zlib.crc32(asset.encode()) % 1000, count=n_lives)
    ):
        rows = life_rows(life, signals)
        if len(rows) >= 10:
            histories.append(rows)
        if progress:
            progress(asset, i + 1, n_lives)
    if len(histories) < 5:
        raise ValueError(f"{asset}: only {len(histories)} usable lives; raise --lives")
    split = max(1, len(histories) // 5)
    train, test = histories[:-split], histories[-split:]
    spec = RulFeatureSpec(select_signals(np.vstack(train), signals))
    col = [signals.index(s) for s in spec.signals]
    model = RulModel.fit([h[:, col] for h in train], spec, cap=CAP_CYCLES, rounds=rounds, seeds=(0,))
    pred, true = [], []
    for h in test:
        pred.extend(model.predict_features(history_features(h[:, col], spec)).tolist())
        true.extend(piecewise_rul(len(h), CAP_CYCLES).tolist())
    score = rmse(pred, true)
    path = save_model(
        model_path(settings.models_dir, asset),
        model,
        metrics={"rmse_cycles_holdout": score, "lives_train": len(train), "lives_test": len(test)},
        training_data_sha256=sha256_of_arrays(*histories),
    )
    return Trained(asset, path, len(histories), sum(len(h) for h in histories), score)


def missing_models(config: WerkConfig, assets: list[str]) -> list[str]:
    """Simulated assets among ``assets`` that have no model file yet."""
    d = maintenance_settings(config).models_dir
    return [
        a for a in assets if sim_asset(config.asset(a).config) is not None and not model_path(d, a).exists()
    ]


class TrainingStopped(Exception):
    """Raised between two lives when the caller asked training to stop."""


def train_missing(
    config: WerkConfig,
    assets: list[str],
    status: dict[str, Any],
    on_trained: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> list[Trained]:
    """Train what is missing, one asset after the other, reporting progress in ``status`` (shown by the API);
    ``on_trained`` hears of each asset as soon as its model file is written.

    ``stop`` ends the work within a life's simulation (a quarter of a second on the benchmark machine), leaving
    the asset under way without a model file: a platform that stops (Ctrl+C on a first ``werk demo``) must not
    wait for minutes of training in a thread it cannot cancel. ``status`` then says ``stopped``.
    """
    done = []
    lives_per_asset = maintenance_settings(config).train_lives
    todo = missing_models(config, assets)
    status.update({"state": "training", "assets": todo, "done": []})

    def progress(asset: str, i: int, n: int) -> None:
        if stop is not None and stop.is_set():
            raise TrainingStopped(asset)
        status["current"] = {"asset": asset, "lives": i, "of": n}

    try:
        for a in todo:
            progress(a, 0, lives_per_asset)
            t = train_asset(config, a, n_lives=lives_per_asset, progress=progress)
            done.append(t)
            status["done"].append({"asset": a, "rmse_cycles": round(t.rmse_cycles, 2)})
            if on_trained is not None and not (stop is not None and stop.is_set()):
                on_trained(a)
    except TrainingStopped:
        status.update({"state": "stopped", "current": None})
        return done
    status.update({"state": "idle", "current": None})
    return done
