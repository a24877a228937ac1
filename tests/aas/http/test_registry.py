"""The AAS registry and submodel registry (IDTA-01002-3-0) on the real stack: werk's own shells and submodels are
registered with endpoints that answer, clients' descriptors are checked, stored, changed and removed, werk's own are
not writable through the registry, and writes need the supervisor role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model

from tests.aas.http.aas_stack import OPERATOR, SUPERVISOR, aas_stack, b64, every_page, result_text

pytestmark = pytest.mark.e2e

FOREIGN = "https://other.example/aas/pump-7"


def endpoint(interface: str, href: str) -> dict[str, Any]:
    return {"interface": interface, "protocolInformation": {"href": href, "endpointProtocol": "HTTP"}}


def shell_descriptor(aas_id: str = FOREIGN, **extra: Any) -> dict[str, Any]:
    return {
        "id": aas_id,
        "idShort": "Pump7",
        "assetKind": "Instance",
        "globalAssetId": aas_id + ":asset",
        "endpoints": [endpoint("AAS-3.0", f"https://other.example/api/v3.0/shells/{b64(aas_id)}")],
        **extra,
    }


def submodel_descriptor(sm_id: str = FOREIGN + "/sm/nameplate", **extra: Any) -> dict[str, Any]:
    return {
        "id": sm_id,
        "idShort": "Nameplate",
        "semanticId": {
            "type": "ExternalReference",
            "keys": [
                {"type": "GlobalReference", "value": "https://admin-shell.io/idta/nameplate/3/0/Nameplate"}
            ],
        },
        "endpoints": [endpoint("SUBMODEL-3.0", f"https://other.example/api/v3.0/submodels/{b64(sm_id)}")],
        **extra,
    }


async def test_werk_shells_and_submodels_are_registered_with_endpoints_that_answer(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        shells = stack.platform.twin.all(model.AssetAdministrationShell)
        descriptors = await every_page(client, "/shell-descriptors", limit=2)
        assert [d["id"] for d in descriptors] == [s.id for s in shells]
        first = descriptors[0]
        assert first["globalAssetId"] == shells[0].asset_information.global_asset_id
        (ep,) = first["endpoints"]
        assert ep["interface"] == "AAS-3.0"
        href = ep["protocolInformation"]["href"]
        assert href == f"{stack.url}/api/v3.0/shells/{b64(shells[0].id)}"
        r = await client.get(href)  # the endpoint is an address the client can use as it is
        assert r.status_code == 200 and r.json()["id"] == shells[0].id
        refs = {str(ref.key[0].value) for ref in shells[0].submodel}
        nested = await every_page(
            client, f"/shell-descriptors/{b64(shells[0].id)}/submodel-descriptors", limit=4
        )
        assert {d["id"] for d in nested} == refs and nested == first["submodelDescriptors"]
        for sub in nested:
            (sep,) = sub["endpoints"]
            assert sep["interface"] == "SUBMODEL-3.0"
            r = await client.get(sep["protocolInformation"]["href"])
            assert r.status_code == 200 and r.json()["id"] == sub["id"]
        one = nested[0]["id"]
        r = await client.get(f"/shell-descriptors/{b64(shells[0].id)}/submodel-descriptors/{b64(one)}")
        assert r.json() == nested[0]
        # the submodel registry lists every submodel werk holds, with the same descriptors
        submodels = await every_page(client, "/submodel-descriptors", limit=7)
        assert [d["id"] for d in submodels] == [s.id for s in stack.platform.twin.all(model.Submodel)]
        assert (await client.get(f"/submodel-descriptors/{b64(one)}")).json() == nested[0]
        # a change of the shell shows at once: the descriptor is derived, not a copy
        info = (await client.get(f"/shells/{b64(shells[0].id)}/asset-information")).json()
        info["assetType"] = "5-axis machining centre"
        r = await client.put(f"/shells/{b64(shells[0].id)}/asset-information", json=info, headers=SUPERVISOR)
        assert r.status_code == 204, r.text
        r = await client.get(f"/shell-descriptors/{b64(shells[0].id)}")
        assert r.json()["assetType"] == "5-axis machining centre"


async def test_a_registered_shell_descriptor_is_created_read_replaced_and_deleted(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (_, client):
        path = f"/shell-descriptors/{b64(FOREIGN)}"
        body = shell_descriptor()
        r = await client.post("/shell-descriptors", json=body, headers=SUPERVISOR)
        assert r.status_code == 201 and r.json() == body
        assert r.headers["location"] == f"/api/v3.0{path}"
        assert (await client.get(path)).json() == body
        listed = await every_page(client, "/shell-descriptors", limit=4)
        assert listed[-1] == body  # after werk's own, in registration order
        text = result_text(await client.post("/shell-descriptors", json=body, headers=SUPERVISOR), 409)
        assert "registered already" in text
        renamed = {**body, "idShort": "Pump7b"}
        assert (await client.put(path, json=renamed, headers=SUPERVISOR)).status_code == 204
        assert (await client.get(path)).json()["idShort"] == "Pump7b"
        other = shell_descriptor("https://other.example/aas/pump-8")
        text = result_text(await client.put(path, json=other, headers=SUPERVISOR), 400)
        assert "differs" in text and (await client.get(path)).json()["idShort"] == "Pump7b"
        unknown = f"/shell-descriptors/{b64('urn:nobody')}"
        result_text(await client.put(unknown, json=shell_descriptor("urn:nobody"), headers=SUPERVISOR), 404)
        result_text(await client.get(unknown), 404)
        assert (await client.delete(path, headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(path), 404)
        result_text(await client.delete(path, headers=SUPERVISOR), 404)
        assert len(await every_page(client, "/shell-descriptors", limit=50)) == len(listed) - 1


async def test_submodel_descriptors_of_a_registered_shell_through_the_superpath(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (_, client):
        r = await client.post("/shell-descriptors", json=shell_descriptor(), headers=SUPERVISOR)
        assert r.status_code == 201
        subs = f"/shell-descriptors/{b64(FOREIGN)}/submodel-descriptors"
        assert (await client.get(subs)).json()["result"] == []
        sub = submodel_descriptor()
        r = await client.post(subs, json=sub, headers=SUPERVISOR)
        assert r.status_code == 201 and r.json() == sub
        one = f"{subs}/{b64(sub['id'])}"
        assert r.headers["location"] == "/api/v3.0" + one
        result_text(await client.post(subs, json=sub, headers=SUPERVISOR), 409)
        second = submodel_descriptor(FOREIGN + "/sm/technical-data", idShort="TechnicalData")
        assert (await client.post(subs, json=second, headers=SUPERVISOR)).status_code == 201
        assert [d["id"] for d in await every_page(client, subs, limit=1)] == [sub["id"], second["id"]]
        assert (await client.get(f"/shell-descriptors/{b64(FOREIGN)}")).json()["submodelDescriptors"] == [
            sub,
            second,
        ]
        text = result_text(await client.put(one, json=second, headers=SUPERVISOR), 400)
        assert "differs" in text
        changed = {**sub, "idShort": "DigitalNameplate"}
        assert (await client.put(one, json=changed, headers=SUPERVISOR)).status_code == 204
        assert (await client.get(one)).json() == changed
        assert (await client.delete(one, headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(one), 404)
        result_text(await client.delete(one, headers=SUPERVISOR), 404)
        result_text(await client.get(f"/shell-descriptors/{b64('urn:nobody')}/submodel-descriptors"), 404)
        result_text(
            await client.post(
                f"/shell-descriptors/{b64('urn:nobody')}/submodel-descriptors", json=sub, headers=SUPERVISOR
            ),
            404,
        )


async def test_the_submodel_registry_stores_descriptors_of_other_servers(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        own = len(stack.platform.twin.all(model.Submodel))
        sub = submodel_descriptor()
        r = await client.post("/submodel-descriptors", json=sub, headers=SUPERVISOR)
        assert (
            r.status_code == 201
            and r.headers["location"] == f"/api/v3.0/submodel-descriptors/{b64(sub['id'])}"
        )
        result_text(await client.post("/submodel-descriptors", json=sub, headers=SUPERVISOR), 409)
        listed = await every_page(client, "/submodel-descriptors", limit=25)
        assert len(listed) == own + 1 and listed[-1] == sub
        path = f"/submodel-descriptors/{b64(sub['id'])}"
        changed = {**sub, "description": [{"language": "de", "text": "Typenschild"}]}
        assert (await client.put(path, json=changed, headers=SUPERVISOR)).status_code == 204
        assert (await client.get(path)).json() == changed
        assert (await client.delete(path, headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(path), 404)


async def test_malformed_descriptors_are_refused_with_their_findings_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    async with aas_stack(tmp_path) as (_, client):
        before = await every_page(client, "/shell-descriptors", limit=50)
        cases: list[tuple[Any, str]] = [
            ({"idShort": "NoId"}, ".id: required"),
            ({**shell_descriptor(), "endpoint": []}, "unknown attributes ['endpoint']"),
            (
                shell_descriptor(endpoints=[{"interface": "AAS-3.0", "protocolInformation": {}}]),
                ".endpoints[0].protocolInformation.href: required",
            ),
            (shell_descriptor(endpoints=[]), ".endpoints: needs at least 1"),
            (shell_descriptor(id=""), ".id: length 0"),
            (shell_descriptor(assetKind="Prototype"), ".assetKind"),
            (
                shell_descriptor(description=[{"language": "not a tag!", "text": "x"}]),
                ".description[0].language",
            ),
            (shell_descriptor(specificAssetIds=[{"name": "serial"}]), ".specificAssetIds[0]"),
            (
                shell_descriptor(submodelDescriptors=[{"id": "urn:sm:without-endpoints"}]),
                ".submodelDescriptors[0].endpoints: required",
            ),
            (
                shell_descriptor(
                    endpoints=[
                        {
                            "interface": "AAS-3.0",
                            "protocolInformation": {
                                "href": "https://x",
                                "securityAttributes": [{"type": "PLAIN"}],
                            },
                        }
                    ]
                ),
                "securityAttributes[0]",
            ),
            ([shell_descriptor()], "expected a JSON object"),
        ]
        for body, finding in cases:
            r = await client.post("/shell-descriptors", json=body, headers=SUPERVISOR)
            text = result_text(r, 400)
            assert finding in text, (finding, text)
            assert any(
                finding in m["text"] for m in r.json()["messages"][1:]
            )  # each finding as its own message
        r = await client.post(
            "/shell-descriptors",
            content=b'{"id": ',
            headers={**SUPERVISOR, "Content-Type": "application/json"},
        )
        result_text(r, 400)
        text = result_text(
            await client.post("/submodel-descriptors", json={"id": "urn:sm:x"}, headers=SUPERVISOR), 400
        )
        assert ".endpoints: required" in text
        assert await every_page(client, "/shell-descriptors", limit=50) == before
        result_text(await client.get("/shell-descriptors/not*base64"), 400)
        result_text(await client.get("/shell-descriptors", params={"cursor": "bogus"}), 400)
        result_text(await client.get("/shell-descriptors", params={"assetKind": "Prototype"}), 400)
        result_text(await client.patch("/shell-descriptors", json={}), 405)
        result_text(await client.post(f"/submodel-descriptors/{b64('urn:x')}", json={}), 405)


async def test_werk_descriptors_follow_the_repository_and_refuse_registry_writes(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        shell = stack.platform.twin.all(model.AssetAdministrationShell)[0]
        own = f"/shell-descriptors/{b64(shell.id)}"
        mine = (await client.get(own)).json()
        result_text(
            await client.post("/shell-descriptors", json=shell_descriptor(shell.id), headers=SUPERVISOR), 409
        )
        text = result_text(await client.put(own, json=shell_descriptor(shell.id), headers=SUPERVISOR), 409)
        assert f"/api/v3.0/shells/{b64(shell.id)}" in text
        result_text(await client.delete(own, headers=SUPERVISOR), 409)
        result_text(
            await client.post(own + "/submodel-descriptors", json=submodel_descriptor(), headers=SUPERVISOR),
            409,
        )
        sm_id = mine["submodelDescriptors"][0]["id"]
        result_text(await client.delete(f"/submodel-descriptors/{b64(sm_id)}", headers=SUPERVISOR), 409)
        assert (await client.get(own)).json() == mine
        # deleting the shell from the repository de-registers it
        assert (await client.delete(f"/shells/{b64(shell.id)}", headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(own), 404)


async def test_descriptors_filter_by_asset_kind_and_type(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (stack, client):
        assert stack.platform.twin is not None
        typ = shell_descriptor("https://other.example/aas/pump-type", assetKind="Type", assetType="pump")
        assert (await client.post("/shell-descriptors", json=typ, headers=SUPERVISOR)).status_code == 201
        assert (
            await client.post("/shell-descriptors", json=shell_descriptor(), headers=SUPERVISOR)
        ).status_code == 201
        types = await every_page(client, "/shell-descriptors", assetKind="Type")
        assert [d["id"] for d in types] == [typ["id"]]
        pumps = await every_page(client, "/shell-descriptors", assetType=b64("pump"))
        assert [d["id"] for d in pumps] == [typ["id"]]
        instances = await every_page(client, "/shell-descriptors", limit=50, assetKind="Instance")
        assert len(instances) == len(stack.platform.twin.all(model.AssetAdministrationShell)) + 1
        machining = await every_page(client, "/shell-descriptors", assetType=b64("machining centre"))
        assert machining and all(d["assetType"] == "machining centre" for d in machining)


async def test_registry_writes_need_the_supervisor_role(tmp_path: Path) -> None:
    async with aas_stack(tmp_path) as (_, client):
        body = shell_descriptor()
        r = await client.post("/shell-descriptors", json=body)
        assert "bearer" in result_text(r, 401) and r.headers["www-authenticate"].startswith("Bearer")
        assert "supervisor" in result_text(
            await client.post("/shell-descriptors", json=body, headers=OPERATOR), 403
        )
        result_text(
            await client.post("/submodel-descriptors", json=submodel_descriptor(), headers=OPERATOR), 403
        )
        result_text(await client.get(f"/shell-descriptors/{b64(FOREIGN)}"), 404)  # nothing was stored
        assert (await client.post("/shell-descriptors", json=body, headers=SUPERVISOR)).status_code == 201
        path = f"/shell-descriptors/{b64(FOREIGN)}"
        result_text(await client.put(path, json=body, headers=OPERATOR), 403)
        result_text(await client.delete(path, headers=OPERATOR), 403)
        result_text(await client.delete(path), 401)
        assert (await client.get(path)).json() == body
