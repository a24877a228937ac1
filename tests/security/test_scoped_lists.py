"""Lists across the plant show a caller only what its viewer grants cover, once reads need a sign-in: assets,
signals, events, the AAS shells and submodels and their descriptors, the overview's cards. Over loopback, against
the server as ``werk serve`` runs it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx

from tests.security.stack import LINE1, secure_config, secure_stack
from werk.core.model import Event, utcnow


def _under(path: str, scope: str) -> bool:
    return path == scope or path.startswith(scope + "/")


async def test_a_viewer_of_line_1_lists_only_line_1(tmp_path: Path) -> None:
    config = secure_config(tmp_path)
    line1 = {r.name for r in config.assets() if _under(r.path, LINE1)}
    others = {r.name for r in config.assets()} - line1
    assert line1 and others, "the demo plant has assets on line 1 and elsewhere"
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        h = stack.platform.historian
        assert h is not None
        now = utcnow()
        sources = [r.path for r in config.assets()]
        h.write_events([Event("test.scoped", src, now, {"n": i}) for i, src in enumerate(sources)])

        async def names(user: str) -> set[str]:
            r = await http.get("/api/assets", headers=stack.auth(user))
            assert r.status_code == 200, r.text
            return {a["name"] for a in r.json()}

        assert await names("view1") == line1
        assert await names("vera") == line1 | others  # a viewer of the whole plant sees all of it

        r = await http.get("/api/signals/catalog", headers=stack.auth("view1"))
        signals = [s["path"] for s in r.json()]
        assert signals and all(_under(p, LINE1) for p in signals), signals
        everything = (await http.get("/api/signals/catalog", headers=stack.auth("vera"))).json()
        assert len(everything) > len(signals)

        r = await http.get("/api/events", params={"kind": "test.scoped"}, headers=stack.auth("view1"))
        seen = {e["source"] for e in r.json()}
        assert seen == {p for p in sources if _under(p, LINE1)}, seen
        r = await http.get("/api/events", params={"kind": "test.scoped"}, headers=stack.auth("vera"))
        assert {e["source"] for e in r.json()} == set(sources)

        line1_ids = {r.aas_id for r in config.assets() if r.name in line1}
        for path in ("/api/v3.0/shells", "/api/v3.0/shells/$reference", "/api/v3.0/shell-descriptors"):
            mine = (await http.get(path, headers=stack.auth("view1"))).json()["result"]
            ids = {x["id"] if "id" in x else x["keys"][0]["value"] for x in mine}
            assert ids == line1_ids, (path, ids)
            everyone = (await http.get(path, headers=stack.auth("vera"))).json()["result"]
            assert len(everyone) > len(mine), path
        subs = (await http.get("/api/v3.0/submodels", headers=stack.auth("view1"))).json()["result"]
        assert subs and all(any(s["id"].startswith(i + "/") for i in line1_ids) for s in subs)
        all_subs = (await http.get("/api/v3.0/submodels", headers=stack.auth("vera"))).json()["result"]
        assert len(all_subs) > len(subs)

        # an app's list across the plant: work orders on both lines, the viewer of line 1 lists line 1's
        for name in (sorted(line1)[0], sorted(others)[0]):
            r = await http.post(
                "/api/workorders",
                json={"asset": name, "title": "check the guard"},
                headers=stack.auth("root"),
            )
            assert r.status_code == 201, r.text
        mine = (await http.get("/api/workorders", headers=stack.auth("view1"))).json()
        assert [w["asset"] for w in mine] == [sorted(line1)[0]]
        assert len((await http.get("/api/workorders", headers=stack.auth("vera"))).json()) == 2

        # a shell outside the scope is refused as a single read too (the front door's target)
        other = next(r for r in config.assets() if r.name in others)
        encoded = base64.urlsafe_b64encode(other.aas_id.encode()).decode().rstrip("=")
        r = await http.get(f"/api/v3.0/shells/{encoded}", headers=stack.auth("view1"))
        assert r.status_code == 403

        # the overview page's cards
        page = (await http.get("/", headers=stack.auth("view1"))).text
        assert all(f'data-asset="{n}"' in page for n in line1), page[:2000]
        assert not any(f'data-asset="{n}"' in page for n in others)
        # the live stream's asset list
        async with http.stream("GET", "/api/stream", headers=stack.auth("view1")) as s:
            async for line in s.aiter_lines():
                if line.startswith("data: "):
                    streamed = {a["name"] for a in json.loads(line[6:])}
                    break
        assert streamed == line1
