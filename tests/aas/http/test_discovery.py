"""The discovery service (IDTA-01002-3-0) on the real stack: werk's shells are found by their globalAssetId and
specificAssetIds, links posted for other shells are found, refused when malformed or taken, and removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from basyx.aas import model

from tests.aas.http.aas_stack import OPERATOR, SUPERVISOR, aas_stack, asset_id, b64, every_page, result_text

pytestmark = pytest.mark.e2e

FOREIGN = "https://other.example/aas/pump-7"
SERIAL = {"name": "serialNumber", "value": "P7-0042"}
PART = {
    "name": "partNumber",
    "value": "PUMP-7",
    "externalSubjectId": {
        "type": "ExternalReference",
        "keys": [{"type": "GlobalReference", "value": "https://other.example/parts"}],
    },
}


async def test_werk_shells_are_found_by_global_and_specific_asset_ids(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        shells = stack.platform.twin.all(model.AssetAdministrationShell)
        shell = shells[1]
        gid = shell.asset_information.global_asset_id
        assert gid is not None
        uns = next(a for a in shell.asset_information.specific_asset_id if a.name == "unsPath")
        found = await every_page(client, "/lookup/shells", assetIds=asset_id("globalAssetId", gid))
        assert found == [shell.id]
        r = await client.get(
            "/lookup/shells",
            params=[
                ("assetIds", asset_id("globalAssetId", gid)),
                ("assetIds", asset_id("unsPath", uns.value)),
            ],
        )
        assert r.json()["result"] == [shell.id]  # every given asset id must be linked
        r = await client.get(
            "/lookup/shells",
            params=[
                ("assetIds", asset_id("globalAssetId", gid)),
                ("assetIds", asset_id("unsPath", "elsewhere")),
            ],
        )
        assert r.json()["result"] == []
        assert (
            await every_page(client, "/lookup/shells", assetIds=asset_id("globalAssetId", "urn:nothing"))
            == []
        )
        assert await every_page(client, "/lookup/shells", limit=2) == [s.id for s in shells]
        links = (await client.get(f"/lookup/shells/{b64(shell.id)}")).json()
        assert links == [{"name": "globalAssetId", "value": gid}, {"name": "unsPath", "value": uns.value}]


async def test_links_posted_for_another_server_shell_are_found_and_removed(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        own = [s.id for s in stack.platform.twin.all(model.AssetAdministrationShell)]
        path = f"/lookup/shells/{b64(FOREIGN)}"
        result_text(await client.get(path), 404)
        r = await client.post(path, json=[SERIAL, PART], headers=SUPERVISOR)
        assert r.status_code == 201 and r.json() == [SERIAL, PART]
        assert (await client.get(path)).json() == [SERIAL, PART]
        by_serial = asset_id(SERIAL["name"], SERIAL["value"])
        assert await every_page(client, "/lookup/shells", assetIds=by_serial) == [FOREIGN]
        assert await every_page(client, "/lookup/shells", limit=4) == [*own, FOREIGN]
        # one taken link refuses the whole post: the new one is not added either
        other = {"name": "batch", "value": "2026-11"}
        text = result_text(await client.post(path, json=[other, SERIAL], headers=SUPERVISOR), 409)
        assert "serialNumber" in text
        assert (await client.get(path)).json() == [SERIAL, PART]
        assert (await client.post(path, json=[other], headers=SUPERVISOR)).status_code == 201
        assert (await client.get(path)).json() == [SERIAL, PART, other]
        assert (await client.delete(path, headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(path), 404)
        result_text(await client.delete(path, headers=SUPERVISOR), 404)
        assert await every_page(client, "/lookup/shells", assetIds=by_serial) == []


async def test_links_posted_for_a_werk_shell_add_to_its_own(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        shell = stack.platform.twin.all(model.AssetAdministrationShell)[0]
        path = f"/lookup/shells/{b64(shell.id)}"
        derived = (await client.get(path)).json()
        result_text(await client.post(path, json=[derived[0]], headers=SUPERVISOR), 409)  # its globalAssetId
        assert (await client.post(path, json=[SERIAL], headers=SUPERVISOR)).status_code == 201
        assert (await client.get(path)).json() == [*derived, SERIAL]
        gid = asset_id("globalAssetId", str(shell.asset_information.global_asset_id))
        r = await client.get(
            "/lookup/shells",
            params=[("assetIds", gid), ("assetIds", asset_id(SERIAL["name"], SERIAL["value"]))],
        )
        assert r.json()["result"] == [shell.id]
        assert (await client.delete(path, headers=SUPERVISOR)).status_code == 204
        assert (await client.get(path)).json() == derived  # what the shell says stays
        text = result_text(await client.delete(path, headers=SUPERVISOR), 409)
        assert "asset-information" in text


async def test_malformed_lookups_and_links_are_refused_and_nothing_is_linked(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (_, client):
        result_text(await client.get("/lookup/shells", params={"assetIds": "not*base64"}), 400)
        result_text(await client.get("/lookup/shells", params={"assetIds": b64("{not json")}), 400)
        text = result_text(await client.get("/lookup/shells", params={"assetIds": b64('{"name": "x"}')}), 400)
        assert "value" in text
        result_text(await client.get("/lookup/shells", params={"limit": "0"}), 400)
        path = f"/lookup/shells/{b64(FOREIGN)}"
        for body, finding in [
            ({"name": "serialNumber", "value": "1"}, "JSON array"),
            ([], "JSON array"),
            ([{"name": "serialNumber"}], "[0]"),
            ([SERIAL, {"name": "", "value": "x"}], "[1].name"),
            ([SERIAL, SERIAL], "more than once"),
        ]:
            text = result_text(await client.post(path, json=body, headers=SUPERVISOR), 400)
            assert finding in text, (finding, text)
        result_text(await client.get(path), 404)
        result_text(await client.put(path, json=[SERIAL], headers=SUPERVISOR), 405)


async def test_discovery_writes_need_the_supervisor_role(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (_, client):
        path = f"/lookup/shells/{b64(FOREIGN)}"
        result_text(await client.post(path, json=[SERIAL]), 401)
        result_text(await client.post(path, json=[SERIAL], headers=OPERATOR), 403)
        result_text(await client.get(path), 404)
        assert (await client.post(path, json=[SERIAL], headers=SUPERVISOR)).status_code == 201
        result_text(await client.delete(path, headers=OPERATOR), 403)
        assert (await client.get(path)).json() == [SERIAL]
