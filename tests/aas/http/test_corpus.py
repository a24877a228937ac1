"""The aas-core3.0 test corpus through the HTTP import: every Unexpected document refused with 4xx and a message;
every Expected environment imported, exported with the same values (each leaf either the same text, the same value in
another lexical form, or a default written out or left out) and exported unchanged on a second round (a fixpoint)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
from basyx.aas import model
from fastapi import FastAPI

from tests.aas.aas_app import aas_api, mount
from tests.aas.adapter.corpus_values import value_changes
from tests.conftest import shared_data
from werk.aas.backend.store import TwinStore

TOKEN = "corpus-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client() -> tuple[httpx.AsyncClient, TwinStore]:
    store = TwinStore()
    app = FastAPI()
    mount(app, aas_api(store, tokens={TOKEN}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://werk"), store


async def test_every_unexpected_document_is_refused_with_4xx_and_a_message() -> None:
    root = shared_data("aas", "core3-testgen", "test_data", "Json")
    docs = sorted(root.glob("**/Unexpected/**/*.json"))
    assert len(docs) == 2037
    client, store = _client()
    accepted: list[str] = []
    async with client:
        for path in docs:
            r = await client.post("/api/v3.0/werk/import", content=path.read_bytes(), headers=AUTH)
            body = r.json()
            if not (400 <= r.status_code < 500 and body["messages"][0]["text"]):
                accepted.append(str(path.relative_to(root)))
            assert len(store.objects) == 0, path  # nothing of a refused document stays
    assert accepted == []


async def test_every_expected_environment_round_trips_with_its_values() -> None:
    root = shared_data("aas", "core3-testgen", "test_data", "Json")
    docs = sorted(root.glob("ContainedInEnvironment/Expected/**/*.json"))
    docs += sorted(root.glob("SelfContained/Expected/Environment/*.json"))
    assert len(docs) == 2560
    client, store = _client()
    outcome: Counter[str] = Counter()
    failures: list[str] = []
    async with client:
        for path in docs:
            store.objects = model.DictIdentifiableStore()
            r = await client.post("/api/v3.0/werk/import", content=path.read_bytes(), headers=AUTH)
            if r.status_code != 201:
                failures.append(f"{path.relative_to(root)}: import {r.status_code} {r.text[:200]}")
                continue
            first = (await client.get("/api/v3.0/serialization")).json()
            original = {k: v for k, v in json.loads(path.read_text()).items() if v}
            changes = value_changes(original, first)
            if changes:
                failures.append(f"{path.relative_to(root)}: {changes[:3]}")
                continue
            store.objects = model.DictIdentifiableStore()
            r2 = await client.post("/api/v3.0/werk/import", content=json.dumps(first), headers=AUTH)
            second = (await client.get("/api/v3.0/serialization")).json()
            if r2.status_code != 201 or second != first:
                failures.append(f"{path.relative_to(root)}: export is not a fixpoint")
                continue
            outcome["identical" if first == original else "same values"] += 1
    assert failures == []
    assert outcome["identical"] + outcome["same values"] == len(docs)
    assert outcome["identical"] > 1000  # most documents are already in the canonical form basyx writes


def test_value_comparison_sees_a_changed_value() -> None:
    """The comparison above is no blanket pass: a changed value, a lost value and a changed time zone all show."""
    original = {
        "value": "2022-04-01+14:00",
        "valueType": "xs:date",
        "qualifiers": [{"value": "0", "kind": "X"}],
    }
    assert value_changes(original, {**original, "value": "2022-04-01-10:00"})
    assert value_changes(original, {**original, "qualifiers": [{"kind": "X"}]})
    assert value_changes({"value": "1", "valueType": "xs:int"}, {"value": "2", "valueType": "xs:int"})
    assert not value_changes({"value": "+1", "valueType": "xs:int"}, {"value": "1", "valueType": "xs:int"})
    assert not value_changes({"kind": "ConceptQualifier"}, {})


def test_corpus_is_where_the_tests_expect_it() -> None:
    assert Path(shared_data("aas", "core3-testgen", "test_data", "Json", "ContainedInEnvironment")).is_dir()
