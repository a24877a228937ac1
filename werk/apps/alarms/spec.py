"""The alarm app: ISA-18.2 / IEC 62682 alarm management, from limits to the KPI report EEMUA 191 grades."""

from __future__ import annotations

from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    title=N_("Alarms"),
    tiles=(Tile("alarms", N_("Active alarms"), format="integer", order=5),),
    order=32,
    partitioned=True,
)
