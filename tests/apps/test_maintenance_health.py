"""Health engine and the app's live path: baselines that persist, a threshold from a false-alarm budget, warnings
that clear and re-arm, one open work order per machine and cause, and the demo's machines running healthy cycles
without a warning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.app_databases import Opener
from werk.apps.maintenance.app import MaintenanceApp
from werk.apps.maintenance.health import AssetHealth, Hysteresis, calibrate, gamma_quantile
from werk.apps.maintenance.replay import offline_app, replay
from werk.config import WerkConfig, demo_config_path, load_config
from werk.sim.factory import Factory
from werk.store.app_database import AppDatabase

SIGNALS = ("load", "temperature", "vibration", "power")


def rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [rng.normal(55, 1.5, n), rng.normal(40, 1.0, n), rng.normal(1.5, 0.05, n), rng.normal(15, 0.25, n)]
    )


def as_dict(row: np.ndarray) -> dict[str, float]:
    return dict(zip(SIGNALS, map(float, row), strict=True))


def health(**kw: object) -> AssetHealth:
    args: dict[str, object] = {
        "baseline_cycles": 100,
        "anomaly_cycles": 3,
        "rul_warning_cycles": 25.0,
        "clear_cycles": 10,
        "sides": ("up",) * 4,
    }
    args.update(kw)
    return AssetHealth("m", SIGNALS, **args)  # type: ignore[arg-type]


def stream(h: AssetHealth, data: np.ndarray, t0: float = 0.0, cycle_s: float = 60.0) -> list[tuple[int, str]]:
    """Feed rows one a cycle; the (row index, change) of every anomaly warning raised or cleared."""
    out = []
    for i, r in enumerate(data):
        for w in h.on_cycle(as_dict(r), t0 + i * cycle_s):
            if w.reason == "anomaly":
                out.append((i, w.change))
    return out


def test_gamma_quantile_matches_the_chi_square_tail() -> None:
    # chi-square with 4 degrees of freedom (mean 4, variance 8): 99.9 % quantile 18.467, 1e-6 tail 33.377; the
    # approximation errs high (fewer alarms than the budget allows), never low
    assert 18.467 <= gamma_quantile(4.0, 8.0, 1e-3) <= 18.467 * 1.02
    assert 33.377 <= gamma_quantile(4.0, 8.0, 1e-6) <= 33.377 * 1.06


def test_the_threshold_follows_the_false_alarm_budget_and_its_rate_holds_on_new_healthy_data() -> None:
    base = rows(300)
    strict, _ = calibrate(base, SIGNALS, window=5, sides=None, cycle_s=60.0, false_alarms_per_month=0.1)
    loose, cal = calibrate(base, SIGNALS, window=5, sides=None, cycle_s=60.0, false_alarms_per_month=1000.0)
    assert strict.threshold > loose.threshold
    assert cal.exceedance_per_cycle == pytest.approx(1000.0 / (30.44 * 1440), rel=1e-6)
    # 1,000 false alarms a month at one cycle a minute: P(score > threshold) = 2.3 %; measured on new data
    scores = loose.score_batch(rows(20_000, seed=9))[4:]
    assert 0.3 * cal.exceedance_per_cycle < np.mean(scores > loose.threshold) < 2.0 * cal.exceedance_per_cycle


def test_a_warning_clears_below_the_lower_level_and_re_arms_for_the_real_failure() -> None:
    """A false alarm followed by a real failure is still detected: warnings do not latch for a life."""
    h = health()
    stream(h, rows(100))
    assert h.detector is not None and h.calibration is not None
    assert h.calibration.clear_level < h.calibration.threshold
    live = rows(200, seed=3)
    live[20:30, 2] += 1.0  # a burst of vibration: the false alarm
    live[150:, 2] += 1.0  # the real failure
    changes = stream(h, live, t0=1e6)
    assert [c for _, c in changes] == ["raised", "cleared", "raised"], changes
    first, cleared, again = (i for i, _ in changes)
    assert 20 <= first < 30 and 30 < cleared < 60 and 150 <= again < 160
    assert h.anomaly.raised == 2 and h.warned


def test_hysteresis_needs_n_high_cycles_to_raise_and_m_low_ones_to_clear() -> None:
    hy = Hysteresis(enter_cycles=3, clear_cycles=2)
    seq = [(True, False), (True, False), (False, True), (True, False), (True, False), (True, False)]
    assert [hy.update(a, b) for a, b in seq] == [None, None, None, None, None, "raised"]
    seq = [(False, True), (False, False), (False, True), (False, True)]
    assert [hy.update(a, b) for a, b in seq] == [None, None, None, "cleared"]


def test_a_repaired_machine_is_healthier_than_its_baseline_not_anomalous() -> None:
    h = health()
    worn = rows(100)
    worn[:, 2] += 1.0  # learned on a machine well into its life
    stream(h, worn)
    h.renewed()
    fresh = rows(100, seed=4)  # vibration one full unit lower than the baseline
    assert stream(h, fresh, t0=1e6) == []
    assert h.status()[0] == "ok"
    # and the repair made its baseline provisional one anchored: learned again from the new life
    assert h.anchored and h.relearning is None and h.detector is not None
    assert h.detector.mean[2] == pytest.approx(1.5, abs=0.05)


def test_the_state_says_learning_then_ok_and_how_long_the_baseline_still_needs() -> None:
    h = health(baseline_cycles=50)
    stream(h, rows(20), cycle_s=30.0)
    state, reason = h.status()
    assert state == "learning" and "20/50" in reason["summary"]
    progress = h.baseline_progress()
    assert progress["remaining_cycles"] == 30 and progress["remaining_s"] == pytest.approx(900.0)
    stream(h, rows(40, seed=1), t0=20 * 30.0, cycle_s=30.0)
    assert h.status()[0] == "ok" and h.baseline_progress()["remaining_cycles"] == 0


class FixedRul:
    """A stand-in RUL model that predicts what it is told (the state rule needs only its figure)."""

    def __init__(self, rul: float) -> None:
        self.rul = rul
        self.spec = SimpleNamespace(signals=SIGNALS)

    def predict_history(self, history: list[dict[str, float]]) -> float:
        return self.rul


def test_a_rul_model_alone_does_not_make_an_asset_healthy_while_its_baseline_is_learned() -> None:
    """Without a baseline the anomaly check cannot judge: the state is ``learning``, not ``ok``, however far the
    RUL model puts the failure, and the reason gives what is known (the RUL) before the baseline's progress."""
    model = FixedRul(125.0)
    h = health(baseline_cycles=50, rul_model=model)
    stream(h, rows(20), cycle_s=30.0)
    state, reason = h.status()
    assert state == "learning"
    assert reason["summary"] == (
        "RUL 125 cycles; anomaly check still learning its baseline (20/50 cycles, about 15 min left)"
    )
    assert reason["parts"][0]["message"] == "RUL {rul} cycles"
    # once the baseline is learned the anomaly check judges, and only then is the asset ok
    stream(h, rows(40, seed=1), t0=20 * 30.0, cycle_s=30.0)
    assert h.status()[0] == "ok"


def test_a_rul_warning_while_the_baseline_is_learned_gives_its_cause_first() -> None:
    model = FixedRul(10.0)  # below the warning level of 25 cycles
    h = health(baseline_cycles=50, rul_model=model)
    stream(h, rows(20), cycle_s=30.0)
    state, reason = h.status()
    assert state == "warning" and h.warnings["rul"]
    first, last = reason["parts"][0], reason["parts"][-1]
    assert first["message"] == "RUL {rul} cycles (warning below {limit})"
    assert last["message"].startswith("anomaly check still learning") and last["args"]["have"] == 20
    # a RUL near the warning level is a watch, also while learning
    model.rul = 40.0
    stream(h, rows(12, seed=2), t0=20 * 30.0, cycle_s=30.0)
    assert h.status()[0] == "watch"


def test_a_reason_names_its_drivers_in_the_readers_language() -> None:
    from werk.apps.maintenance.api import reason_values
    from werk.i18n import Translator

    h = health()
    stream(h, rows(100))
    live = rows(20, seed=3)
    live[:, 2] += 1.0  # vibration
    stream(h, live, t0=1e6)
    state, reason = h.status()
    assert state == "warning" and "vibration" in reason["summary"]
    part = reason["parts"][0]
    drivers = h.snapshot()["drivers"]
    de = Translator("de")
    assert reason_values(de, part["args"], drivers)["drivers"] == "Schwingung 100\u00a0%"
    assert reason_values(de, {"left_s": 900.0})["left_s"] == "15 Min."


def demo(tmp_path: Path, **maintenance: object) -> WerkConfig:
    config = load_config(demo_config_path())
    settings = config.app("maintenance").model_copy(
        update={"auto_train": False, "models_dir": str(tmp_path / "models"), **maintenance}
    )
    return config.model_copy(update={"apps": config.apps.model_copy(update={"maintenance": settings})})


def test_the_demo_machines_run_many_healthy_cycles_without_a_warning(tmp_path: Path) -> None:
    """The demo's eight machines for a simulated day, wear held where each started (healthy machines, with
    their products, changeovers, micro-stops and random faults): no warning, and every baseline complete."""
    config = demo(tmp_path)
    app, file = offline_app(config, tmp_path / "werk.db")
    factory = Factory(config, datetime(2026, 1, 5, tzinfo=UTC))
    start = {name: a.model.wear for name, a in factory.assets.items()}
    for (
        a
    ) in factory.assets.values():  # and no leak growing (the demo's compressor has one: a fault, not health)
        a.model.cfg = a.model.cfg.model_copy(
            update={"meter": a.model.cfg.meter.model_copy(update={"leak_kw_per_hour": 0.0})}
        )

    def hold_wear(f: Factory) -> None:
        for name, a in f.assets.items():
            a.model.wear = start[name]

    warnings = [w for fed in replay(app, factory, 86400, before_tick=hold_wear) for w in fed.warnings]
    file.close()
    assert warnings == []
    assert all(h.detector is not None for h in app.health.values())
    assert min(h.cycles_seen for h in app.health.values()) > 1000 / 2


def test_a_baseline_survives_a_restart_of_the_app(tmp_path: Path, app_db_opener: Opener) -> None:
    config = demo(tmp_path)
    app, file = offline_app(config, tmp_path / "werk.db", app_db_opener())
    factory = Factory(config, datetime(2026, 1, 5, tzinfo=UTC))
    for _ in replay(app, factory, 6 * 3600):
        pass
    h = app.health["press-1"]
    assert h.detector is not None and h.calibration is not None
    learning = app.health["assembly-1"]
    assert learning.detector is None and 10 <= len(learning.baseline) < 300
    app.save_states()
    file.close()
    again, file = offline_app(config, tmp_path / "werk.db", app_db_opener())  # the app after a restart
    try:
        h2 = again.health["press-1"]
        assert h2.detector is not None and h2.calibration == h.calibration
        np.testing.assert_array_equal(h2.detector.mean, h.detector.mean)
        assert again.health["assembly-1"].baseline == learning.baseline
        assert again.snapshot()["press-1"]["baseline"]["ready"]
    finally:
        file.close()


async def test_one_open_work_order_per_machine_and_cause(tmp_path: Path, app_db: AppDatabase) -> None:
    config = demo(tmp_path)
    app, file = offline_app(config, tmp_path / "werk.db", app_db)
    try:
        await asyncio.to_thread(lambda: None)
        from werk.apps.maintenance.health import Warning

        raised = Warning("anomaly", {"score": 30.0, "drivers": {"vibration": 0.9}})
        await app._warn("cnc-1", raised)
        await app._warn("cnc-1", Warning("anomaly", {"score": 3.0}, "cleared"))
        await app._warn("cnc-1", Warning("anomaly", {"score": 41.0}))
        await app._warn("cnc-1", Warning("rul", {"rul_cycles": 12.0}))
        await app._warn("cnc-2", raised)
        orders = app.store.query_work_orders(asset="cnc-1")
        assert sorted(o.source for o in orders) == ["anomaly", "rul"]
        anomaly = next(o for o in orders if o.source == "anomaly")
        assert anomaly.count == 2 and anomaly.trigger == {"score": 41.0} and anomaly.cleared is None
        assert [e.get("event") for e in anomaly.history] == ["cleared", "raised"]
        await app._warn("cnc-1", Warning("anomaly", {"score": 2.0}, "cleared"))
        assert app.store.get_work_order(anomaly.id).cleared is not None  # type: ignore[union-attr]
        # once done, the next warning opens a new order
        await app.update_work_order(anomaly.id, "olga", {"status": "done"})
        await app._warn("cnc-1", raised)
        assert len(app.store.query_work_orders(asset="cnc-1", status="open")) == 2
        # and after a restart the open order is found in the file, not duplicated
        again = MaintenanceApp(app.ctx)
        await again._warn("cnc-1", raised)
        assert len(again.store.query_work_orders(asset="cnc-1")) == 3
    finally:
        file.close()
