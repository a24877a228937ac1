"""The downtime and OEE app: stops and their reasons, the shift calendar, ISO 22400 KPIs live and as reports."""

from __future__ import annotations

from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    title=N_("Downtime & OEE"),
    tiles=(
        Tile("kpis.availability", N_("Availability"), format="percent", order=20),
        Tile("kpis.oee", N_("OEE"), format="percent", order=21),
        # how much of the shift so far werk saw: the two figures above are over that time only
        Tile("kpis.coverage", N_("Coverage"), format="percent", order=22),
    ),
    order=20,
    partitioned=True,
)
