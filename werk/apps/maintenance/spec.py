"""The predictive maintenance app: healthy baselines, anomaly scores, remaining useful life, work orders."""

from __future__ import annotations

from werk.apps.maintenance.api import build_router
from werk.apps.maintenance.app import MaintenanceApp
from werk.apps.maintenance.cli import add_commands
from werk.apps.maintenance.settings import MaintenanceSettings
from werk.apps.maintenance.store import MIGRATIONS
from werk.apps.maintenance.twin import submodels
from werk.apps.spec import AppSpec, Page, Tile
from werk.i18n import N_

SPEC = AppSpec(
    name="maintenance",
    title=N_("Maintenance"),
    build=MaintenanceApp,
    settings=MaintenanceSettings,
    package=__package__ or "werk.apps.maintenance",
    router=build_router,
    pages=(Page("/maintenance", N_("Maintenance"), "maintenance/maintenance.html", order=30),),
    tiles=(Tile("rul_cycles", N_("RUL"), unit=N_("cycles"), format="integer", order=30),),
    migrations=MIGRATIONS,
    cli=add_commands,
    submodels=submodels,
    order=30,
    partitioned=True,
)
