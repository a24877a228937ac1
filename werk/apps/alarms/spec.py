"""The alarm app: ISA-18.2 / IEC 62682 alarm management, from limits to the KPI report EEMUA 191 grades."""

from __future__ import annotations

from werk.apps.alarms.api import build_router
from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.settings import AlarmsSettings, check
from werk.apps.alarms.store import MIGRATIONS
from werk.apps.spec import AppSpec, Page, Tile
from werk.i18n import N_

SPEC = AppSpec(
    name="alarms",
    title=N_("Alarms"),
    build=AlarmsApp,
    settings=AlarmsSettings,
    package=__package__ or "werk.apps.alarms",
    router=build_router,
    pages=(Page("/alarms", N_("Alarms"), "alarms/alarms.html", order=32),),
    tiles=(Tile("alarms", N_("Active alarms"), format="integer", order=5),),
    migrations=MIGRATIONS,
    check=check,
    order=40,
    partitioned=True,
)
