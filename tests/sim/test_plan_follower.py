"""The virtual factory working to a plan (werk.sim.plan_follower, MachineModel.wanted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werk.config import demo_config_path, parse_config
from werk.registry import default_registry
from werk.sim.factory import Factory
from werk.sim.plan_follower import wanted_products

T0 = datetime(2026, 12, 7, 6, tzinfo=UTC)


def test_the_operation_planned_now_or_next_names_each_machines_product() -> None:
    at = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    plan = {
        "machines": {
            "cnc-1": [
                {"start": at(-30), "end": at(-10), "product": "HSG-100"},  # over
                {"start": at(40), "end": at(90), "product": "HSG-100"},
                {"start": at(-5), "end": at(30), "product": "HSG-200"},  # now
            ],
            "cnc-2": [{"start": at(60), "end": at(90), "product": "FLG-300"}],  # next
            "elsewhere": [{"start": at(0), "end": at(9), "product": "X"}],
        }
    }
    assert wanted_products(plan, T0, ["cnc-1", "cnc-2", "lathe-1"]) == {
        "cnc-1": "HSG-200",
        "cnc-2": "FLG-300",
        "lathe-1": None,  # nothing planned: its own mix
    }


def test_a_machine_changes_over_to_the_planned_product_and_keeps_to_it() -> None:
    config = parse_config(demo_config_path().read_text(), "demo.yaml", default_registry())
    factory = Factory(config, T0)
    cnc = factory.assets["cnc-1"].model
    assert cnc.product == "HSG-100"
    factory.follow({"cnc-1": "HSG-200", "cnc-2": "NOT-MADE-THERE"})
    made: dict[str, int] = {}
    for _ in range(
        3 * 3600
    ):  # three simulated hours: hundreds of cycles, several of them past a changeover point
        before, good = cnc.product, cnc.good_count
        factory.step()
        made[before] = made.get(before, 0) + cnc.good_count - good
    assert cnc.product == "HSG-200"
    assert made["HSG-200"] > 100 and made.get("HSG-100", 0) <= 1  # at most the cycle that was running
    # a product the machine does not make is not asked of it: cnc-2 keeps its own mix
    assert factory.assets["cnc-2"].model.product in ("HSG-100", "FLG-300")
    factory.follow({"cnc-1": None})
    assert cnc.wanted is None
