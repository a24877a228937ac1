"""The real werk stack (simulator, platform, uvicorn on loopback) with a supervisor and an operator, and an HTTP
client on its AAS API, for the registry, discovery and file server tests."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from basyx.aas import model
from basyx.aas.adapter import aasx as basyx_aasx

from tests.app_databases import PlantStore
from tests.conftest import Stack, plant_config, running_stack
from werk.aas.adapter import io as aas_io

API = "/api/v3.0"
SUPERVISOR = {"Authorization": "Bearer sup-token"}
OPERATOR = {"Authorization": "Bearer op-token"}
USERS = {"sue": ("supervisor", "sup-token"), "otto": ("operator", "op-token")}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def asset_id(name: str, value: str) -> str:
    """A SpecificAssetId as the ``assetIds`` query parameter carries it: base64url of its JSON."""
    return b64(json.dumps({"name": name, "value": value}))


@asynccontextmanager
async def aas_stack(
    tmp_path: Path, store: PlantStore | None = None
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    """A stack on ``tmp_path``'s historian file (or the backend ``store`` puts it on): a second one on the same path
    sees what the first stored."""
    config = plant_config(tmp_path, users=USERS)
    if store is not None:
        config = store(config)
    async with (
        running_stack(config) as stack,
        httpx.AsyncClient(base_url=stack.url + API, timeout=20) as client,
    ):
        yield stack, client


def result_text(r: httpx.Response, status: int) -> str:
    """The Error message of a Part 2 Result body, after checking the status and the body's shape."""
    assert r.status_code == status, r.text
    message = r.json()["messages"][0]
    assert set(message) >= {"code", "messageType", "text", "timestamp"}
    assert message["code"] == str(status) and message["messageType"] == "Error"
    return str(message["text"])


async def every_page(client: httpx.AsyncClient, path: str, limit: int = 3, **params: str) -> list[Any]:
    """All items of a paged list, following the cursor."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        r = await client.get(
            path, params={**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["result"]) <= limit
        items += page["result"]
        cursor = page["paging_metadata"].get("cursor")
        if cursor is None:
            return items


def environment(aas_id: str, *, id_short: str = "Pump", asset: str | None = None) -> dict[str, Any]:
    """A small environment of one shell and one submodel, as Part 1 JSON."""
    sm_id = aas_id + "/submodels/Nameplate"
    return {
        "assetAdministrationShells": [
            {
                "modelType": "AssetAdministrationShell",
                "id": aas_id,
                "idShort": id_short,
                "assetInformation": {"assetKind": "Instance", "globalAssetId": asset or aas_id + ":asset"},
                "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": sm_id}]}],
            }
        ],
        "submodels": [
            {
                "modelType": "Submodel",
                "id": sm_id,
                "idShort": "Nameplate",
                "submodelElements": [
                    {
                        "modelType": "Property",
                        "idShort": "SerialNumber",
                        "valueType": "xs:string",
                        "value": "P-1",
                    }
                ],
            }
        ],
    }


def aasx(*aas_ids: str) -> bytes:
    """An AASX package (IDTA-01005) holding one small shell and submodel per id."""
    objects = []
    for aas_id in aas_ids:
        objects += list(aas_io.read_json(json.dumps(environment(aas_id))).objects)
    return aas_io.write_aasx(objects)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))  # a PNG signature and bytes that are not text
PDF = b"%PDF-1.7\n" + b"manual " * 50


def package(aas_id: str, pdf: bytes) -> bytes:
    """A package with a thumbnail for the shell and a File element naming an attached PDF."""
    (shell, sm) = sorted(aas_io.read_json(json.dumps(environment(aas_id))).objects, key=lambda o: o.id)
    assert isinstance(shell, model.AssetAdministrationShell) and isinstance(sm, model.Submodel)
    shell.asset_information.default_thumbnail = model.Resource("/aasx/files/pump.png", "image/png")
    sm.submodel_element.add(model.File("Manual", "application/pdf", value="/aasx/files/manual.pdf"))
    files = basyx_aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
    files.add_file("/aasx/files/pump.png", io.BytesIO(PNG), "image/png")
    files.add_file("/aasx/files/manual.pdf", io.BytesIO(pdf), "application/pdf")
    return aas_io.write_aasx([shell, sm], files)
