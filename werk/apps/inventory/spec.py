"""The inventory app: stock per material as a journal, booked from good parts through the BOM, goods receipts,
stock counts, reorder points that raise one replenishment signal per crossing, days of supply."""

from __future__ import annotations

from werk.apps.inventory.api import build_router
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.settings import InventorySettings, check
from werk.apps.inventory.store import MIGRATIONS
from werk.apps.spec import AppSpec, Page
from werk.i18n import N_

SPEC = AppSpec(
    name="stock",
    title=N_("Inventory"),
    build=InventoryApp,
    settings=InventorySettings,
    package=__package__ or "werk.apps.inventory",
    router=build_router,
    pages=(Page("/inventory", N_("Inventory"), "stock/inventory.html", order=45),),
    migrations=MIGRATIONS,
    check=check,
    order=45,
)
