"""The machine-state app: each production asset's state (running, idle, setup, fault, ...) from its own signals."""

from __future__ import annotations

from werk.apps.machine_state.settings import StateMappingConfig
from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    title=N_("Machine state"),
    asset_key="states",
    asset_settings=StateMappingConfig,
    tiles=(Tile("state", N_("State"), format="state", order=0),),
    order=10,  # first: the other apps read the states it publishes
    partitioned=True,
)
