"""The official IDTA test engine (PyPI aas-test-engines) against the router on a real uvicorn server: the AAS
repository and submodel repository read profiles (SSP-002) pass in full, with one submodel holding every kind of
submodel element so that no element check is skipped; on a store in memory, and on one stored on PostgreSQL and
loaded back (as a ``werk api`` replica serves it)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
from typing import Any

import pytest
from fastapi import FastAPI

from tests.aas.aas_app import aas_api, mount
from tests.aas.http.test_repository import serve
from tests.conftest import need
from werk.aas.adapter import io as aas_io
from werk.aas.backend.pg_twin import PostgresTwin
from werk.aas.backend.store import TwinStore
from werk.config import demo_config_path, load_config
from werk.twin.environment import build_environment

SUITES = [
    "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002",
]


def _ref(*keys: tuple[str, str]) -> dict[str, Any]:
    kind = "ExternalReference" if keys[0][0] == "GlobalReference" else "ModelReference"
    return {"type": kind, "keys": [{"type": t, "value": v} for t, v in keys]}


def every_element_kind() -> dict[str, Any]:
    """An environment whose first submodel has one element of each of the 14 kinds (Part 1 clause 5.3.7)."""
    sm_id = "urn:werk:test:sm:all-kinds"
    prop = {"modelType": "Property", "idShort": "Prop", "valueType": "xs:int", "value": "7"}
    target = _ref(("Submodel", sm_id), ("Property", "Prop"))
    elements = [
        prop,
        {
            "modelType": "MultiLanguageProperty",
            "idShort": "Mlp",
            "value": [{"language": "en", "text": "hello"}],
        },
        {"modelType": "Range", "idShort": "Rng", "valueType": "xs:double", "min": "1.5", "max": "2.5"},
        {"modelType": "Blob", "idShort": "Blb", "contentType": "application/octet-stream", "value": "AAEC"},
        {"modelType": "File", "idShort": "Fil", "contentType": "text/plain", "value": "/aasx/files/note.txt"},
        {"modelType": "ReferenceElement", "idShort": "Ref", "value": target},
        {
            "modelType": "SubmodelElementCollection",
            "idShort": "Coll",
            "value": [{"modelType": "Property", "idShort": "Inner", "valueType": "xs:string", "value": "x"}],
        },
        {
            "modelType": "SubmodelElementList",
            "idShort": "Lst",
            "typeValueListElement": "Property",
            "valueTypeListElement": "xs:int",
            "value": [{"modelType": "Property", "valueType": "xs:int", "value": "1"}],
        },
        {"modelType": "RelationshipElement", "idShort": "Rel", "first": target, "second": target},
        {
            "modelType": "AnnotatedRelationshipElement",
            "idShort": "ARel",
            "first": target,
            "second": target,
            "annotations": [
                {"modelType": "Property", "idShort": "Note", "valueType": "xs:string", "value": "n"}
            ],
        },
        {
            "modelType": "Entity",
            "idShort": "Ent",
            "entityType": "SelfManagedEntity",
            "globalAssetId": "urn:werk:test:asset:part",
            "statements": [
                {"modelType": "Property", "idShort": "Weight", "valueType": "xs:double", "value": "1.5"}
            ],
        },
        {
            "modelType": "BasicEventElement",
            "idShort": "Evt",
            "observed": target,
            "direction": "output",
            "state": "on",
        },
        {"modelType": "Capability", "idShort": "Cap"},
        {"modelType": "Operation", "idShort": "Op"},
    ]
    shell = {
        "modelType": "AssetAdministrationShell",
        "id": "urn:werk:test:aas:all-kinds",
        "idShort": "AllKinds",
        "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:werk:test:asset:all-kinds"},
        "submodels": [_ref(("Submodel", sm_id)), _ref(("Submodel", sm_id + ":second"))],
    }
    submodel = {"modelType": "Submodel", "id": sm_id, "idShort": "AllKinds", "submodelElements": elements}
    second = {"modelType": "Submodel", "id": sm_id + ":second", "idShort": "Second"}
    concept = {"modelType": "ConceptDescription", "id": "urn:werk:test:cd:prop", "idShort": "Prop"}
    return {
        "assetAdministrationShells": [shell],
        "submodels": [submodel, second],
        "conceptDescriptions": [concept],
    }


def run_suite(base_url: str, suite: str) -> tuple[bool, dict[str, int], str]:
    from aas_test_engines import api, config, http

    client = http.HttpClient(host=base_url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result, mat = api.execute_tests(client, config.CheckApiConfig(suite=suite, version="3.0", dry=False))
        result.dump()
    counts = {
        "negative_passed": mat.invalid_rejected,
        "negative_total": mat.invalid_rejected + mat.invalid_accepted,
        "positive_passed": mat.valid_accepted,
        "positive_total": mat.valid_accepted + mat.valid_rejected,
    }
    return result.ok(), counts, out.getvalue()


def engine_store() -> TwinStore:
    import json

    loaded = aas_io.read_json(json.dumps(every_element_kind()))
    store = TwinStore(loaded.objects)
    store.files.add_file("/aasx/files/note.txt", io.BytesIO(b"a note"), "text/plain")
    for obj in build_environment(load_config(demo_config_path())):
        store.add(obj)
    return store


def stored_on_server(pg_url: str) -> tuple[TwinStore, PostgresTwin]:
    """:func:`engine_store`'s objects and file stored on PostgreSQL and loaded back, the store attached as a
    ``werk api`` replica's is: every read the engine makes passes through the follower's check."""
    made = engine_store()
    twin = PostgresTwin(pg_url)
    twin.save_all(
        list(made.objects),
        files=[("/aasx/files/note.txt", "text/plain", made.file_bytes("/aasx/files/note.txt"))],
    )
    objects, seq, epoch = twin.snapshot()
    store = TwinStore(objects)
    store.files = twin.load_files()
    twin.attach(store, seq=seq, epoch=epoch)
    return store, twin


@pytest.mark.parametrize("backend", ["memory", "postgresql"])
@pytest.mark.parametrize("suite", SUITES, ids=["aas-repository", "submodel-repository"])
async def test_official_test_engine_passes(suite: str, backend: str, request: pytest.FixtureRequest) -> None:
    need(importlib.util.find_spec("aas_test_engines") is not None, "aas-test-engines is not installed")
    twin = None
    if backend == "postgresql":
        store, twin = stored_on_server(request.getfixturevalue("pg_url"))
    else:
        store = engine_store()
    app = FastAPI()
    mount(app, aas_api(store, tokens=()))
    try:
        async with serve(app) as client:
            ok, counts, log = await asyncio.to_thread(run_suite, str(client.base_url).rstrip("/"), suite)
    finally:
        if twin is not None:
            twin.close()
    assert ok, log[-3000:]
    assert counts["negative_passed"] == counts["negative_total"] > 0
    assert counts["positive_passed"] == counts["positive_total"] > 0
    assert "No such element present" not in log
