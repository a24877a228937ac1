"""The AAS Part 2 API on a real uvicorn server: spec error bodies, paging, modifiers, writes behind a token, and
live values of bound Properties (in-memory signals here; the platform's own in test_aas_live_values_e2e)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from basyx.aas import model
from fastapi import FastAPI

from tests.aas.aas_app import AUTH, TOKEN, aas_api, aas_app, mount
from tests.conftest import plant_config, running_stack, serving, shared_data
from werk.aas.adapter import io as aas_io
from werk.aas.backend.pg_twin import PostgresTwin
from werk.aas.backend.store import TwinStore
from werk.config import demo_config_path, load_config
from werk.config.model import AssetRef
from werk.core.access import Caller
from werk.core.model import Sample
from werk.errors import Unauthorized
from werk.twin.environment import build_environment
from werk.twin.plant import open_twin

API = "/api/v3.0"
T = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
_DEMO = list(build_environment(load_config(demo_config_path())))
DEMO_SHELLS = sum(isinstance(o, model.AssetAdministrationShell) for o in _DEMO)
DEMO_SUBMODELS = sum(isinstance(o, model.Submodel) for o in _DEMO)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as url, httpx.AsyncClient(base_url=url + API, timeout=10) as client:
        yield client


def demo(
    tokens: set[str] | None = None, authorize: Callable[[str], Any] | None = None
) -> tuple[FastAPI, TwinStore, dict[str, Sample], AssetRef]:
    config = load_config(demo_config_path())
    store = TwinStore(build_environment(config))
    latest: dict[str, Sample] = {}
    app = aas_app(store, latest.get, tokens=tokens if tokens is not None else {TOKEN}, authorize=authorize)
    return app, store, latest, next(iter(config.assets()))


def assert_result_body(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    message = body["messages"][0]
    assert set(message) >= {"code", "messageType", "text", "timestamp"}
    assert message["code"] == str(status) and message["messageType"] == "Error" and message["text"]
    return str(message["text"])


async def test_live_value_over_http_follows_the_signal() -> None:
    app, _, latest, ref = demo()
    path = ref.signal_path("temperature")
    element = f"/submodels/{b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements/temperature"
    async with serve(app) as client:
        assert (await client.get(element + "/$value")).json() == {"temperature": None}
        latest[path] = Sample(path, T, 41.5)
        assert (await client.get(element + "/$value")).json() == {"temperature": 41.5}
        latest[path] = Sample(path, T, 43.25)
        full = (await client.get(element)).json()
        assert full["value"] == "43.25" and full["valueType"] == "xs:double"
        assert full["qualifiers"][0]["value"] == path
        # the same through the AAS superpath and the submodel's $value
        shell_path = (
            f"/shells/{b64(ref.aas_id)}/submodels/{b64(ref.aas_id + '/submodels/OperationalData')}/$value"
        )
        assert (await client.get(shell_path)).json()["temperature"] == 43.25


async def test_writes_need_a_token_and_reads_do_not() -> None:
    app, _, _, ref = demo()
    sm = f"/submodels/{b64(ref.aas_id + '/submodels/TechnicalData')}"
    cycle = sm + "/submodel-elements/TechnicalPropertyAreas[0].IdealCycleTime/$value"
    async with serve(app) as client:
        assert (await client.get(cycle)).json() == {"IdealCycleTime": 40.0}
        text = assert_result_body(await client.patch(cycle, json=35.0), 401)
        assert "bearer token" in text
        assert_result_body(
            await client.patch(cycle, json=35.0, headers={"Authorization": "Bearer wrong"}), 401
        )
        assert_result_body(await client.delete(sm), 401)
        r = await client.patch(cycle, json=35.0, headers=AUTH)
        assert r.status_code == 204
        assert (await client.get(cycle)).json() == {"IdealCycleTime": 35.0}


async def test_without_a_configured_token_writes_are_refused_with_how_to() -> None:
    app, _, _, _ = demo(tokens=set())
    async with serve(app) as client:
        r = await client.post("/submodels", json={"modelType": "Submodel", "id": "urn:x"}, headers=AUTH)
        text = assert_result_body(r, 403)
        assert "server.users" in text


async def test_a_custom_authorize_is_used_and_its_refusals_get_the_spec_shape() -> None:
    def engineer_only(caller: Caller) -> object:
        if caller.authorization != "Bearer engineer":
            raise Unauthorized(403, "needs role engineer")
        return "engineer"

    app, _, _, _ = demo(authorize=engineer_only)
    async with serve(app) as client:
        body = {"modelType": "Submodel", "id": "urn:x"}
        assert assert_result_body(await client.post("/submodels", json=body), 403) == "needs role engineer"
        ok = await client.post("/submodels", json=body, headers={"Authorization": "Bearer engineer"})
        assert ok.status_code == 201


async def test_errors_have_the_spec_result_body() -> None:
    app, _, _, ref = demo()
    async with serve(app) as client:
        assert_result_body(await client.get("/shells/invalid-base64url====="), 400)
        assert_result_body(await client.get(f"/shells/{b64('urn:nope')}"), 404)
        assert_result_body(await client.get("/shells", params={"limit": "-1"}), 400)
        assert_result_body(await client.get("/shells", params={"cursor": "bogus"}), 400)
        sm = f"/submodels/{b64(ref.aas_id + '/submodels/TechnicalData')}"
        assert_result_body(await client.get(sm, params={"level": "shallow"}), 400)
        assert_result_body(await client.get(sm + "/submodel-elements/No.Such"), 404)
        assert_result_body(await client.get(sm + "/submodel-elements/bad..path"), 400)
        assert_result_body(await client.post("/submodels", content=b"{", headers=AUTH), 400)
        invalid = {"modelType": "Submodel", "id": "urn:x", "idShort": "1 starts with a digit"}
        text = assert_result_body(await client.post("/submodels", json=invalid, headers=AUTH), 400)
        assert "id_short" in text or "ID-short" in text
        existing = {"modelType": "Submodel", "id": ref.aas_id + "/submodels/TechnicalData"}
        assert_result_body(await client.post("/submodels", json=existing, headers=AUTH), 409)


async def test_cursor_paging_visits_every_shell_once() -> None:
    app, store, _, _ = demo()
    async with serve(app) as client:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/shells", params=params)).json()
            seen += [s["id"] for s in page["result"]]
            cursor = page["paging_metadata"].get("cursor")
            if cursor is None:
                break
        assert seen == [s.id for s in store.all(model.AssetAdministrationShell)]
        assert len(set(seen)) == len(seen) == len(list(load_config(demo_config_path()).assets()))


async def test_modifiers_level_metadata_reference_path() -> None:
    app, _, _, ref = demo()
    sm_id = ref.aas_id + "/submodels/TechnicalData"
    sm = f"/submodels/{b64(sm_id)}"
    async with serve(app) as client:
        core = (await client.get(sm, params={"level": "core"})).json()
        assert all("value" not in e for e in core["submodelElements"])
        deep = (await client.get(sm)).json()
        assert all(e["value"] for e in deep["submodelElements"])
        meta = (await client.get(sm + "/$metadata")).json()
        assert "submodelElements" not in meta and meta["id"] == sm_id
        el = sm + "/submodel-elements/TechnicalPropertyAreas[0].IdealCycleTime"
        assert (await client.get(el + "/$reference")).json()["keys"] == [
            {"type": "Submodel", "value": sm_id},
            {"type": "SubmodelElementList", "value": "TechnicalPropertyAreas"},
            {"type": "SubmodelElementCollection", "value": "0"},
            {"type": "Property", "value": "IdealCycleTime"},
        ]
        assert "value" not in (await client.get(el + "/$metadata")).json()
        assert (await client.get(sm + "/$path")).json() == [
            "GeneralInformation",
            "GeneralInformation.ManufacturerName",
            "GeneralInformation.ManufacturerProductDesignation",
            "GeneralInformation.ManufacturerArticleNumber",
            "GeneralInformation.ManufacturerOrderCode",
            "TechnicalPropertyAreas",
            "TechnicalPropertyAreas[0]",
            "TechnicalPropertyAreas[0].IdealCycleTime",
        ]
        assert (await client.get(sm + "/$path", params={"level": "core"})).json() == [
            "GeneralInformation",
            "TechnicalPropertyAreas",
        ]
        assert_result_body(await client.get(el + "/$path"), 400)  # a Property has no paths below it


@pytest.mark.parametrize("backend", ["memory", "postgresql"])
async def test_element_writes_put_post_patch_delete(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    app, store, _, ref = demo()
    twin = None
    if (
        backend == "postgresql"
    ):  # the twin a replica serves: every write committed there, read back at the end
        config = load_config(demo_config_path())
        historian = config.historian.model_copy(
            update={
                "backend": "postgresql",
                "url": request.getfixturevalue("pg_url"),
                "path": str(tmp_path / "w.db"),
            }
        )
        store, twin = open_twin(config.model_copy(update={"historian": historian}))
        app = aas_app(store, {}.get, tokens={TOKEN})
    sm = f"/submodels/{b64(ref.aas_id + '/submodels/TechnicalData')}/submodel-elements"
    new = {"modelType": "Property", "idShort": "MaxSpindleSpeed", "valueType": "xs:int", "value": "12000"}
    async with serve(app) as client:
        r = await client.post(sm + "/TechnicalPropertyAreas[0]", json=new, headers=AUTH)
        assert r.status_code == 201
        assert_result_body(await client.post(sm + "/TechnicalPropertyAreas[0]", json=new, headers=AUTH), 409)
        path = sm + "/TechnicalPropertyAreas[0].MaxSpindleSpeed"
        assert (await client.get(path + "/$value")).json() == {"MaxSpindleSpeed": 12000}
        r = await client.patch(path, json={"value": "15000"}, headers=AUTH)
        assert r.status_code == 204
        assert (await client.get(path + "/$value")).json() == {"MaxSpindleSpeed": 15000}
        assert_result_body(await client.patch(path + "/$value", json="fast", headers=AUTH), 400)
        r = await client.put(path, json={**new, "value": "9000"}, headers=AUTH)
        assert r.status_code == 204
        assert (await client.get(path)).json()["value"] == "9000"
        r = await client.patch(path + "/$value", json=16000, headers=AUTH)
        assert r.status_code == 204
        other = path.replace("MaxSpindleSpeed", "IdealCycleTime")
        assert (await client.patch(other + "/$value", json=33.5, headers=AUTH)).status_code == 204
        assert (await client.delete(path, headers=AUTH)).status_code == 204
        assert_result_body(await client.get(path), 404)
    aas_io.write_json(store.objects)  # still a valid environment
    if twin is not None:
        twin.close()
        reader = PostgresTwin(request.getfixturevalue("pg_url"))
        again = {o.id: o for o in reader.load()}
        reader.close()
        assert [aas_io.to_jsonable(again[o.id]) for o in store.objects] == [
            aas_io.to_jsonable(o) for o in store.objects
        ]


async def test_a_bound_property_refuses_value_writes() -> None:
    app, _, _, ref = demo()
    el = f"/submodels/{b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements/temperature"
    async with serve(app) as client:
        text = assert_result_body(await client.patch(el + "/$value", json=20.0, headers=AUTH), 409)
        assert ref.signal_path("temperature") in text


async def test_serialization_and_import_of_a_template_package() -> None:
    app, store, _, _ = demo()
    aasx = shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.aasx").read_bytes()
    async with serve(app) as client:
        headers = {**AUTH, "Content-Type": "application/asset-administration-shell-package+xml"}
        r = await client.post("/werk/import", content=aasx, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["loaded"] == {
            "assetAdministrationShells": 1,
            "submodels": 1,
            "conceptDescriptions": 30,
        }
        assert_result_body(await client.post("/werk/import", content=aasx, headers=headers), 409)
        env = (await client.get("/serialization")).json()
        assert len(env["submodels"]) == DEMO_SUBMODELS + 1 and len(env["conceptDescriptions"]) == 30
        xml = await client.get("/serialization", headers={"Accept": "application/xml"})
        assert aas_io.read_xml(xml.content).report.loaded == {k: len(v) for k, v in env.items()}
        pkg = await client.get(
            "/serialization",
            params={"aasIds": b64("https://admin-shell.io/idta/aas/DigitalNameplate/3/0")},
            headers={"Accept": "application/asset-administration-shell-package+xml"},
        )
        loaded = aas_io.read_aasx(pkg.content)
        # the template's two images are in the package it came in, but no element of it points at them
        assert loaded.report.supplementary_files == 0
        assert loaded.report.loaded == {
            "assetAdministrationShells": 1,
            "submodels": 1,
            "conceptDescriptions": 30,
        }
    assert len(store.files) == 2


@pytest.mark.parametrize("suffix", ["", "/$reference"])
async def test_shells_filter_by_asset_id_and_id_short(suffix: str) -> None:
    app, _, _, ref = demo()
    asset_id = b64(json.dumps({"name": "globalAssetId", "value": ref.aas_id}))
    async with serve(app) as client:
        assert (
            len((await client.get("/shells" + suffix, params={"assetIds": asset_id})).json()["result"]) == 1
        )
        assert len((await client.get("/shells" + suffix, params={"idShort": "cnc_1"})).json()["result"]) == 1
        assert (await client.get("/shells" + suffix, params={"idShort": "nope"})).json()["result"] == []


@pytest.mark.e2e
async def test_live_values_of_the_running_platform(tmp_path: Path) -> None:
    """The simulated temperature, through OPC UA, the bus and LiveValues, read as an AAS Property over HTTP."""
    config = plant_config(tmp_path)
    async with running_stack(config) as stack:
        ref = next(iter(config.assets()))
        temperature = ref.signal_path("temperature")
        handed_out: list[Sample] = []

        def live_value(path: str) -> Sample | None:
            sample = stack.platform.live.latest.get(path)
            if path == temperature and sample is not None:
                handed_out.append(sample)
            return sample

        app = FastAPI()
        mount(app, aas_api(TwinStore(build_environment(config)), live_value))
        el = f"/submodels/{b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements/temperature/$value"
        async with serve(app) as client:
            seen: list[float] = []
            async with asyncio.timeout(60):
                while len(set(seen)) < 2:
                    value = (await client.get(el)).json()["temperature"]
                    if value is not None:
                        # each answer is exactly the platform's sample of that moment
                        assert value == handed_out[-1].value
                        seen.append(value)
                    await asyncio.sleep(0.1)


async def test_the_openapi_document_declares_every_path_parameter(tmp_path: Path) -> None:
    """A schema-driven client (a code generator, a fuzzer) needs each ``{name}`` of a path declared as a parameter;
    the submodel routes read theirs from the request, and werk's whole app is checked, not just the AAS router."""
    async with running_stack(plant_config(tmp_path)) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        spec = (await http.get("/openapi.json")).json()
    undeclared = []
    for path, operations in spec["paths"].items():
        wanted = set(re.findall(r"{([^}]+)}", path))
        for method, op in operations.items():
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert len(declared) == len(set(declared)), (method, path, declared)
            if wanted - set(declared):
                undeclared.append(f"{method.upper()} {path}: {sorted(wanted - set(declared))}")
    assert not undeclared, undeclared
    op = spec["paths"]["/api/v3.0/submodels/{submodel_id}/submodel-elements/{path}/$value"]["patch"]
    sm_param = next(p for p in op["parameters"] if p["name"] == "submodel_id")
    assert sm_param["required"] and "base64url" in sm_param["description"]


async def test_unknown_paths_and_methods_answer_in_the_spec_shape() -> None:
    app, _, _, _ = demo()
    async with serve(app) as client:
        assert_result_body(await client.get("/no-such-thing"), 404)
        assert_result_body(await client.delete("/description", headers=AUTH), 405)
        assert (await client.get("/description")).status_code == 200


async def test_xml_export_imports_into_an_empty_server_all_or_nothing() -> None:
    app, _, _, _ = demo()
    empty_store = TwinStore()
    empty = FastAPI()
    mount(empty, aas_api(empty_store))
    async with serve(app) as source, serve(empty) as target:
        xml = (await source.get("/serialization", headers={"Accept": "application/xml"})).content
        headers = {**AUTH, "Content-Type": "application/xml"}
        broken = xml.replace(b"<idShort>cnc_1</idShort>", b"<idShort>1cnc</idShort>", 1)
        assert_result_body(await target.post("/werk/import", content=broken, headers=headers), 400)
        assert len(empty_store.objects) == 0
        r = await target.post("/werk/import", content=xml, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["loaded"] == {
            "assetAdministrationShells": DEMO_SHELLS,
            "submodels": DEMO_SUBMODELS,
            "conceptDescriptions": 0,
        }
