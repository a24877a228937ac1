"""The energy app: meters to kWh per part, 15-minute peaks, time-of-use costs, CO2e, ISO 50006 baselines."""

from __future__ import annotations

from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    title=N_("Energy"),
    # in Wh: a part's kWh is often below 0.1, which a card's one decimal would show as 0.0
    tiles=(Tile("energy_per_part_wh", N_("Energy per part"), unit=N_("Wh"), format="number", order=40),),
    order=35,
)
