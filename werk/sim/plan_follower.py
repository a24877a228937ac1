"""The virtual factory working to a plan: it reads a plan per machine over HTTP and tells each machine what to make.

The plan is JSON as werk serves it: ``{"machines": {"cnc-1": [{"start": ISO, "end": ISO, "product": "HSG-100"},
...]}}``. For each machine the operation planned now (or else the next one) names the product; a machine with
nothing planned goes back to its own mix. A plan that cannot be read leaves the machines as they are (logged once
per failure streak), so a werk that restarts does not stop the factory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from werk.sim.factory import Factory

log = logging.getLogger(__name__)
EVERY_S = 5.0


def wanted_products(plan: Mapping[str, Any], now: datetime, machines: list[str]) -> dict[str, str | None]:
    """Machine -> the product of its operation planned at ``now`` or next (None: nothing planned)."""
    out: dict[str, str | None] = dict.fromkeys(machines)
    for machine, slots in (plan.get("machines") or {}).items():
        if machine not in out:
            continue
        best: tuple[datetime, str] | None = None
        for s in slots:
            start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
            if end <= now or not s.get("product"):
                continue
            key = max(start, now)
            if best is None or key < best[0]:
                best = (key, str(s["product"]))
        out[machine] = best[1] if best else None
    return out


async def follow(factory: Factory, url: str, every_s: float = EVERY_S) -> None:
    """Poll ``url`` and steer ``factory`` until cancelled."""
    failing = False
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            try:
                r = await client.get(url)
                r.raise_for_status()
                factory.follow(wanted_products(r.json(), factory.now, list(factory.assets)))
                failing = False
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                if not failing:
                    log.warning("sim.plan_unreadable url=%s error=%s", url, exc)
                failing = True
            await asyncio.sleep(every_s)
