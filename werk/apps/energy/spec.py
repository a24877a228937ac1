"""The energy app: meters to kWh per part, 15-minute peaks, time-of-use costs, CO2e, ISO 50006 baselines."""

from __future__ import annotations

from werk.apps.energy.api import build_router
from werk.apps.energy.app import EnergyApp
from werk.apps.energy.settings import EnergySettings, check
from werk.apps.energy.store import MIGRATIONS
from werk.apps.spec import AppSpec, Page, Tile
from werk.i18n import N_

SPEC = AppSpec(
    name="energy",
    title=N_("Energy"),
    build=EnergyApp,
    settings=EnergySettings,
    package=__package__ or "werk.apps.energy",
    router=build_router,
    pages=(Page("/energy", N_("Energy"), "energy/energy.html", order=35),),
    # in Wh: a part's kWh is often below 0.1, which a card's one decimal would show as 0.0
    tiles=(Tile("energy_per_part_wh", N_("Energy per part"), unit=N_("Wh"), format="number", order=40),),
    migrations=MIGRATIONS,
    check=check,
    order=40,
)
