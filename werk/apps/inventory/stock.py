"""Stock per material and location as a journal, backflush through the BOM, reorder points. Pure: no I/O.

Every change of stock is a :class:`Booking` (who, what, why, a reference); a level is the sum of its bookings, so a
stock count books the difference to what was counted and loses no history. Good parts of a product book the
product into its location and take its components out through the bill of material (backflush: consumption
recorded when the part is made, not when material is issued). A reorder point raises exactly one replenishment
signal when a level falls below it, and is armed again once the level is back at or above it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["receipt", "production", "backflush", "count", "issue"]


@dataclass(frozen=True)
class Booking:
    ts: datetime
    material: str
    location: str
    quantity: float  # positive into stock, negative out of it
    kind: Kind
    who: str
    why: str = ""
    ref: str = ""  # what caused it: an asset's counter, a delivery note, an order


@dataclass(frozen=True)
class BomLine:
    product: str
    component: str
    quantity: float  # per good part


@dataclass(frozen=True)
class ReorderRule:
    material: str
    location: str
    point: float  # below this, replenish
    quantity: float  # how much to order


@dataclass(frozen=True)
class Signal:
    """A replenishment signal: ``material`` at ``location`` fell to ``level``, below ``point``: order ``quantity``."""

    ts: datetime
    material: str
    location: str
    level: float
    point: float
    quantity: float


@dataclass
class Inventory:
    bom: Sequence[BomLine] = ()
    rules: Sequence[ReorderRule] = ()
    levels: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    journal: list[Booking] = field(default_factory=list)
    armed: dict[tuple[str, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._bom: dict[str, list[BomLine]] = defaultdict(list)
        for line in self.bom:
            self._bom[line.product].append(line)
        self._rules = {(r.material, r.location): r for r in self.rules}

    def level(self, material: str, location: str) -> float:
        return self.levels.get((material, location), 0.0)

    def book(self, bookings: Iterable[Booking]) -> list[Signal]:
        """Apply bookings; the replenishment signals their crossings raise (one per crossing)."""
        signals: list[Signal] = []
        for b in bookings:
            if b.quantity == 0:
                continue
            key = (b.material, b.location)
            self.levels[key] = self.levels.get(key, 0.0) + b.quantity
            self.journal.append(b)
            rule = self._rules.get(key)
            if rule is None:
                continue
            level = self.levels[key]
            if level < rule.point and self.armed.get(key, True):
                self.armed[key] = False
                signals.append(Signal(b.ts, b.material, b.location, level, rule.point, rule.quantity))
            elif level >= rule.point:
                self.armed[key] = True
        return signals

    def produced(
        self, ts: datetime, product: str, good: int, location: str, who: str, ref: str = "", order: str = ""
    ) -> list[Booking]:
        """The bookings of ``good`` parts of ``product`` made: the product in (``why`` the ``order`` they were
        made for, if known), its components out (backflush)."""
        # ``why`` of a backflush is the product whose BOM it follows (pages word it in the reader's language)
        out = [Booking(ts, product, location, float(good), "production", who, order, ref)]
        for line in self._bom.get(product, ()):
            out.append(
                Booking(
                    ts,
                    line.component,
                    location,
                    -line.quantity * good,
                    "backflush",
                    who,
                    product,
                    ref,
                )
            )
        return out

    def count(
        self, ts: datetime, material: str, location: str, counted: float, who: str, why: str = ""
    ) -> Booking:
        """A stock count: the booking that brings the level to ``counted`` (the journal keeps what was before)."""
        return Booking(
            ts,
            material,
            location,
            counted - self.level(material, location),
            "count",
            who,
            why or "stock count",
        )

    def consumption(self, material: str, location: str, since: datetime) -> float:
        """What left stock since ``since`` (backflush and issues; counts are corrections, not use)."""
        return -sum(
            b.quantity
            for b in self.journal
            if b.material == material
            and b.location == location
            and b.ts >= since
            and b.kind in ("backflush", "issue")
        )

    def days_of_supply(
        self, material: str, location: str, now: datetime, window: timedelta = timedelta(days=7)
    ) -> float | None:
        """The level divided by the mean daily use over ``window`` before ``now`` (or since the first booking of
        the material, when that is later: a day of history is not averaged over a week); None without use."""
        first = next((b.ts for b in self.journal if b.material == material and b.location == location), now)
        since = max(now - window, first)
        used = self.consumption(material, location, since)
        days = (now - since).total_seconds() / 86400
        if used <= 0 or days < 1 / 24:
            return None  # no use, or under an hour of history: no rate worth dividing by
        return self.level(material, location) / (used / days)

    def turns(
        self, material: str, location: str, now: datetime, window: timedelta = timedelta(days=30)
    ) -> float | None:
        """Inventory turns a year: use over the window (or the history there is, at least a day) divided by the
        time-weighted mean level over it, scaled to 365 days; None without use or stock."""
        rows = sorted(
            (b for b in self.journal if (b.material, b.location) == (material, location)), key=lambda b: b.ts
        )
        if not rows:
            return None
        since = max(now - window, rows[0].ts)
        days = (now - since).total_seconds() / 86400
        if days < 1:
            return None
        level, area, at = 0.0, 0.0, since
        for b in rows:
            if b.ts > since:
                area += level * (min(b.ts, now) - at).total_seconds()
                at = min(b.ts, now)
            level += b.quantity
        area += level * (now - at).total_seconds()
        mean = area / (now - since).total_seconds()
        used = self.consumption(material, location, since)
        if used <= 0 or mean <= 0:
            return None
        return used / mean * 365 / days

    def snapshot(self) -> Mapping[tuple[str, str], float]:
        return dict(self.levels)


class PartCounter:
    """Good parts per product from an asset's ``good_count`` and ``product`` signals, in the order they come.

    The first value of a counter is its baseline (parts made before werk watched are not booked); a decrease is a
    reset and a new baseline. An increase is booked to the product the asset named before it (a changeover stamped
    with the last part of the old product books that part to the old one when the counter comes first)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.products: dict[str, str] = {}

    def feed(self, asset: str, signal: str, value: object) -> tuple[str, int] | None:
        """(product, good parts) for a counter increase, else None."""
        if signal == "product":
            self.products[asset] = str(value)
            return None
        if signal != "good_count":
            return None
        try:
            n = int(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        before = self.counts.get(asset)
        self.counts[asset] = n
        if before is None or n <= before:
            return None
        return self.products.get(asset, ""), n - before
