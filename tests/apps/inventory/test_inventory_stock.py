"""The inventory engine (werk.apps.inventory.stock): the simulator's parts through the BOM against the simulator's
own ground truth, reorder signals, stock counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from werk.apps.inventory.stock import BomLine, Booking, Inventory, PartCounter, ReorderRule
from werk.config import demo_config_path, parse_config
from werk.registry import default_registry
from werk.sim.factory import Factory

T0 = datetime(2026, 12, 7, 6, tzinfo=UTC)
BOM = [
    BomLine("HSG-100", "BLK-AL-100", 1.0),
    BomLine("HSG-100", "SCREW-M6", 4.0),
    BomLine("HSG-200", "BLK-AL-100", 1.0),
    BomLine("FLG-300", "DISC-ST-300", 1.0),
    BomLine("SHF-010", "BAR-ST-20", 0.25),
    BomLine("SHF-020", "BAR-ST-20", 0.2),
]
START = {"BLK-AL-100": 5000.0, "SCREW-M6": 20000.0, "DISC-ST-300": 3000.0, "BAR-ST-20": 1000.0}


def test_the_simulators_parts_through_the_bom_leave_every_level_where_the_simulator_says() -> None:
    config = parse_config(demo_config_path().read_text(), "demo.yaml", default_registry())
    factory = Factory(config, T0)
    inv = Inventory(BOM)
    inv.book(Booking(T0, m, "main", q, "receipt", "test", "opening stock") for m, q in START.items())
    counter = PartCounter()
    truth: Counter[str] = Counter()
    for asset, sig, value in factory.current():
        counter.feed(asset, sig, value)
    # four simulated hours in 1-s ticks: the machines make parts, change product, break and get repaired
    for _ in range(4 * 3600):
        before = {n: (a.model.product, a.model.good_count) for n, a in factory.assets.items()}
        changed = factory.step()
        for n, a in factory.assets.items():
            product, good = before[n]
            truth[product] += a.model.good_count - good  # the model's own count, under the product it ran
        for asset, sig, value in changed:
            made = counter.feed(asset, sig, value)
            if made is not None and made[0]:
                inv.book(inv.produced(factory.now, made[0], made[1], "main", "counter", asset))
    products = {line.product for line in BOM}
    assert sum(truth[p] for p in products) > 500  # the check means something: hundreds of parts were made
    for p in products:
        assert inv.level(p, "main") == truth[p], p
    for material, start in START.items():
        used = sum(line.quantity * truth[line.product] for line in BOM if line.component == material)
        assert abs(inv.level(material, "main") - (start - used)) < 1e-6, material
    # and the journal explains every level: the sum of its bookings
    for (material, location), level in inv.levels.items():
        assert (
            abs(
                sum(b.quantity for b in inv.journal if (b.material, b.location) == (material, location))
                - level
            )
            < 1e-6
        )


def test_a_reorder_point_crossing_raises_exactly_one_signal_until_stock_is_back() -> None:
    inv = Inventory([BomLine("P", "C", 2.0)], [ReorderRule("C", "main", point=10, quantity=50)])
    inv.book([Booking(T0, "C", "main", 20, "receipt", "alice", "delivery note 4711")])
    signals = []
    for k in range(8):  # 8 parts use 16 of the 20: below 10 after the 6th part
        signals += inv.book(inv.produced(T0 + timedelta(minutes=k), "P", 1, "main", "counter"))
    assert [(s.level, s.point, s.quantity) for s in signals] == [(8.0, 10, 50)]
    assert signals[0].ts == T0 + timedelta(minutes=5)
    signals = inv.book([Booking(T0, "C", "main", 50, "receipt", "bob", "replenished")])
    assert signals == [] and inv.armed[("C", "main")]
    for k in range(25):
        signals += inv.book(inv.produced(T0 + timedelta(hours=1, minutes=k), "P", 1, "main", "counter"))
    assert len(signals) == 1  # the second crossing, once


def test_a_stock_count_corrects_the_level_and_keeps_the_history() -> None:
    inv = Inventory()
    inv.book([Booking(T0, "C", "main", 100, "receipt", "alice")])
    inv.book([Booking(T0 + timedelta(hours=1), "C", "main", -30, "issue", "bob", "to line 2")])
    correction = inv.count(T0 + timedelta(hours=2), "C", "main", 65, "carol", "annual count")
    inv.book([correction])
    assert inv.level("C", "main") == 65
    assert correction.quantity == -5 and correction.who == "carol" and correction.kind == "count"
    assert [b.quantity for b in inv.journal] == [100, -30, -5]
    # 30 used in the first day of history: 65 left lasts 65 / 30 days (a day is not averaged over a week)
    assert abs(inv.days_of_supply("C", "main", T0 + timedelta(days=1)) - 65 / 30) < 1e-9  # type: ignore[operator]
    assert abs(inv.days_of_supply("C", "main", T0 + timedelta(days=5)) - 65 / (30 / 5)) < 1e-9  # type: ignore[operator]
    assert inv.days_of_supply("C", "main", T0 + timedelta(days=10)) is None  # no use in the last 7 days


def test_inventory_turns_are_use_over_the_time_weighted_mean_level() -> None:
    inv = Inventory()
    inv.book([Booking(T0, "C", "main", 100, "receipt", "alice")])
    inv.book([Booking(T0 + timedelta(days=5), "C", "main", -50, "issue", "bob")])
    # 10 days: level 100 for 5 days, 50 for 5: mean 75; 50 used in 10 days -> 50 / 75 * 36.5 turns a year
    assert abs(inv.turns("C", "main", T0 + timedelta(days=10)) - 50 / 75 * 36.5) < 1e-9  # type: ignore[operator]
    assert inv.turns("C", "main", T0 + timedelta(hours=12)) is None  # under a day of history
