"""The orders app's settings: ``apps.production_orders`` (routings, the objective, time limits, breakdowns, example orders)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from werk.config.model import AppSettings, StrictModel, WerkConfig


class StepSettings(StrictModel):
    """One step of a product's routing."""

    operation: str
    """What the step does (milling, turning, pressing, ...)."""
    machines: list[str] = Field(min_length=1)
    """The assets that can do it."""
    run_s: list[float] = Field(min_length=1)
    """Seconds per part: one value for every machine, or one per machine in the order of ``machines``."""
    setup_min: float = Field(default=0.0, ge=0)
    """Minutes of setup before the step's parts."""
    family: str = ""
    """Setup family: a change of family on a machine costs ``setups`` minutes."""


class OrdersSettings(AppSettings):
    """Production orders, their state from the machines' counters, and a finite-capacity plan that follows
    breakdowns (OR-Tools CP-SAT)."""

    routings: dict[str, list[StepSettings]] = Field(default_factory=dict)
    """Product -> its steps in order. More come from a CSV or Excel import (POST /api/orders/routings)."""
    objective: Literal["lateness", "makespan", "setups"] = "lateness"
    """What the plan minimises first: lateness (weighted by priority), makespan or setup time."""
    time_limit_s: float = Field(default=10.0, gt=0, le=600)
    """Seconds a full plan may take."""
    release_time_limit_s: float = Field(default=3.0, gt=0, le=60)
    """Seconds the plan may take when orders are released (the current plan is its warm start)."""
    replan_time_limit_s: float = Field(default=1.2, gt=0, le=60)
    """Seconds the solver gets to repair the plan after a breakdown or a machine's return."""
    breakdown_min: int = Field(default=60, ge=1)
    """Minutes a machine that faults is assumed to stay down, until it runs again."""
    horizon_days: int = Field(default=14, ge=1, le=366)
    """Days ahead the plant's calendar (shifts, holidays, planned downtime) closes machines in the plan."""
    inspection_min: int = Field(default=60, ge=0)
    """Minutes kept free on a machine when the maintenance app raises a warning (a work order to inspect it);
    0 plans no inspection."""
    inspection_after_min: int = Field(default=30, ge=0)
    """How long after the warning the inspection window begins."""
    learn_after_parts: int = Field(default=20, ge=0)
    """Parts of a step seen on a machine after which the plan uses their measured time per part instead of the
    routing's (the gaps between counter increases, stops left out); 0 keeps the routing's times."""
    example_orders: int = Field(default=0, ge=0, le=200)
    """Example orders released at the first start when there are none (for the demo)."""


def check(config: WerkConfig, settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Routings that name an asset the plant does not have, or give run times that do not match the machines."""
    assert isinstance(settings, OrdersSettings)
    assets = {r.name for r in config.assets()}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for product, steps in settings.routings.items():
        for k, step in enumerate(steps):
            where = ("apps", "production_orders", "routings", product, k)
            for m in step.machines:
                if m not in assets:
                    problems.append(((*where, "machines"), f"no asset named {m!r} in the plant"))
            if len(step.run_s) not in (1, len(step.machines)):
                problems.append(((*where, "run_s"), "give one run time, or one per machine"))
    return problems
