"""The virtual factory working to a plan (werk.sim.plan_follower, MachineModel.wanted)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request

from tests.conftest import serving, wait_until
from werk.config import demo_config_path, parse_config
from werk.registry import default_registry
from werk.sim.factory import Factory
from werk.sim.plan_follower import follow, wanted_products

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


def test_with_done_flags_the_first_operation_not_done_names_the_product() -> None:
    """An accelerated machine that finished its operation early goes on to the next; one behind finishes its own."""
    at = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    plan = {
        "machines": {
            "cnc-1": [
                {"start": at(40), "end": at(90), "product": "HSG-100", "done": False},
                {
                    "start": at(-5),
                    "end": at(30),
                    "product": "HSG-200",
                    "done": True,
                },  # planned now, made already
            ],
            "cnc-2": [
                {"start": at(-60), "end": at(-10), "product": "FLG-300", "done": False},  # over, not made yet
                {"start": at(-5), "end": at(30), "product": "HSG-100", "done": False},
            ],
            "lathe-1": [{"start": at(-5), "end": at(30), "product": "SHF-010", "done": True}],
        }
    }
    assert wanted_products(plan, T0, ["cnc-1", "cnc-2", "lathe-1"]) == {
        "cnc-1": "HSG-100",
        "cnc-2": "FLG-300",
        "lathe-1": None,  # all of it made: its own mix
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


async def test_a_refused_plan_is_logged_with_its_reason_and_a_token_reads_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """werk answers reads 401 once it has users: the follower says so (not only that werk was down before) and
    reads the plan with the token it is given."""
    token = "viewer-token-1"
    plan = {"machines": {"cnc-1": [{"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat(), "product": "HSG-200"}]}}  # fmt: skip
    app = FastAPI()

    @app.get("/api/orders/plan")
    async def read_plan(request: Request) -> Any:
        if request.headers.get("authorization") != f"Bearer {token}":
            raise HTTPException(401, "reads need a sign-in or a bearer token")
        return plan

    config = parse_config(demo_config_path().read_text(), "demo.yaml", default_registry())
    caplog.set_level(logging.WARNING, logger="werk.sim.plan_follower")
    async with serving(app) as base:
        url = f"{base}/api/orders/plan"
        factory = Factory(config, T0)
        without = asyncio.create_task(follow(factory, url, every_s=0.05))
        await wait_until(lambda: any("401" in r.getMessage() for r in caplog.records), timeout=5)
        without.cancel()
        assert factory.assets["cnc-1"].model.wanted is None
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 1 and "follow_plan_token_env" in messages[0]  # once, while the reason holds
        with_token = asyncio.create_task(follow(factory, url, every_s=0.05, token=token))
        await wait_until(lambda: factory.assets["cnc-1"].model.wanted == "HSG-200", timeout=5)
        with_token.cancel()
