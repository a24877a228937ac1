"""Defects of the AAS server found in use, each answered over a real uvicorn on loopback: what a client sends or
gets back that it should not have."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import httpx
import pytest
from basyx.aas import model
from basyx.aas.adapter import aasx as basyx_aasx

from tests.aas.aas_app import AUTH, aas_app
from tests.aas.http.aas_stack import environment
from tests.conftest import serving
from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.aas.http.common import AASX_MEDIA_TYPE

API = "/api/v3.0"
VALUES = ["zeta", "alpha", "mid", "beta", "omega", "gamma", "delta", "epsilon"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def concept_description() -> dict[str, Any]:
    pairs = [
        {
            "value": v,
            "valueId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": v}]},
        }
        for v in VALUES
    ]
    iec61360 = "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIEC61360/3/0"
    return {
        "modelType": "ConceptDescription",
        "id": "urn:werk:test:cd:state",
        "embeddedDataSpecifications": [
            {
                "dataSpecification": {
                    "type": "ExternalReference",
                    "keys": [{"type": "GlobalReference", "value": iec61360}],
                },
                "dataSpecificationContent": {
                    "modelType": "DataSpecificationIec61360",
                    "preferredName": [{"language": "en", "text": "state"}],
                    "definition": [{"language": "en", "text": "the machine's state"}],
                    "valueList": {"valueReferencePairs": pairs},
                },
            }
        ],
    }


def value_order(cd: dict[str, Any]) -> list[str]:
    content = cd["embeddedDataSpecifications"][0]["dataSpecificationContent"]
    return [p["value"] for p in content["valueList"]["valueReferencePairs"]]


async def test_a_concept_descriptions_value_list_keeps_document_order_in_every_export() -> None:
    s = TwinStore()
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url + API, timeout=10) as client:
        r = await client.post("/concept-descriptions", json=concept_description(), headers=AUTH)
        assert r.status_code == 201, r.text
        assert value_order(r.json()) == VALUES
        cd = (await client.get(f"/concept-descriptions/{b64('urn:werk:test:cd:state')}")).json()
        assert value_order(cd) == VALUES
        env = (await client.get("/serialization")).json()
        assert value_order(env["conceptDescriptions"][0]) == VALUES
        xml = (await client.get("/serialization", headers={"Accept": "application/xml"})).content
        again = aas_io.read_xml(xml)
        assert value_order(aas_io.to_jsonable(next(iter(again.objects)))) == VALUES


def list_submodel() -> dict[str, Any]:
    items = [
        {"modelType": "Property", "idShort": name, "valueType": "xs:int", "value": str(i)}
        for i, name in enumerate(["first", "second"])
    ]
    return {
        "modelType": "Submodel",
        "id": "urn:werk:test:list",
        "submodelElements": [
            {
                "modelType": "SubmodelElementList",
                "idShort": "Items",
                "typeValueListElement": "Property",
                "valueTypeListElement": "xs:int",
                "value": items,
            }
        ],
    }


def list_item_id_shorts(sm: dict[str, Any]) -> list[str | None]:
    return [item.get("idShort") for item in sm["submodelElements"][0]["value"]]


async def test_the_id_shorts_of_list_items_of_metamodel_3_1_are_kept_on_import_and_export() -> None:
    s = TwinStore()
    body = json.dumps({"submodels": [list_submodel()]})
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url + API, timeout=10) as client:
        r = await client.post("/werk/import?metamodel=3.1", content=body, headers=AUTH)
        assert r.status_code == 201, r.text
        sm = (await client.get(f"/submodels/{b64('urn:werk:test:list')}")).json()
        assert list_item_id_shorts(sm) == ["first", "second"]
    loaded = list(s.objects)
    exported = json.loads(aas_io.write_json(loaded, metamodel="3.1"))
    assert list_item_id_shorts(exported["submodels"][0]) == ["first", "second"]
    again = aas_io.read_xml(aas_io.write_xml(loaded, metamodel="3.1"))
    assert list_item_id_shorts(aas_io.to_jsonable(next(iter(again.objects)))) == ["first", "second"]
    # 3.0 has no idShort on list items (AASd-120): its export leaves them out and stays valid
    assert list_item_id_shorts(json.loads(aas_io.write_json(loaded))["submodels"][0]) == [None, None]


def package_with_file(aas_id: str, file_name: str, data: bytes) -> bytes:
    """A package of one shell and submodel whose File element names ``file_name``."""
    shell, sm = sorted(aas_io.read_json(json.dumps(environment(aas_id))).objects, key=lambda o: o.id)
    assert isinstance(sm, model.Submodel)
    sm.submodel_element.add(model.File("Manual", "application/pdf", value=file_name))
    files = basyx_aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
    files.add_file(file_name, io.BytesIO(data), "application/pdf")
    return aas_io.write_aasx([shell, sm], files)


async def test_the_aasx_of_one_shell_carries_only_the_files_its_submodels_reference() -> None:
    s = TwinStore()
    headers = {**AUTH, "Content-Type": AASX_MEDIA_TYPE}
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url + API, timeout=10) as client:
        for aas_id, name in (
            ("urn:werk:test:a", "/aasx/files/a.pdf"),
            ("urn:werk:test:b", "/aasx/files/b.pdf"),
        ):
            r = await client.post(
                "/werk/import",
                content=package_with_file(aas_id, name, b"%PDF-" + name.encode()),
                headers=headers,
            )
            assert r.status_code == 201, r.text
        r = await client.get(
            "/serialization", params={"aasIds": b64("urn:werk:test:a")}, headers={"Accept": AASX_MEDIA_TYPE}
        )
        assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = z.namelist()
    assert "aasx/files/a.pdf" in names and "aasx/files/b.pdf" not in names


@pytest.mark.parametrize(
    "path",
    [
        "/shells/urn:example:aas:1",
        "/shells/https://example.com/ids/aas/1",
        "/submodels/https://example.com/ids/sm/1/submodel-elements/x",
    ],
)
async def test_a_raw_identifier_in_a_path_is_answered_with_how_to_encode_it(path: str) -> None:
    async with (
        serving(aas_app(TwinStore())) as url,
        httpx.AsyncClient(base_url=url + API, timeout=10) as client,
    ):
        r = await client.get(path)
    assert r.status_code in (400, 404), r.text
    text = r.json()["messages"][0]["text"]
    assert "base64url" in text and "without padding" in text and b64("urn:example:aas:1") in text


async def test_a_method_a_path_does_not_have_is_405_with_allow() -> None:
    async with (
        serving(aas_app(TwinStore())) as url,
        httpx.AsyncClient(base_url=url + API, timeout=10) as client,
    ):
        r = await client.delete("/description", headers=AUTH)
        assert r.status_code == 405 and r.headers["allow"] == "GET", r.text
        r = await client.patch("/shells", headers=AUTH)
        assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}, r.text
        r = await client.put(f"/submodels/{b64('urn:x')}/submodel-elements/a/$value", headers=AUTH)
        assert r.status_code == 405 and "PATCH" in r.headers["allow"], r.text
