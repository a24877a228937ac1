"""The inventory app: stock per material as a journal, booked from good parts through the BOM, goods receipts,
stock counts, reorder points that raise one replenishment signal per crossing, days of supply."""

from __future__ import annotations

from werk.apps.spec import AppSpec
from werk.i18n import N_

SPEC = AppSpec.from_package(__package__, name="stock", page="inventory", title=N_("Inventory"), order=45)
