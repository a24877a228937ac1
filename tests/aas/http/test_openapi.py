"""The AAS routes' OpenAPI document names their bodies, and what the server answers fits what it declares: a
schema-driven client (a code generator, schemathesis) can check the contract."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx

from tests.aas.aas_app import AUTH, aas_app
from tests.conftest import serving
from werk.aas.backend.service_store import ServiceStore
from werk.aas.backend.store import TwinStore
from werk.config import demo_config_path, load_config
from werk.twin.environment import build_environment

API = "/api/v3.0"
REF = next(iter(load_config(demo_config_path()).assets()))


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def problems(data: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``data`` does not fit ``schema`` (the JSON Schema keywords the AAS document uses)."""
    out: list[str] = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int}
    if kind in types and not isinstance(data, types[kind]):
        return [f"{where}: expected {kind}, got {type(data).__name__}"]
    if "const" in schema and data != schema["const"]:
        out.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and data not in schema["enum"]:
        out.append(f"{where}: {data!r} is not one of {schema['enum']}")
    if isinstance(data, dict):
        out += [f"{where}: {key} is required" for key in schema.get("required", []) if key not in data]
        for key, sub in schema.get("properties", {}).items():
            if key in data:
                out += problems(data[key], sub, f"{where}.{key}")
    if isinstance(data, list) and "items" in schema:
        for i, item in enumerate(data):
            out += problems(item, schema["items"], f"{where}[{i}]")
    return out


def declared(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    responses = spec["paths"][path][method]["responses"]
    response = responses.get(status) or responses[status[0] + "XX"]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_every_aas_body_is_named_and_no_undeclared_422(tmp_path: Path) -> None:
    app = aas_app(TwinStore(), services=ServiceStore(str(tmp_path / "s.db")))
    spec = app.openapi()
    unnamed = []
    for path, operations in spec["paths"].items():
        if not path.startswith(API):
            continue
        for method, op in operations.items():
            assert "422" not in op["responses"], (method, path)
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"]["title"] == "Result"
            for content in op.get("requestBody", {}).get("content", {}).values():
                if not content["schema"].get("title"):
                    unnamed.append(f"{method} {path} request")
            for status, response in op["responses"].items():
                for content in response.get("content", {}).values():
                    if not content["schema"]:
                        unnamed.append(f"{method} {path} {status}")
    assert not unnamed, unnamed


async def test_answers_fit_the_declared_schemas(tmp_path: Path) -> None:
    store = TwinStore(build_environment(load_config(demo_config_path())))
    app = aas_app(store, services=ServiceStore(str(tmp_path / "s.db")))
    spec = app.openapi()
    shell, sm = b64(REF.aas_id), b64(REF.aas_id + "/submodels/TechnicalData")
    reads = {
        "/shells": {},
        "/shells/$reference": {},
        "/shells/{aas_id}": {"aas_id": shell},
        "/shells/{aas_id}/asset-information": {"aas_id": shell},
        "/shells/{aas_id}/submodel-refs": {"aas_id": shell},
        "/submodels": {},
        "/submodels/$metadata": {},
        "/submodels/{submodel_id}": {"submodel_id": sm},
        "/submodels/{submodel_id}/$metadata": {"submodel_id": sm},
        "/submodels/{submodel_id}/$reference": {"submodel_id": sm},
        "/submodels/{submodel_id}/$path": {"submodel_id": sm},
        "/submodels/{submodel_id}/submodel-elements": {"submodel_id": sm},
        "/submodels/{submodel_id}/submodel-elements/{path}": {
            "submodel_id": sm,
            "path": "GeneralInformation",
        },
        "/concept-descriptions": {},
        "/shell-descriptors": {},
        "/shell-descriptors/{identifier}": {"identifier": shell},
        "/submodel-descriptors": {},
        "/lookup/shells": {},
        "/packages": {},
        "/description": {},
        "/serialization": {},
    }
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        for template, params in reads.items():
            concrete = API + template
            for name, value in params.items():
                concrete = concrete.replace("{" + name + "}", value)
            r = await client.get(concrete)
            assert r.status_code == 200, (template, r.text)
            found = problems(r.json(), declared(spec, API + template, "get", "200"))
            assert not found, (template, found[:5])
        r = await client.post(f"{API}/submodels", json={"modelType": "Submodel"}, headers=AUTH)
        assert r.status_code == 400
        assert not problems(r.json(), declared(spec, f"{API}/submodels", "post", "400"))
        r = await client.post(f"{API}/submodels", json={"modelType": "Submodel", "id": "urn:x"}, headers=AUTH)
        assert r.status_code == 201
        assert not problems(r.json(), declared(spec, f"{API}/submodels", "post", "201"))
