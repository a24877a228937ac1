"""The energy app's API over a real server: reports per asset, state, part and the ISA-95 tree from what the
historian holds, a glitch held back and shown, an exchange booked once a supervisor records it, ISO 50006 baselines
that say why they are not valid, and input refused with where it is wrong."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.app_databases import PlantStore
from tests.conftest import free_port, serving
from werk.api import create_app
from werk.api.auth import token_digest
from werk.config import parse_config
from werk.core.model import Sample
from werk.runtime.platform import Platform

PLANT = """plant:
  enterprise: acme
  timezone: Europe/Berlin
  sites:
    s:
      areas:
        a:
          lines:
            l:
              cells:
                c:
                  assets:
                    m1: {kind: press, source: {connector: bus, signals: {energy: m1/e, good_count: m1/g}}}
                    m2: {kind: press, source: {connector: bus, signals: {energy: m2/e, good_count: m2/g}}}
connectors:
  bus: {type: mqtt, host: 127.0.0.1, port: PORT}
historian: {path: HISTORIAN}
server:
  users:
    - {name: sam, role: supervisor, token_sha256: SAM}
    - {name: vic, role: viewer, token_sha256: VIC}
apps:
  energy:
    meters: {m1: {rated_kw: 20}, m2: {rated_kw: 20}}
    tariffs:
      - name: t
        base_price: 0.10
        bands: [{name: day, price: 0.30, start: "06:00", end: "22:00"}]
"""
SAM = {"Authorization": "Bearer sam-token"}
VIC = {"Authorization": "Bearer vic-token"}
DAY0 = datetime(2026, 3, 2, tzinfo=UTC) - timedelta(hours=1)  # Monday 2 March, local midnight (UTC+1)


@dataclass
class Plant:
    http: httpx.AsyncClient
    platform: Platform


@contextlib.asynccontextmanager
async def _running(tmp_path: Path, store: PlantStore = lambda c: c) -> AsyncIterator[Plant]:
    text = (
        PLANT.replace("HISTORIAN", str(tmp_path / "werk.db"))
        .replace("PORT", str(free_port()))
        .replace("SAM", token_digest("sam-token"))
        .replace("VIC", token_digest("vic-token"))
    )
    platform = Platform(store(parse_config(text, "plant.yaml")))
    await platform.start()
    try:
        async with serving(create_app(platform)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield Plant(http, platform)
    finally:
        await platform.stop()


@pytest.fixture
async def plant(tmp_path: Path) -> AsyncIterator[Plant]:
    """The plant on the werk file."""
    async with _running(tmp_path) as p:
        yield p


@pytest.fixture
async def stored_plant(tmp_path: Path, plant_store: PlantStore) -> AsyncIterator[Plant]:
    """The plant on each backend, for the tests that go through the energy app's own tables."""
    async with _running(tmp_path, plant_store) as p:
        yield p


def _days(p: Plant, days: int, *, kw: float = 10.0, parts_per_hour: float = 60.0, seed: int = 0) -> None:
    """``days`` days of m1 and m2 from DAY0: a reading a minute; m1 runs 06:00-22:00 local (kw, parts) and idles
    at a fifth of it at night; its machine state says so. Each day's parts vary so a baseline has a slope."""
    h = p.platform.historian
    assert h is not None
    base = "acme/s/a/l/c"
    samples: list[Sample] = []
    e1 = e2 = 0.0
    g = 0
    for d in range(days):
        busy = 0.6 + 0.4 * math.sin(d + seed)  # how hard the day is worked
        stop = (22 - d % 4) * 60  # and how long: until 22:00 on the first day, 19:00 to 22:00 later
        for m in range(24 * 60):
            ts = DAY0 + timedelta(days=d, minutes=m)
            running = 6 * 60 < m <= stop  # what the meter counted in the minute up to this reading
            e1 += (kw * (0.5 + busy) if running else kw / 5) / 60
            e2 += 2.0 / 60
            if running and m % 2 == 0:
                g += round(parts_per_hour / 30 * busy)
            samples += [
                Sample(f"{base}/m1/energy", ts, round(e1, 4)),
                Sample(f"{base}/m2/energy", ts, round(e2, 4)),
                Sample(f"{base}/m1/good_count", ts, g),
            ]
            if m in (0, 6 * 60, stop):
                samples.append(Sample(f"{base}/m1/machine_state", ts, "running" if m == 6 * 60 else "idle"))
    h.write_samples(samples)


async def test_a_days_report_books_energy_per_state_part_and_scope(plant: Plant) -> None:
    _days(plant, 1)
    r = await plant.http.get(
        "/api/energy/report",
        params={"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=1)).isoformat(), "period": "day"},
    )
    assert r.status_code == 200, r.text
    rep = r.json()
    rows = {(x["level"], x["scope"]): x for x in rep["rows"]}
    m1 = rows[("asset", "m1")]
    # the last reading is 23:59; the day's edge clamps there: 16 h at 10 kW x (0.5 + busy) and 8 h at 2 kW
    busy = 0.6 + 0.4 * math.sin(0)
    expected = 16 * 10 * (0.5 + busy) + (8 * 60 - 1) / 60 * 2
    assert m1["energy"] == pytest.approx(expected, rel=1e-3)
    assert m1["states"]["idle"] == pytest.approx((8 * 60 - 1) / 60 * 2, rel=1e-3)
    assert sum(m1["states"].values()) == pytest.approx(m1["energy"], rel=1e-9)
    assert m1["state_seconds"] == {"idle": 8 * 3600.0, "running": 16 * 3600.0}
    assert m1["parts"] == 16 * 30 * round(60 / 30 * busy)
    assert m1["kwh_per_part"] == pytest.approx(m1["energy"] / m1["parts"])
    # cost: the day band (0.30) from 06:00 to 22:00, the base price (0.10) at night
    assert m1["cost"] == pytest.approx(16 * 10 * (0.5 + busy) * 0.30 + (8 * 60 - 1) / 60 * 2 * 0.10, rel=1e-3)
    site = rows[("site", "acme/s")]
    assert site["energy"] == pytest.approx(m1["energy"] + rows[("asset", "m2")]["energy"])
    assert rows[("line", "acme/s/a/l")]["energy"] == pytest.approx(site["energy"])
    assert site["peak_kw"] == pytest.approx(10 * (0.5 + busy) + 2.0, rel=1e-6)
    idle = (
        await plant.http.get(
            "/api/energy/idle",
            params={"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=1)).isoformat()},
        )
    ).json()
    assert idle[0]["asset"] == "m1" and idle[0]["idle_kwh"] == pytest.approx(m1["states"]["idle"])
    # costs say their currency (the tariff's), so a page can show it beside them
    assert rep["currency"] == "EUR" and idle[0]["currency"] == "EUR"


async def test_a_glitch_is_held_back_and_an_exchange_is_booked_once_recorded(stored_plant: Plant) -> None:
    plant = stored_plant
    _days(plant, 1)
    h = plant.platform.historian
    assert h is not None
    path = "acme/s/a/l/c/m2/energy"
    spike = DAY0 + timedelta(hours=3, seconds=30)
    h.write_samples([Sample(path, spike, 99_999.0)])  # a garbled register, late and out of order
    # at noon the meter was swapped for one that starts at 0: readings from then on restart
    swap = DAY0 + timedelta(hours=12)
    rows = h.changes(path, swap, DAY0 + timedelta(days=1))[1:]  # [0] is the last reading before the swap
    h.write_samples(
        [Sample(path, datetime.fromtimestamp(ts / 1e6, UTC), round(v - 24.0, 4)) for ts, v in rows]
    )
    q = {
        "start": DAY0.isoformat(),
        "end": (DAY0 + timedelta(days=1)).isoformat(),
        "period": "day",
        "asset": "m2",
    }
    rep = (await plant.http.get("/api/energy/report", params=q)).json()
    kinds = [a["kind"] for a in rep["anomalies"]]
    assert kinds == ["glitch", "drop"]  # shown, not booked: nobody said the meter was exchanged
    assert rep["rows"][0]["energy"] == pytest.approx(
        (24 * 60 - 2) / 60 * 2, rel=1e-3
    )  # the drop's minute unbooked
    event = {"ts": swap.isoformat(), "kind": "exchange", "old_final": 24.0, "new_start": 0.0}
    assert (await plant.http.post("/api/energy/meters/m2/events", json=event)).status_code == 401
    assert (await plant.http.post("/api/energy/meters/m2/events", json=event, headers=VIC)).status_code == 403
    bad = await plant.http.post("/api/energy/meters/m2/events", json={**event, "ts": "noon"}, headers=SAM)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "ts"]
    missing = await plant.http.post("/api/energy/meters/m9/events", json=event, headers=SAM)
    assert missing.status_code == 404 and "m9" in missing.text
    ok = await plant.http.post("/api/energy/meters/m2/events", json=event, headers=SAM)
    assert ok.status_code == 200 and ok.json()["who"] == "sam"
    rep = (await plant.http.get("/api/energy/report", params=q)).json()
    assert [a["kind"] for a in rep["anomalies"]] == ["glitch"], rep["anomalies"]
    assert rep["rows"][0]["energy"] == pytest.approx((24 * 60 - 1) / 60 * 2, rel=1e-6)
    events = (await plant.http.get("/api/energy/meters/m2/events")).json()
    assert [e["old_final"] for e in events] == [24.0]


async def test_a_baseline_over_parts_is_valid_and_one_without_a_driver_says_why(plant: Plant) -> None:
    _days(plant, 21)
    body = {
        "asset": "m1",
        "baseline_start": DAY0.isoformat(),
        "baseline_end": (DAY0 + timedelta(days=14)).isoformat(),
        "report_start": (DAY0 + timedelta(days=14)).isoformat(),
        "report_end": (DAY0 + timedelta(days=21)).isoformat(),
    }
    assert (await plant.http.post("/api/energy/baseline", json=body)).status_code == 401
    assert (await plant.http.post("/api/energy/baseline", json=body, headers=VIC)).status_code == 403
    r = await plant.http.post("/api/energy/baseline", json=body, headers=SAM)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["baseline"]["valid"] and out["baseline"]["r2"] > 0.8, out["baseline"]
    s = out["savings"]
    assert abs(s["savings"]) <= s["uncertainty"] + 1e-6  # the same machine, nothing saved
    both = await plant.http.post(
        "/api/energy/baseline", json={**body, "drivers": ["parts", "running_hours"]}, headers=SAM
    )
    fitted = both.json()["baseline"]
    assert fitted["valid"] and fitted["r2"] > out["baseline"]["r2"], fitted
    assert fitted["ranges"]["running_hours"] == pytest.approx([13.0, 16.0], abs=0.02)
    flat = await plant.http.post("/api/energy/baseline", json={**body, "asset": "m2"}, headers=SAM)
    assert not flat.json()["baseline"]["valid"] and flat.json()["baseline"]["reasons"]
    wrong = await plant.http.post("/api/energy/baseline", json={**body, "drivers": ["weather"]}, headers=SAM)
    assert wrong.status_code == 422


async def test_the_load_curve_shows_gaps_not_zeros_and_bad_ranges_are_refused(plant: Plant) -> None:
    _days(plant, 1)
    q = {"start": (DAY0 - timedelta(hours=2)).isoformat(), "end": (DAY0 + timedelta(hours=2)).isoformat()}
    load = (await plant.http.get("/api/energy/load", params=q)).json()
    assert load["total_kw"][:8] == [None] * 8 and load["total_kw"][8] == pytest.approx(4.0, rel=1e-3)
    r = await plant.http.get("/api/energy/report", params={"start": "2026-03-02", "end": "x"})
    assert r.status_code == 422
    r = await plant.http.get("/api/energy/load", params={**q, "step_s": 7})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "step_s"]
