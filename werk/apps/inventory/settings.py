"""The inventory app's settings: ``apps.stock`` (BOMs, opening stock, reorder points, counting assets)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from werk.config.model import AppSettings, StrictModel, WerkConfig


class ReorderSettings(StrictModel):
    """A reorder point: below ``point`` one replenishment signal asks for ``quantity``."""

    point: float = Field(ge=0)
    """The level below which to replenish."""
    quantity: float = Field(gt=0)
    """How much a replenishment brings."""


class InventorySettings(AppSettings):
    """Stock per material as a journal, booked from the machines' good parts through the BOM."""

    location: str = "main"
    """The stock location good parts are booked into and components taken from."""
    bom: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Product -> component -> quantity per good part."""
    opening_stock: dict[str, float] = Field(default_factory=dict)
    """Material -> quantity booked once, when the journal is empty (a first start)."""
    reorder: dict[str, ReorderSettings] = Field(default_factory=dict)
    """Material -> its reorder point."""
    units: dict[str, str] = Field(default_factory=dict)
    """Material -> its unit of measure (m, kg, l, ...), in which BOM quantities, levels and reorder points are
    counted; pieces (``pcs``) where not given."""
    assets: list[str] | None = None
    """The assets whose good parts are booked; every production asset when not given."""
    from_orders: bool = False
    """Book production from the orders app's bookings (its ``order.parts`` events) instead of the counters: an
    order's product in when its last step makes good parts, the product's BOM out when its first step does. A
    product that passes several machines is then booked once, and a machine without a product signal books what
    the plan had on it; parts no order took are not booked. Needs the orders app."""


def check(config: WerkConfig, settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Counting assets the plant does not have, and BOM quantities that are not positive."""
    assert isinstance(settings, InventorySettings)
    names = {r.name for r in config.assets()}
    problems: list[tuple[tuple[str | int, ...], str]] = [
        (("apps", "stock", "assets", k), f"no asset named {a!r} in the plant")
        for k, a in enumerate(settings.assets or [])
        if a not in names
    ]
    orders = config.apps.get("production_orders")
    if settings.from_orders and (orders is None or not orders.enabled):
        problems.append(
            (("apps", "stock", "from_orders"), "needs the production_orders app, which is not enabled")
        )
    for product, parts in settings.bom.items():
        for component, q in parts.items():
            if q <= 0:
                problems.append((("apps", "stock", "bom", product, component), "must be more than 0"))
    return problems
