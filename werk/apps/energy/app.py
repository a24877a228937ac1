"""Wiring of the energy app: today's figures per asset and the current 15-minute window, from the historian.

Every ``interval_s`` it reads the current quarter hour of every electricity meter and the latest power samples,
projects the window's mean power to its end, and warns (an ``energy`` event, once per window) when that heads
over ``peak_limit_kw``. Every tenth round it recomputes today's report (local day, up to now) for the cards:
kWh, kWh per good part against its target, cost and CO2e per part, which it also publishes as
``<asset>/energy.kwh_per_part`` and ``energy.co2e_kg_per_part``. Reports are computed on request from the
historian (:mod:`werk.apps.energy.report`), so late batches and recorded meter exchanges are always in them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any

from werk.apps.energy import calendar
from werk.apps.energy.meter import cumulative_at
from werk.apps.energy.pricing import projected_window
from werk.apps.energy.report import IDLE_STATES, EnergyReader
from werk.apps.energy.settings import EnergySettings
from werk.apps.energy.store import EnergyStore, RecordedEvent
from werk.apps.spec import App, AppContext
from werk.core.model import Event, Quality, Sample, event_key
from werk.sim.spec import sim_asset, sim_of

log = logging.getLogger(__name__)
REPORT_EVERY = 10  # rounds between two of today's reports
RATE_S = 60.0  # the window is projected with the rate the meters counted over this last stretch


class EnergyApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.settings: EnergySettings = ctx.settings
        self.store = EnergyStore(ctx.db)
        self.reader = EnergyReader(ctx.config, ctx.historian, self.settings, self.store)
        # simulated meters count `acceleration` times the power they show: the page says so beside its figures
        sim = sim_of(ctx.config)
        simulated = sim is not None and any(sim_asset(m.asset.config) for m in self.reader.meters.values())
        self._acceleration = (
            sim.acceleration if simulated and sim is not None and sim.acceleration > 1 else None
        )
        self.window: dict[str, Any] = {}
        self.today: dict[str, Any] = {}
        self._warned: str | None = None
        self.held: dict[str, dict[str, int]] = {}

    async def run(self) -> None:
        await self._rounds(served=False)

    async def serve(self) -> None:
        """The same figures from the historian and the live values, for the pages (a replica): nothing
        published, no warning (the running instance warns)."""
        await self._rounds(served=True)

    async def _rounds(self, *, served: bool) -> None:
        round_ = 0
        while True:
            try:
                self.window = await asyncio.to_thread(self.compute_window, self.ctx.clock())
                if round_ % REPORT_EVERY == 0 or not self.today.get("assets"):
                    self.today = await asyncio.to_thread(self.compute_today, self.ctx.clock())
                    if not served:
                        await self.ctx.bus.publish(self._enpi_samples())
            except Exception:
                log.exception("energy.live_failed")
            if not served:
                await self._warn()
            round_ += 1
            await asyncio.sleep(self.settings.interval_s)

    def compute_window(self, now: datetime) -> dict[str, Any]:
        """The current quarter hour: energy so far, present power, the projected mean power at its end."""
        start = calendar.edges(now, now, self.reader.tz, "15min")[0]
        if start > now:
            start -= timedelta(minutes=15)
        elapsed = (now - start).total_seconds()
        energy = power = rate = span_s = 0.0
        recent = max(now - timedelta(seconds=RATE_S), start)
        for name, m in self.reader.meters.items():
            if m.config.carrier != "electricity":
                continue
            booked = self.reader.booked(name, start, now)
            # the rate over the last minute the meter covers (a meter read for ten seconds has a ten-second rate)
            since = max(recent, self._first(booked, recent))
            at = cumulative_at(booked, calendar.to_seconds([start, since, self._last(booked, now)]))
            span_s = max(span_s, (self._last(booked, now) - since).total_seconds())
            energy += float(at[2] - at[0])
            if at[2] > at[1]:
                rate += float(at[2] - at[1])
            live = self.ctx.live.get(m.asset.signal_path("power"))
            if live is not None and live.quality is not Quality.BAD and isinstance(live.value, int | float):
                power += float(live.value)
        # the rate the meters counted over the last minute, not the power signals: a meter's counter is what the
        # utility bills (and in the simulator the counters run ``acceleration`` times faster than power says)
        rate_kw = rate * 3600.0 / span_s if span_s > 0 else 0.0
        projected = projected_window(energy, rate_kw, elapsed)
        limit = self.settings.peak_limit_kw
        return {
            "start": start.isoformat(),
            "elapsed_s": round(elapsed, 1),
            "energy_kwh": energy,
            "power_kw": power,
            "rate_kw": rate_kw,
            "projected_kw": projected,
            "peak_limit_kw": limit,
            "warning": limit is not None and projected > limit,
            "acceleration": self._acceleration,
        }

    def compute_today(self, now: datetime) -> dict[str, Any]:
        tz = self.reader.tz
        start = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
        if now <= start:
            return {}
        rep = self.reader.report(start, now, "day")
        assets: dict[str, Any] = {}
        for r in rep["rows"]:
            if r["level"] != "asset":
                continue
            idle = sum(v for k, v in (r.get("states") or {}).items() if k in IDLE_STATES)
            assets[r["scope"]] = {
                "energy": r["energy"],
                "unit": r["unit"],
                "cost": r["cost"],
                "co2_kg": r["co2_kg"],
                "parts": r["parts"],
                "kwh_per_part": r["kwh_per_part"],
                "target_kwh_per_part": r["target_kwh_per_part"],
                "co2_kg_per_part": r["co2_kg_per_part"],
                "idle_kwh": idle,
                "coverage": r["coverage"],
            }
        held: dict[str, dict[str, int]] = {}
        for a in rep["anomalies"]:
            kinds = held.setdefault(a["asset"], {})
            kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
        self.held = held
        return {"start": start.isoformat(), "end": now.isoformat(), "assets": assets}

    def _enpi_samples(self) -> list[Sample]:
        """Today's energy per good part as signals (``<asset>/energy.kwh_per_part``, ``energy.co2e_kg_per_part``),
        so the historian keeps their trend and a twin or a dashboard can bind them."""
        now = self.ctx.clock()
        out: list[Sample] = []
        for name, a in self.today.get("assets", {}).items():
            ref = self.reader.meters[name].asset
            if a["kwh_per_part"] is not None:
                out.append(Sample(ref.signal_path("energy.kwh_per_part"), now, round(a["kwh_per_part"], 6)))
            if a["co2_kg_per_part"] is not None:
                out.append(
                    Sample(ref.signal_path("energy.co2e_kg_per_part"), now, round(a["co2_kg_per_part"], 6))
                )
        return out

    @staticmethod
    def _first(booked: Any, default: datetime) -> datetime:
        """The oldest reading's time, or ``default`` without one."""
        if len(booked.ts) == 0:
            return default
        return datetime.fromtimestamp(float(booked.ts[0]), tz=default.tzinfo)

    @staticmethod
    def _last(booked: Any, now: datetime) -> datetime:
        """The newest reading's time (the window's energy is known up to there), at most now."""
        if len(booked.ts) == 0:
            return now
        return min(now, datetime.fromtimestamp(float(booked.ts[-1]), tz=now.tzinfo))

    async def _warn(self) -> None:
        w = self.window
        if not w.get("warning") or self._warned == w["start"]:
            return
        self._warned = w["start"]
        site = next(iter(self.ctx.config.plant.sites))
        await self.ctx.bus.publish_events(
            [
                Event(
                    "energy",
                    f"{self.ctx.config.plant.enterprise}/{site}",
                    self.ctx.clock(),
                    {
                        "what": "peak_warning",
                        "window_start": w["start"],
                        "projected_kw": round(w["projected_kw"], 2),
                        "peak_limit_kw": w["peak_limit_kw"],
                    },
                    # one warning per window, whichever instance warns
                    key=event_key("energy", site, "peak_warning", datetime.fromisoformat(w["start"])),
                )
            ]
        )

    async def record_event(self, e: RecordedEvent) -> None:
        await asyncio.to_thread(self.store.record, e)

    def diagnostics(self) -> dict[str, Any]:
        """Meter readings held back today (glitches, jumps, drops, unconfirmed), per asset and kind: a person
        should look at them, and record an exchange where there was one."""
        return {"held_back_today": self.held} if self.held else {}

    def snapshot(self) -> dict[str, Any]:
        return {"window": self.window, "today": self.today}

    def asset_view(self, asset: str) -> dict[str, Any]:
        a = self.today.get("assets", {}).get(asset)
        if a is None:
            return {}
        view: dict[str, Any] = {"energy_today_kwh": a["energy"]}
        if a["kwh_per_part"] is not None:
            view["energy_per_part"] = a["kwh_per_part"]
            view["energy_per_part_wh"] = a["kwh_per_part"] * 1000.0
        return view
