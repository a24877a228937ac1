"""One worker for ``benchmarks/scale.py``: the ``Worker`` that ``werk worker`` runs, on the event loop the plant file
names, started without the command line's start-up (``werk.cli`` loads every app and connector to build its
commands: seconds of CPU per process on the shared machine, nine processes a run; a worker needs none of it, and
none of it is inside the figures, which start when the worker is ready). Its counters are written as JSON at exit.

    python benchmarks/scale_worker.py PLANT_FILE NAME IDLE_S STATS_FILE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from werk import event_loop
from werk.config import load_config
from werk.runtime.worker import Worker


async def run(worker: Worker, idle_s: float, stats: Path) -> None:
    try:
        await worker.run(idle_exit_s=idle_s)
    finally:
        stats.write_text(json.dumps(worker.stats()), encoding="utf-8")  # noqa: ASYNC240 - once, at exit


def main() -> int:
    plant, name, idle_s, stats = sys.argv[1:5]
    config = load_config(plant)
    event_loop.run(run(Worker(config, name), float(idle_s), Path(stats)), config.server.event_loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
