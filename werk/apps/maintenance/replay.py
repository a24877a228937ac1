"""The virtual factory's machines fed to the maintenance app offline: no servers, simulated time as fast as it runs.

Each tick of a :class:`werk.sim.factory.Factory` becomes the samples a connector would publish for it (the values
that changed, stamped with the factory's wall-clock instant), and the machine-state app's output is stood in for by
the simulator's own state (what the demo's mapping of OPC UA for Machinery gives for it). The batch goes to
:meth:`MaintenanceApp.feed`, the method the app's bus consumer calls, so what is measured and tested is the code
the app runs. Only the signals the app subscribes to are built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from werk.apps.maintenance.app import MaintenanceApp
from werk.apps.maintenance.health import Warning
from werk.apps.maintenance.store import MIGRATIONS
from werk.apps.spec import AppContext
from werk.bus.memory import MemoryBus
from werk.config.model import WerkConfig
from werk.core.model import Sample
from werk.core.states import STATE_SIGNAL
from werk.sim.factory import Factory
from werk.store.app_database import AppDatabase, SQLiteAppDatabase
from werk.store.sqlite import SQLiteHistorian
from werk.store.sqlite_file import SQLiteFile


@dataclass(frozen=True)
class Fed:
    """One tick's outcome: the instant (simulated seconds since the factory's start) and what the app decided."""

    sim_s: float
    out: list[Sample]
    warnings: list[tuple[str, Warning]]


def offline_app(
    config: WerkConfig, db: Path, tables: AppDatabase | None = None
) -> tuple[MaintenanceApp, SQLiteFile]:
    """The maintenance app on a werk file of its own (``db``, created if missing), without bus traffic or servers;
    close the returned file when done. A second app on the same file is the same app after a restart. ``tables``
    puts the app's own tables elsewhere (PostgreSQL; the caller closes it), the historian staying on the file."""
    file = SQLiteFile(db)
    file.open()
    historian = SQLiteHistorian(file)
    historian.open()
    apps_db = SQLiteAppDatabase(file) if tables is None else tables
    apps_db.migrate("maintenance", MIGRATIONS)
    ctx = AppContext(
        name="maintenance",
        config=config,
        settings=config.app("maintenance"),
        bus=MemoryBus(),
        historian=historian,
        db=apps_db,
        live={},
        data_dir=db.parent,
    )
    return MaintenanceApp(ctx), file


def replay(
    app: MaintenanceApp,
    factory: Factory,
    ticks: int,
    *,
    assets: set[str] | None = None,
    before_tick: Callable[[Factory], None] | None = None,
    on_batch: Callable[[list[Sample]], None] | None = None,
) -> Iterator[Fed]:
    """Advance ``factory`` by ``ticks`` ticks and feed every one to ``app``; yields the ticks where the app published
    or warned. ``assets`` limits the feed to those machines (all the app watches by default); ``before_tick`` may
    change the factory (a forced fault) before each step; ``on_batch`` sees each batch before the app does."""
    watched = {*app.settings.signals, "cycle_count"}
    paths = {name: ref.path for name, ref in app.refs.items() if assets is None or name in assets}
    for _ in range(ticks):
        if before_tick is not None:
            before_tick(factory)
        changed = factory.step()
        ts = factory.now
        batch = []
        for name, signal, value in changed:
            path = paths.get(name)
            if path is None:
                continue
            if signal == "state":
                batch.append(Sample(f"{path}/{STATE_SIGNAL}", ts, value))
            elif signal in watched:
                batch.append(Sample(f"{path}/{signal}", ts, value))
        if on_batch is not None:
            on_batch(batch)
        out, warnings = app.feed(batch)
        if out or warnings:
            yield Fed(factory.sim_seconds, out, warnings)
