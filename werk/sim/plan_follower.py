"""The virtual factory working to a plan: it reads a plan per machine over HTTP and tells each machine what to make.

The plan is JSON as werk serves it: ``{"machines": {"cnc-1": [{"start": ISO, "end": ISO, "product": "HSG-100",
"done": false}, ...]}}``. For each machine the first operation in planned order that is not done names the product:
the one planned now while the machine keeps to the plan, the next one when it is ahead (an accelerated simulation
is), the one before when it is behind; that is also the operation werk books the parts of a machine without a product
signal to. A plan without ``done`` flags names the operation planned now, or else the next one. A machine with
nothing (left) planned goes back to its own mix. A plan that cannot be read leaves the machines as they are (logged when
the failure starts and when its reason changes), so a werk that restarts does not stop the factory.
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
    """Machine -> the product of its first operation not done, in planned order; without ``done`` flags, of its
    operation planned at ``now`` or next (None: nothing planned)."""
    out: dict[str, str | None] = dict.fromkeys(machines)
    for machine, slots in (plan.get("machines") or {}).items():
        if machine not in out:
            continue
        if any("done" in s for s in slots):
            todo = sorted(
                (datetime.fromisoformat(s["start"]), str(s["product"]))
                for s in slots
                if not s.get("done") and s.get("product")
            )
            out[machine] = todo[0][1] if todo else None
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


async def follow(factory: Factory, url: str, every_s: float = EVERY_S, token: str | None = None) -> None:
    """Poll ``url`` and steer ``factory`` until cancelled. ``token``: a bearer token to read it with (werk answers
    reads with 401 once it has users). A failure is logged when it starts and again when its reason changes (a werk
    that was down and now refuses the token is a new reason)."""
    last_error = ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=5.0, headers=headers) as client:
        while True:
            try:
                r = await client.get(url)
                if r.status_code in (401, 403):
                    raise PlanRefused(
                        f"{r.status_code}: werk refuses the plan to "
                        + ("this token" if token else "a reader without a token")
                        + "; give sim.follow_plan_token_env a viewer token"
                    )
                r.raise_for_status()
                factory.follow(wanted_products(r.json(), factory.now, list(factory.assets)))
                last_error = ""
            except (httpx.HTTPError, PlanRefused, ValueError, KeyError, TypeError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if error != last_error:
                    log.warning("sim.plan_unreadable url=%s error=%s", url, error)
                last_error = error
            await asyncio.sleep(every_s)


class PlanRefused(Exception):
    """werk answered the plan's URL with 401 or 403."""
