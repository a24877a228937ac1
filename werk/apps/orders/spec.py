"""The orders app: production orders, their state from the machines' counters, a finite-capacity plan (OR-Tools
CP-SAT) that is repaired within seconds of a breakdown, and capable-to-promise."""

from __future__ import annotations

from werk.apps.spec import AppSpec, Tile
from werk.i18n import N_

SPEC = AppSpec.from_package(
    __package__,
    name="production_orders",
    page="orders",
    title=N_("Orders & plan"),
    tiles=(
        Tile("order", N_("Order"), format="text", order=40),  # the order its last parts were booked to
        Tile("planned_order", N_("Order (planned)"), format="text", order=41),  # before it booked any
    ),
    order=40,
)
