"""Inventory endpoints: stock levels, the journal, goods receipts, stock counts, replenishment signals."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from werk.apps.bodies import body_of
from werk.apps.inventory.app import InventoryApp
from werk.apps.inventory.stock import Booking, Signal
from werk.apps.spec import Web
from werk.core.model import User


class StockOut(BaseModel):
    material: str
    location: str
    unit: str  # the unit of measure of level and reorder point; "pcs" (pieces) unless the settings name one
    level: float
    reorder_point: float | None
    days_of_supply: float | None
    turns_per_year: float | None
    below_point: bool


BookingOut: Any = body_of(Booking, "BookingOut", __name__)
SignalOut: Any = body_of(Signal, "SignalOut", __name__)


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    material: str = Field(min_length=1, max_length=100)
    quantity: float = Field(gt=0, le=1e9, strict=True)  # a number (true is not 1); a billion at most
    why: str = Field(default="", max_length=200)
    ref: str = Field(default="", max_length=100)


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    material: str = Field(min_length=1, max_length=100)
    counted: float = Field(ge=0, le=1e12, strict=True)
    why: str = Field(default="", max_length=200)


def build_router(app: InventoryApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/inventory", tags=["inventory"])

    @r.get("/stock", response_model=list[StockOut])
    async def stock() -> list[StockOut]:
        """Every material's level, its reorder point, days of supply (level / mean daily use over 7 days) and
        inventory turns a year (use over 30 days / mean level, scaled to a year)."""
        return [StockOut(**x) for x in app.stock()]

    @r.get("/journal", response_model=list[BookingOut])
    async def journal(
        material: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        """The latest bookings, newest first: who, what, why and what caused it."""
        return [asdict(b) for b in app.store.journal(material, limit)]

    @r.get("/signals", response_model=list[SignalOut])
    async def signals() -> list[dict[str, Any]]:
        """Replenishment signals, newest first: one per reorder-point crossing."""
        return [asdict(s) for s in app.store.signals()]

    @r.post("/receipts", response_model=BookingOut)
    async def receipt(body: ReceiptIn, user: User = Depends(web.require("operator"))) -> dict[str, Any]:  # noqa: B008
        """Book a goods receipt into the stock location (on a cluster's API replica: booked by the worker that
        runs the app, once however often the request is sent on)."""
        return await app.act("receipt", body.model_dump(), user.name)

    @r.post("/counts", response_model=BookingOut)
    async def count(body: CountIn, user: User = Depends(web.require("supervisor"))) -> dict[str, Any]:  # noqa: B008
        """A stock count: books the difference to the counted quantity; the journal keeps the history (on a
        cluster's API replica: booked by the worker that runs the app, from its levels)."""
        return await app.act("count", body.model_dump(), user.name)

    return r
