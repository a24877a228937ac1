"""The alarm app in the running demo plant: a sample on the bus raises an alarm that the API lists, the banner on
every page announces, and an operator acknowledges and shelves; every step in the journal and the KPI report."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.app_databases import PlantStore
from tests.conftest import plant_config, running_stack, with_app
from werk.config.model import WerkConfig
from werk.core.model import Sample, utcnow

OPERATOR, SUPERVISOR = "op-token-1", "sup-token-1"
COOLANT = "cnc-1:coolant-low"


def alarm_config(tmp_path: Path) -> WerkConfig:
    config = plant_config(
        tmp_path, users={"olga": ("operator", OPERATOR), "sam": ("supervisor", SUPERVISOR)}, acceleration=5
    )
    settings = config.app("alarms")
    extra = settings.model_validate(
        {
            # only this alarm: the simulated machines' own (a fault is high priority) come and go at random
            "templates": {},
            "assets": {
                "cnc-1": {
                    "coolant-low": {
                        "signal": "coolant_level",
                        "type": "low",
                        "limit": 20,
                        "deadband": 2,
                        "priority": "high",
                        "message": "Coolant low",
                        "response": "Refill coolant",
                        "translations": {"de": "Kühlmittel niedrig"},
                        "suppress_in": [],  # the simulated machine may be in setup
                    },
                    # unrationalised on purpose: no deadband, so a wobbling value chatters
                    "spindle-hot": {"signal": "spindle_temp", "type": "high", "limit": 50, "suppress_in": []},
                    # never raised (the simulated temperature stays far below): its value's unit is the catalog's
                    "too-hot": {
                        "signal": "temperature",
                        "type": "high",
                        "limit": 1000,
                        "priority": "low",
                        "suppress_in": [],
                    },
                }
            },
        }
    )
    return with_app(config, "alarms", templates=extra.templates, assets=extra.assets)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_alarm_is_raised_listed_announced_acknowledged_shelved_and_journaled(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    config = alarm_config(tmp_path)
    async with (
        running_stack(plant_store(config)) as stack,
        httpx.AsyncClient(base_url=stack.url, timeout=10) as http,
    ):
        ref = config.asset("cnc-1")
        path = ref.signal_path("coolant_level")

        async def coolant(value: float) -> None:
            await stack.platform.bus.publish([Sample(path, utcnow(), value)])

        async def alarm() -> dict[str, Any]:
            body = (await http.get("/api/alarms", params={"all": "true", "asset": "cnc-1"})).json()
            return next(a for a in body["alarms"] if a["id"] == COOLANT)

        await coolant(50.0)
        await coolant(12.5)
        seen: dict[str, Any] = {}

        async def raised() -> bool:
            seen.update(await alarm())
            return seen["state"] == "unack"

        await wait_for(raised)
        assert seen["value"] == 12.5 and seen["priority"] == "high" and seen["response"] == "Refill coolant"
        # the asset's card counts it (the tile "Active alarms")
        card = (await http.get("/api/assets/cnc-1")).json()
        assert card["apps"]["alarms"] == {"alarms": 1}
        live = (await http.get("/api/alarms", params={"priority": "high"})).json()["alarms"]
        assert COOLANT in [a["id"] for a in live]
        de = (await http.get("/api/alarms", params={"all": "true"}, headers={"Accept-Language": "de"})).json()
        assert next(a for a in de["alarms"] if a["id"] == COOLANT)["message"] == "Kühlmittel niedrig"
        # the banner on every page, in the reader's language
        assert "unacknowledged high-priority alarm" in (await http.get("/")).text
        assert "unquittierte" in (await http.get("/oee", headers={"Accept-Language": "de"})).text

        # writes need a role; a viewer without a token is refused, an operator may not take it out of service
        assert (await http.post(f"/api/alarms/{COOLANT}/acknowledge")).status_code == 401
        oos = await http.post(
            f"/api/alarms/{COOLANT}/out-of-service", json={"why": "x"}, headers=auth(OPERATOR)
        )
        assert oos.status_code == 403
        ack = await http.post(
            f"/api/alarms/{COOLANT}/acknowledge", json={"comment": "on it"}, headers=auth(OPERATOR)
        )
        assert ack.status_code == 200 and ack.json()["state"] == "acked"
        again = await http.post(f"/api/alarms/{COOLANT}/acknowledge", headers=auth(OPERATOR))
        assert again.status_code == 409 and "is acked" in again.json()["detail"]
        missing = await http.post("/api/alarms/cnc-1:nope/acknowledge", headers=auth(OPERATOR))
        assert missing.status_code == 404

        too_long = await http.post(
            f"/api/alarms/{COOLANT}/shelve",
            json={"why": "refill ordered", "duration_s": 10 * 24 * 3600},
            headers=auth(OPERATOR),
        )
        assert too_long.status_code == 409 and "max_shelve_s" in too_long.json()["detail"]
        both = await http.post(
            f"/api/alarms/{COOLANT}/shelve",
            json={"why": "x", "one_shot": True, "duration_s": 60},
            headers=auth(OPERATOR),
        )
        assert both.status_code == 422
        shelved = await http.post(
            f"/api/alarms/{COOLANT}/shelve",
            json={"why": "refill ordered", "duration_s": 600},
            headers=auth(OPERATOR),
        )
        assert shelved.status_code == 200
        body = shelved.json()
        assert (body["state"], body["shelved_by"], body["shelved_why"]) == (
            "shelved",
            "olga",
            "refill ordered",
        )
        live = (await http.get("/api/alarms")).json()
        assert COOLANT not in [a["id"] for a in live["alarms"]] and live["counts"]["shelved"] >= 1

        # back to normal under the shelve, unshelved by the operator: normal, nothing to acknowledge
        await coolant(30.0)
        seen.clear()

        async def cleared() -> bool:
            seen.update(await alarm())
            return seen["active"] is False

        await wait_for(cleared)
        un = await http.post(f"/api/alarms/{COOLANT}/unshelve", headers=auth(OPERATOR))
        assert un.status_code == 200 and un.json()["state"] == "normal"

        rows: list[dict[str, Any]] = []

        async def journaled() -> bool:
            rows[:] = (await http.get("/api/alarms/journal", params={"alarm": COOLANT})).json()
            return len(rows) >= 5

        await wait_for(journaled)
        steps = [(r["action"], r["after"], r["who"]) for r in reversed(rows)]
        assert steps == [
            ("activate", "unack", ""),
            ("acknowledge", "acked", "olga"),
            ("shelve", "shelved", "olga"),
            ("clear", "shelved", ""),
            ("unshelve", "normal", "olga"),
        ]
        assert rows[-1]["value"] == 12.5 and rows[-1]["annunciated"] is True

        # a chattering alarm: the report names it and suggests the deadband its signal's history asks for
        spindle = ref.signal_path("spindle_temp")
        t0 = utcnow() - timedelta(seconds=30)
        wobble = [51.0, 49.0, 51.0, 49.4, 51.0, 49.2, 51.0]
        await stack.platform.bus.publish(
            [Sample(spindle, t0 + timedelta(seconds=i), v) for i, v in enumerate(wobble)]
        )
        historian = stack.platform.historian
        assert historian is not None
        await wait_for(lambda: _true(historian.count_samples(spindle) == len(wobble)))

        async def chattering_journaled() -> bool:
            got = (await http.get("/api/alarms/journal", params={"alarm": "cnc-1:spindle-hot"})).json()
            return len(got) == 7

        await wait_for(chattering_journaled)
        kpi = (await http.get("/api/alarms/kpi")).json()
        assert kpi["activations"] >= 1 and kpi["top10"][0]["count"] >= 1
        assert [c["tag"] for c in kpi["chattering"]] == ["cnc-1:spindle-hot"]
        assert kpi["deadbands"] == [
            {"tag": "cnc-1:spindle-hot", "deadband": 1.1, "activations": 4, "kept": 1}
        ]
        assert {f["key"] for f in kpi["figures"]} >= {"per_hour", "flood_share", "top10_share", "priority"}
        # werk has watched the alarms for seconds of the 24 hours: the rates are over those, and not graded
        assert kpi["hours"] == 24.0 and 0 < kpi["observed_hours"] < 0.1
        (span,) = kpi["observed"]
        assert abs((datetime.fromisoformat(span["end"]) - utcnow()).total_seconds()) < 5
        assert kpi["per_hour"] == kpi["activations"] / kpi["observed_hours"]
        grades = {f["key"]: f["grade"] for f in kpi["figures"]}
        assert grades["per_hour"] == grades["per_10min"] == grades["flood_share"] == "too short"
        listed = {
            a["id"]: a for a in (await http.get("/api/alarms", params={"all": "true"})).json()["alarms"]
        }
        assert listed["cnc-1:too-hot"]["unit"] == "°C" and listed[COOLANT]["unit"] == ""
        xlsx = await http.get("/api/alarms/kpi", params={"format": "xlsx"})
        wb = load_workbook(io.BytesIO(xlsx.content))
        assert wb.sheetnames == ["KPIs", "Top 10", "Chattering", "Deadbands", "Priorities"]
        assert [c.value for c in wb["Deadbands"][2]] == ["cnc-1:spindle-hot", 1.1, 4, 1]
        assert any(c.value == COOLANT for c in wb["Top 10"]["A"])

        log = "timestamp,tag,type\n2026-01-01 00:00:00,A,H\n2026-01-01 00:01:00,A,H NR\n2026-01-01 00:02:00,B,LL\n"
        imported = await http.post(
            "/api/alarms/kpi/import", content=log, headers={"Content-Type": "text/csv", **auth(OPERATOR)}
        )
        assert imported.status_code == 200 and imported.json()["activations"] == 2
        bad = await http.post(
            "/api/alarms/kpi/import", content="timestamp,tag\nnope,A\n", headers=auth(OPERATOR)
        )
        assert bad.status_code == 422 and "row 1, column timestamp" in str(bad.json()["detail"])


async def _true(value: bool) -> bool:
    return value


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = utcnow() + timedelta(seconds=timeout)

    while not await predicate():
        assert utcnow() < deadline, "timed out"
        await asyncio.sleep(0.1)
