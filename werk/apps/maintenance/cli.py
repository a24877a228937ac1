"""``werk maintenance train``: RUL models from the simulator's run-to-failure lives, with progress bars."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from werk.apps.maintenance.settings import MaintenanceSettings, maintenance_settings
from werk.config import demo_config_path, load_config
from werk.errors import WerkError
from werk.sim.spec import sim_asset


def add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="maintenance_command", required=True)
    tr = sub.add_parser("train", help="train RUL models from the simulator's run-to-failure lives")
    tr.add_argument("-c", "--config", help="plant file (default: the demo plant)")
    tr.add_argument(
        "--asset", action="append", help="asset to train (repeatable; default: every simulated one)"
    )
    tr.add_argument("--lives", type=int, default=30, help="run-to-failure lives per asset (default 30)")
    tr.add_argument("--models", help="folder for the model files (default: apps.maintenance.models_dir)")
    tr.set_defaults(func=train)


def train(args: argparse.Namespace) -> int:
    from werk.apps.maintenance.training import train_asset

    console = Console(soft_wrap=True)
    config = load_config(args.config or demo_config_path())
    if args.models:
        m: MaintenanceSettings = maintenance_settings(config).model_copy(update={"models_dir": args.models})
        config = config.model_copy(update={"apps": config.apps.model_copy(update={"maintenance": m})})
    assets = args.asset or [r.name for r in config.assets() if sim_asset(r.config) is not None]
    if not assets:
        raise WerkError("no simulated assets to train on; pass --asset for the ones you want")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {a: progress.add_task(f"{a}: simulating lives", total=args.lives) for a in assets}
        for a in assets:
            try:
                t = train_asset(
                    config,
                    a,
                    n_lives=args.lives,
                    progress=lambda asset, i, n: progress.update(tasks[asset], completed=i),
                )
            except (ValueError, KeyError) as exc:
                raise WerkError(f"{a}: {exc}") from None
            progress.update(tasks[a], description=f"{a}: RMSE {t.rmse_cycles:.1f} cycles on held-out lives")
            console.print(f"[green]✓[/] {t.path} ({t.lives} lives, {t.rows:,} cycles)")
    return 0
