"""Background training of maintenance models stops with the platform: Ctrl+C on a first ``werk demo`` (no model
files yet) used to wait, at full CPU, until every asset's model was trained in a thread nothing could cancel."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import plant_config, running_stack, wait_until
from werk.apps.maintenance.model_file import model_path
from werk.apps.maintenance.training import train_missing


def test_a_set_stop_ends_training_within_a_life_and_writes_no_model(tmp_path: Path) -> None:
    config = plant_config(tmp_path, maintenance={"train_lives": 30})
    stop = threading.Event()
    status: dict[str, object] = {}
    seen: list[int] = []

    class Watch(dict[str, object]):
        def __setitem__(self, key: str, value: object) -> None:
            super().__setitem__(key, value)
            if key == "current" and isinstance(value, dict) and value["lives"] > 0:
                seen.append(value["lives"])
                if value["lives"] == 3:
                    stop.set()  # as the platform does when its task is cancelled

    status = Watch()
    done = train_missing(config, ["cnc-1", "lathe-1"], status, stop=stop)
    assert done == []
    assert seen == [1, 2, 3]  # the fourth life was not simulated
    assert status["state"] == "stopped" and status["current"] is None
    models = config.app("maintenance").models_dir
    assert not model_path(models, "cnc-1").exists() and not model_path(models, "lathe-1").exists()


async def test_stopping_the_platform_stops_its_training(tmp_path: Path) -> None:
    # lives enough that the stop comes while the first asset's are simulated (a quiet machine simulates 30 of
    # them between two looks at the status, and then fits and writes the model whatever the stop says)
    config = plant_config(tmp_path, maintenance={"auto_train": True, "train_lives": 1000})
    async with running_stack(config) as stack:
        status = stack.platform.apps["maintenance"].training_status
        await wait_until(lambda: (status.get("current") or {}).get("lives", 0) >= 2, timeout=60)
        assert status["state"] == "training"
        current = status["current"]
        assert current["lives"] < current["of"]  # the stop comes while lives are simulated
    # the thread notices within one life; without the stop it trains on for minutes (every simulated asset)
    await wait_until(lambda: status["state"] == "stopped", timeout=10)
    assert not any(t.name.startswith(("asyncio_", "uvloop_")) and _training(t) for t in threading.enumerate())
    models = config.app("maintenance").models_dir
    assert not any(model_path(models, ref.name).exists() for ref in config.assets())


def _training(thread: threading.Thread) -> bool:
    """Whether a worker thread is inside train_missing now."""
    import sys

    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "train_missing":
            return True
        frame = frame.f_back
    return False
