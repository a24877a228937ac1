"""The orders app: production orders, their state from the machines' counters, a finite-capacity plan (OR-Tools
CP-SAT) that is repaired within seconds of a breakdown, and capable-to-promise."""

from __future__ import annotations

from werk.apps.orders.api import build_router
from werk.apps.orders.app import OrdersApp
from werk.apps.orders.settings import OrdersSettings, check
from werk.apps.orders.store import MIGRATIONS
from werk.apps.spec import AppSpec, Page, Tile
from werk.i18n import N_

SPEC = AppSpec(
    name="production_orders",
    title=N_("Orders & plan"),
    build=OrdersApp,
    settings=OrdersSettings,
    package=__package__ or "werk.apps.orders",
    router=build_router,
    pages=(Page("/orders", N_("Orders & plan"), "production_orders/orders.html", order=40),),
    tiles=(Tile("order", N_("Order"), format="text", order=40),),
    migrations=MIGRATIONS,
    check=check,
    order=40,
)
