"""The downtime and OEE app: stops and their reasons, the shift calendar, ISO 22400 KPIs live and as reports."""

from __future__ import annotations

from werk.apps.oee.api import build_router
from werk.apps.oee.app import OeeApp
from werk.apps.oee.settings import OeeSettings, check
from werk.apps.oee.store import MIGRATIONS
from werk.apps.spec import AppSpec, Page, Tile
from werk.i18n import N_

SPEC = AppSpec(
    name="oee",
    title=N_("Downtime & OEE"),
    build=OeeApp,
    settings=OeeSettings,
    package=__package__ or "werk.apps.oee",
    router=build_router,
    pages=(Page("/oee", N_("Downtime & OEE"), "oee/oee.html", order=20),),
    tiles=(
        Tile("kpis.availability", N_("Availability"), format="percent", order=20),
        Tile("kpis.oee", N_("OEE"), format="percent", order=21),
        # how much of the shift so far werk saw: the two figures above are over that time only
        Tile("kpis.coverage", N_("Coverage"), format="percent", order=22),
    ),
    migrations=MIGRATIONS,
    check=check,
    order=20,
    partitioned=True,
)
