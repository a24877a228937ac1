"""Requests a fuzzer found to answer 500 or to damage the twin: each is refused with a 4xx in the spec's shape, and
the twin serves what it held before. JSON's ``\\u`` escapes can carry a lone surrogate, which Python reads and UTF-8
cannot store or send, so those bodies are written as raw bytes here."""

from __future__ import annotations

from typing import Any

import httpx

from tests.aas.http.test_repository import AUTH, assert_result_body, b64, demo, serve

JSON = {**AUTH, "Content-Type": "application/json"}
SM_ID = "urn:werk:test:hostile"
SM = f"/submodels/{b64(SM_ID)}"
ELEMENTS: list[dict[str, Any]] = [
    {"idShort": "S", "modelType": "Property", "valueType": "xs:string", "value": "ok"},
    {"idShort": "D", "modelType": "Property", "valueType": "xs:dateTime"},
    {"idShort": "R", "modelType": "Range", "valueType": "xs:double", "min": "1.0", "max": "2.0"},
    {"idShort": "F", "modelType": "File", "contentType": "text/plain"},
    {
        "idShort": "L",
        "modelType": "SubmodelElementList",
        "typeValueListElement": "Property",
        "valueTypeListElement": "xs:int",
        "value": [
            {"modelType": "Property", "valueType": "xs:int", "value": "1"},
            {"modelType": "Property", "valueType": "xs:int", "value": "2"},
        ],
    },
]


async def _setup(client: httpx.AsyncClient) -> None:
    body = {"modelType": "Submodel", "id": SM_ID, "submodelElements": ELEMENTS}
    r = await client.post("/submodels", json=body, headers=AUTH)
    assert r.status_code == 201, r.text


async def test_text_a_twin_cannot_hold_is_refused_and_the_twin_keeps_serving() -> None:
    app, _, _, _ = demo()
    async with serve(app) as client:
        await _setup(client)
        before = (await client.get(SM)).json()
        for raw in (rb'"\ud800"', rb'"a\u0000b"', rb'{"S": "x\udfff"}'):
            text = assert_result_body(
                await client.patch(SM + "/submodel-elements/S/$value", content=raw, headers=JSON), 400
            )
            assert "AASd-130" in text, text
        # the refusal quotes the value where it must (a dateTime that does not parse): as an escape, not a 500
        r = await client.patch(SM + "/submodel-elements/D/$value", content=rb'"\ud800x"', headers=JSON)
        assert_result_body(r, 400)
        assert (await client.get(SM + "/submodel-elements/S/$value")).json() == {"S": "ok"}
        assert (await client.get(SM)).json() == before  # every read that renders the submodel still works
        assert (await client.get("/submodels")).status_code == 200


async def test_malformed_values_and_elements_are_400_not_500() -> None:
    app, store, _, _ = demo()
    async with serve(app) as client:
        await _setup(client)
        for value in ("5", None, 1, []):  # a Range's value is {"min": ..., "max": ...}
            assert_result_body(
                await client.patch(SM + "/submodel-elements/R/$value", json=value, headers=AUTH), 400
            )
        assert (await client.get(SM + "/submodel-elements/R/$value")).json() == {
            "R": {"min": 1.0, "max": 2.0}
        }
        blob = {"idShort": "B", "modelType": "Blob", "contentType": "text/plain", "value": "a"}  # not base64
        r = await client.post(SM + "/submodel-elements", json=blob, headers=AUTH)
        assert_result_body(r, 400)
        assert "base64" in r.text.lower(), r.text  # the finding names what is wrong
        assert_result_body(await client.get(SM + "/submodel-elements/B"), 404)
        # an item of another type than the list holds: refused, and the list keeps both items
        r = await client.patch(
            SM + "/submodel-elements/L%5B0%5D", json={"valueType": "xs:boolean"}, headers=AUTH
        )
        assert_result_body(r, 400)
        assert (await client.get(SM + "/submodel-elements/L/$value")).json() == {"L": [1, 2]}
        # a fileName that makes a path longer than a File value holds (2048): refused before anything is stored
        files_before = set(store.files)
        r = await client.put(
            SM + "/submodel-elements/F/attachment",
            files={"file": ("a.txt", b"hello", "text/plain")},
            data={"fileName": "x" * 2100},
            headers=AUTH,
        )
        assert "does not fit" in assert_result_body(r, 400)
        assert set(store.files) == files_before
        assert_result_body(await client.get(SM + "/submodel-elements/F/attachment"), 404)
