"""The predictive maintenance app: healthy baselines, anomaly scores, remaining useful life, work orders."""

from __future__ import annotations

from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    title=N_("Maintenance"),
    tiles=(Tile("rul_cycles", N_("RUL"), unit=N_("cycles"), format="integer", order=30),),
    order=30,
    partitioned=True,
)
