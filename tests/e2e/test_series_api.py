"""The series API a chart draws from, and the HTTP contract of werk's own routes, on a real werk over loopback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from tests.conftest import plant_config, running_stack, wait_until
from werk.core.model import Quality, Sample, utcnow

TOKENS = {"vic": ("viewer", "viewer-token"), "olga": ("operator", "operator-token")}
PROBE = "acme/augsburg/lab/bench/rig/probe-1/pressure"


async def test_series_for_charts_and_the_contract_of_werks_routes(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=20, users=TOKENS)
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=20) as http:
        h = stack.platform.historian
        assert h is not None
        await wait_until(lambda: stack.platform.writer.written > 300, timeout=30)  # type: ignore[union-attr]
        now = utcnow()
        # a signal with a gap and BAD placeholders: 1 Hz for 5 minutes, away (BAD) for a minute, back for 2
        rows = [Sample(PROBE, now - timedelta(seconds=480 - i), 5.0 + i % 7) for i in range(300)]
        rows += [
            Sample(PROBE, now - timedelta(seconds=180 - i), 999.0, Quality.BAD) for i in range(0, 60, 10)
        ]
        rows += [Sample(PROBE, now - timedelta(seconds=120 - i), 6.0) for i in range(0, 120)]
        await stack.platform.bus.publish(rows)
        await stack.platform.writer.wait_written(stack.platform.bus.published, timeout=10)  # type: ignore[union-attr]

        # an unknown path is a 404 that names it; a malformed one a 422 in FastAPI's list shape
        r = await http.get("/api/series", params={"path": "acme/no/such/signal"})
        assert r.status_code == 404 and "acme/no/such/signal" in r.json()["detail"]
        r = await http.get("/api/series", params={"path": "acme//x"})
        assert r.status_code == 422 and isinstance(r.json()["detail"], list)

        # more samples than asked for: downsampled, and the newest sample is the last point
        s = (await http.get("/api/series", params={"path": PROBE, "minutes": 10, "limit": 64})).json()
        assert s["downsampled"] and s["total"] == len(rows) and len(s["points"]) <= 66
        assert s["points"][-1]["ts"].startswith(rows[-1].ts.isoformat()[:19])
        assert any(p["quality"] == "bad" for p in s["points"])
        # downsampled to 16 buckets of 37.5 s: neighbours up to 2.5 buckets apart are not a gap
        assert (s["kind"], s["unit"]) == ("sampled", "bar") and s["gap_s"] == 2.5 * 600 / 16
        full = (await http.get("/api/series", params={"path": PROBE, "minutes": 10})).json()
        assert not full["downsampled"] and len(full["points"]) == len(rows)
        assert full["gap_s"] == 5.0  # 5 x the 1 s interval

        # buckets leave the BAD placeholders out of min/avg/max and say how many
        b = (await http.get("/api/series", params={"path": PROBE, "minutes": 10, "bucket_s": 600})).json()
        assert b["skipped_bad"] == 6 and max(x["max"] for x in b["buckets"]) < 999
        assert sum(x["bad"] for x in b["buckets"]) == 6

        # on-change signals are steps, not lines with gaps
        state = config.asset("cnc-1").signal_path("machine_state")
        st = (await http.get("/api/series", params={"path": state})).json()
        assert (st["kind"], st["gap_s"]) == ("on_change", None)

        # several signals in one request, each with its unit; every asset's signals listed
        power = config.asset("cnc-1").signal_path("power")
        temp = config.asset("press-1").signal_path("temperature")
        many = (await http.get("/api/series/set", params=[("path", power), ("path", temp)])).json()
        assert [(x["path"], x["unit"]) for x in many["series"]] == [(power, "kW"), (temp, "°C")]
        r = await http.get("/api/series/set", params=[("path", power), ("path", "acme/x/y")])
        assert r.status_code == 404 and "acme/x/y" in r.json()["detail"]
        catalog = (await http.get("/api/signals/catalog")).json()
        assets = {c["asset"] for c in catalog if c["asset"]}
        assert assets == {ref.name for ref in config.assets()}
        cnc_power = next(c for c in catalog if c["path"] == power)
        assert (cnc_power["unit"], cnc_power["kind"], cnc_power["bound"]) == ("kW", "sampled", True)

        # the token is checked before the body: no token 401, a viewer 403, whatever the body is
        url = "/api/downtime/cnc-1@1/reason"
        r = await http.post(url, content=b"not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 401
        viewer = {"Authorization": "Bearer viewer-token", "Content-Type": "application/json"}
        assert (await http.post(url, content=b"\xff\xfe", headers=viewer)).status_code == 403
        assert (await http.post(url, json={"nope": 1}, headers=viewer)).status_code == 403
        operator = {"Authorization": "Bearer operator-token"}
        r = await http.post(
            url, content=b"not json", headers={**operator, "Content-Type": "application/json"}
        )
        assert r.status_code == 422 and isinstance(r.json()["detail"], list)

        # validation errors are FastAPI's list everywhere; 405 says what is allowed
        for path, params in (
            ("/api/downtime", {"start": "yesterday"}),
            ("/api/oee/report", {"start": "2026-01-01T00:00:00"}),
            ("/api/oee/report", {"end": "0.5"}),
            ("/api/timeline", {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}),
            ("/api/series", {"path": power, "bucket_s": "0.0001", "minutes": 600}),
        ):
            r = await http.get(path, params=params)
            assert r.status_code == 422 and isinstance(r.json()["detail"], list), (path, r.text)
        r = await http.request("OPTIONS", "/api/workorders")
        assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["allow"].replace(" ", "").split(","))
        r = await http.delete("/api/health")
        assert r.status_code == 405 and "GET" in r.headers["allow"]

        # unmapped state values are in the health report (none in the demo plant)
        health = (await http.get("/api/health")).json()
        assert health["apps"].get("machine_state", {"unmapped": {}})["unmapped"] == {}
