"""The AAS API's fast path (werk.aas.http.fast) answers exactly as the routes do, never with a stale body, and only
acknowledges a write once it is durable (werk.aas.backend.persistence.GroupCommit)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from basyx.aas import model
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.aas.aas_app import aas_api, mount
from werk.aas.backend.group_commit import GroupCommit
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.api.auth import Authenticator, token_digest
from werk.api.http_server import add_front, assemble
from werk.config import demo_config_path, load_config
from werk.config.model import ServerConfig, UserConfig
from werk.core.model import Sample
from werk.twin.environment import build_environment

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
API = "/api/v3.0"
T = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
CONFIG = load_config(demo_config_path())
REF = next(iter(CONFIG.assets()))


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


OPERATIONAL = f"{API}/submodels/{b64(REF.aas_id + '/submodels/OperationalData')}"
TECHNICAL = f"{API}/submodels/{b64(REF.aas_id + '/submodels/TechnicalData')}"
TEMPERATURE = f"{OPERATIONAL}/submodel-elements/temperature/$value"
CYCLE_TIME = f"{TECHNICAL}/submodel-elements/TechnicalPropertyAreas[0].IdealCycleTime/$value"


@dataclass
class Stack:
    """One store served twice: through the fast path (``fast``) and by the routes alone (``routes``)."""

    store: TwinStore
    latest: dict[str, Sample]
    fast: httpx.AsyncClient
    routes: httpx.AsyncClient
    passed_on: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def stack(
    db: Path | None = None, *, busy_timeout_s: float = 10.0
) -> Iterator[tuple[Stack, TwinPersistence | None]]:
    store = TwinStore(build_environment(CONFIG))
    persistence = None
    if db is not None:
        persistence = TwinPersistence(db, busy_timeout_s=busy_timeout_s)
        persistence.save_all(list(store.objects))
        persistence.attach(store)
    latest = {
        path: Sample(path, T, 20.0 + i)
        for i, path in enumerate(REF.signal_path(s) for s in sorted(REF.config.bound_signals()))
    }
    api = aas_api(store, latest.get, tokens={TOKEN})
    passed_on: list[tuple[str, str]] = []

    def spied(app: ASGIApp) -> ASGIApp:
        async def spy(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                passed_on.append((scope["method"], scope["path"]))
            await app(scope, receive, send)

        return spy

    # as the HTTP server assembles werk's app: the fast path in front, with the spy between it and the app
    app = FastAPI()
    for router in api.routers:
        app.include_router(router)
    served = api.fast_path(spied(app))
    routes_only = mount(FastAPI(), aas_api(store, latest.get, tokens={TOKEN}))
    routes_only.state.front = []  # the routes alone
    fast = httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://w")
    routes = httpx.AsyncClient(transport=httpx.ASGITransport(app=routes_only), base_url="http://w")
    try:
        yield Stack(store, latest, fast, routes, passed_on), persistence
    finally:
        if persistence is not None:
            persistence.close()


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers.get("content-type") == b.headers.get("content-type")
    if a.status_code < 400:
        assert a.content == b.content
        assert a.headers.get("content-length") == b.headers.get("content-length")
    else:  # Result bodies carry a timestamp
        texts = [[(m["code"], m["text"]) for m in r.json()["messages"]] for r in (a, b)]
        assert texts[0] == texts[1]


HOT_READS = [
    f"{API}/shells",
    f"{API}/shells/{b64(REF.aas_id)}",
    OPERATIONAL,
    TECHNICAL,
    TEMPERATURE,
    CYCLE_TIME,
]


async def test_hot_reads_skip_fastapi_and_answer_as_the_routes() -> None:
    with stack() as (s, _):
        for url in HOT_READS:
            fast = await s.fast.get(url)
            assert fast.status_code == 200, (url, fast.text)
            same_answer(fast, await s.routes.get(url))
        assert s.passed_on == []
        assert (await s.fast.get(TEMPERATURE)).json() == {
            "temperature": s.latest[REF.signal_path("temperature")].value
        }


@pytest.mark.parametrize(
    "url",
    [
        f"{API}/shells?limit=1",
        f"{API}/shells/$reference",
        f"{API}/shells/not*base64",
        f"{API}/shells/{b64('urn:no:such:shell')}",
        f"{API}/submodels/$metadata",
        f"{API}/submodels/{b64('urn:no:such:submodel')}",
        f"{OPERATIONAL}?level=core",
        f"{OPERATIONAL}/submodel-elements/no_such_element/$value",
        f"{OPERATIONAL}/submodel-elements/temperature..x/$value",
        f"{OPERATIONAL}/submodel-elements/temperature",
        f"{API}/shells/{b64(REF.aas_id)}/submodels/{b64(REF.aas_id + '/submodels/OperationalData')}",
        f"{API}/no-such-path",
    ],
)
async def test_everything_else_is_passed_to_the_routes(url: str) -> None:
    with stack() as (s, _):
        fast = await s.fast.get(url)
        same_answer(fast, await s.routes.get(url))
        assert s.passed_on == [("GET", url.split("?")[0])]


async def test_reads_show_a_new_sample_and_an_acknowledged_write_at_once() -> None:
    with stack() as (s, _):
        path = REF.signal_path("temperature")
        for url in HOT_READS:  # every view made and kept
            await s.fast.get(url)
        s.latest[path] = Sample(path, T, 77.5)
        assert (await s.fast.get(TEMPERATURE)).json() == {"temperature": 77.5}
        sm = (await s.fast.get(OPERATIONAL)).json()
        assert next(e for e in sm["submodelElements"] if e["idShort"] == "temperature")["value"] == "77.5"
        s.latest[path] = Sample(path, T, 3)  # a new type: the Property's valueType follows the sample
        sm = (await s.fast.get(OPERATIONAL)).json()
        temperature = next(e for e in sm["submodelElements"] if e["idShort"] == "temperature")
        assert (temperature["value"], temperature["valueType"]) == ("3", "xs:long")
        same_answer(await s.fast.get(OPERATIONAL), await s.routes.get(OPERATIONAL))

        r = await s.fast.patch(CYCLE_TIME, content="42.5", headers=AUTH)
        assert r.status_code == 204 and r.content == b""
        assert (await s.fast.get(CYCLE_TIME)).json() == {"IdealCycleTime": 42.5}
        technical = (await s.fast.get(TECHNICAL)).json()
        assert '"value": "42.5"' in json.dumps(technical)
        r = await s.fast.patch(
            CYCLE_TIME, content='{"IdealCycleTime": 43}', headers=AUTH
        )  # the GET $value form
        assert r.status_code == 204
        for url in (CYCLE_TIME, TECHNICAL):
            same_answer(await s.fast.get(url), await s.routes.get(url))
        assert (await s.routes.get(CYCLE_TIME)).json() == {"IdealCycleTime": 43.0}
        assert s.passed_on == []


@pytest.mark.parametrize(
    ("url", "body", "headers", "status"),
    [
        (CYCLE_TIME, "41.0", {"Content-Type": "application/json"}, 401),
        (CYCLE_TIME, "41.0", {**AUTH, "Authorization": "Bearer wrong"}, 401),
        (CYCLE_TIME, '"not a number"', AUTH, 400),
        (CYCLE_TIME, "{not json", AUTH, 400),
        (CYCLE_TIME, "", AUTH, 400),
        (TEMPERATURE, "41.0", AUTH, 409),  # bound to a live signal
        (f"{TECHNICAL}/submodel-elements/TechnicalPropertyAreas[0]/$value", "{}", AUTH, 204),  # a collection
        (f"{TECHNICAL}/submodel-elements/no_such/$value", "41.0", AUTH, 404),
        (f"{API}/submodels/{b64('urn:no:such')}/submodel-elements/x/$value", "41.0", AUTH, 404),
    ],
)
async def test_a_patch_the_fast_path_does_not_take_is_the_routes(
    url: str, body: str, headers: dict[str, str], status: int
) -> None:
    with stack() as (s, _):
        before = (await s.routes.get(TECHNICAL)).content
        fast = await s.fast.patch(url, content=body, headers=headers)
        assert fast.status_code == status, fast.text
        assert s.passed_on == [("PATCH", url)]
        if status >= 400:
            assert (await s.routes.get(TECHNICAL)).content == before
        same_answer(fast, await s.routes.patch(url, content=body, headers=headers))


async def test_with_werk_roles_the_fast_path_writes_for_a_supervisor_and_the_routes_refuse_the_rest() -> None:
    """As werk serve builds it: the guard of server.users, checked from the header alone by the fast path."""
    users = [
        UserConfig(name="sue", role="supervisor", token_sha256=token_digest("sup-token")),
        UserConfig(name="otto", role="operator", token_sha256=token_digest("op-token")),
    ]
    authenticator = Authenticator(ServerConfig(users=users))
    store = TwinStore(build_environment(CONFIG))
    api = aas_api(store, authorize=lambda header: authenticator.authorize(header, "supervisor"))
    passed_on: list[str] = []

    def spy(inner: ASGIApp) -> ASGIApp:
        async def spied(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                passed_on.append(scope["method"])
            await inner(scope, receive, send)

        return spied

    app = FastAPI()
    for router in api.routers:
        app.include_router(router)
    served = api.fast_path(spy(app))
    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://w") as client:
        for token, status in (("op-token", 403), ("nobody", 401), (None, 401)):
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            r = await client.patch(CYCLE_TIME, content="40.5", headers={**json_type, **auth})
            assert r.status_code == status, (token, r.text)
        assert passed_on == ["PATCH"] * 3  # each refusal in the route's words
        auth = {"Authorization": "Bearer sup-token"}
        assert (
            await client.patch(CYCLE_TIME, content="41.5", headers={**json_type, **auth})
        ).status_code == 204
        assert passed_on == ["PATCH"] * 3  # taken by the fast path
        assert (await client.get(CYCLE_TIME)).json() == {"IdealCycleTime": 41.5}


async def test_middleware_put_in_front_of_the_app_after_the_fast_path_wraps_its_answers() -> None:
    """CORS and compression that must see every answer go in front of the app as the fast path does
    (werk.api.http_server.add_front), after it: outside it, so its answers pass through them too."""
    store = TwinStore(build_environment(CONFIG))
    app = mount(FastAPI(), aas_api(store, tokens={TOKEN}))
    add_front(app, lambda inner: CORSMiddleware(inner, allow_origins=["http://dashboard"]))
    add_front(app, lambda inner: GZipMiddleware(inner, minimum_size=10))
    served = assemble(app, ServerConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://w") as client:
        r = await client.get(
            f"{API}/shells", headers={"Origin": "http://dashboard", "Accept-Encoding": "gzip"}
        )
    assert r.status_code == 200 and r.json()["result"]
    assert r.headers["access-control-allow-origin"] == "http://dashboard"
    assert r.headers["content-encoding"] == "gzip"


async def test_a_read_while_a_writer_holds_the_lock_waits_for_it_off_the_loop() -> None:
    with stack() as (s, _):
        held, release = threading.Event(), threading.Event()

        def writer() -> None:  # another thread: the store's lock is reentrant
            with s.store.lock:
                held.set()
                release.wait(10)

        threading.Thread(target=writer).start()
        held.wait()
        tick = 0

        async def ticker() -> None:  # lets the writer go only after the loop ran five times during the read
            nonlocal tick
            while True:
                await asyncio.sleep(0.01)
                tick += 1
                if tick == 5:
                    release.set()

        t = asyncio.create_task(ticker())
        r = await s.fast.get(OPERATIONAL)
        t.cancel()
        release.set()
        assert r.status_code == 200
        assert tick >= 5  # the event loop ran meanwhile
        assert s.passed_on == [("GET", OPERATIONAL)]


def stored_value(db: Path, submodel_id: str, id_short: str) -> Any:
    p = TwinPersistence(db)
    try:
        sm = next(o for o in p.load() if o.id == submodel_id)
    finally:
        p.close()
    assert isinstance(sm, model.Submodel)

    def walk(els: Any) -> Any:
        for el in els:
            if el.id_short == id_short:
                return el.value
            if isinstance(el, model.SubmodelElementCollection | model.SubmodelElementList):
                found = walk(el.value)
                if found is not None:
                    return found
        return None

    return walk(sm.submodel_element)


async def test_an_acknowledged_write_is_in_the_file(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    technical = REF.aas_id + "/submodels/TechnicalData"
    with stack(db) as (s, _):
        assert (await s.fast.patch(CYCLE_TIME, content="12.5", headers=AUTH)).status_code == 204
        assert (
            stored_value(db, technical, "IdealCycleTime") == 12.5
        )  # read by another connection, before close
        # the routes' writes wait for the file too
        assert (await s.routes.patch(CYCLE_TIME, content="13.5", headers=AUTH)).status_code == 204
        assert stored_value(db, technical, "IdealCycleTime") == 13.5
        shell = f"{API}/shells/{b64(REF.aas_id)}"
        body = (await s.fast.get(shell)).json()
        assert (await s.fast.delete(shell, headers=AUTH)).status_code == 204
        other = TwinPersistence(db)
        assert REF.aas_id not in {o.id for o in other.load()}
        assert REF.aas_id in other.deleted()  # the plant file must not bring it back
        # posted again: stored, and no longer a tombstone (the writer's own record of them is kept up to date)
        assert (await s.fast.post(f"{API}/shells", json=body, headers=AUTH)).status_code == 201
        assert REF.aas_id in {o.id for o in other.load()}
        assert REF.aas_id not in other.deleted()
        assert (await s.fast.delete(shell, headers=AUTH)).status_code == 204
        assert REF.aas_id in other.deleted()
        other.close()


async def test_concurrent_writes_share_transactions_and_the_last_one_wins(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    with stack(db) as (s, persistence):
        assert persistence is not None and persistence.writer is not None
        answers = await asyncio.gather(
            *(s.fast.patch(CYCLE_TIME, content=f"{100 + i}.5", headers=AUTH) for i in range(60))
        )
        assert [r.status_code for r in answers] == [204] * 60
        assert s.passed_on == []
        assert 1 <= persistence.writer.batches < 60
        held = (await s.fast.get(CYCLE_TIME)).json()["IdealCycleTime"]
        assert stored_value(db, REF.aas_id + "/submodels/TechnicalData", "IdealCycleTime") == held


async def test_a_write_that_could_not_be_stored_is_not_acknowledged_and_is_stored_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is locked by another program (a backup tool, say) for longer than the writer waits for it."""
    monkeypatch.setattr(GroupCommit, "RETRY_S", 0.05)
    db = tmp_path / "werk.db"
    with stack(db, busy_timeout_s=0.2) as (s, persistence):
        assert persistence is not None and persistence.writer is not None
        locker = sqlite3.connect(db, timeout=0, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            r = await s.fast.patch(CYCLE_TIME, content="77.5", headers=AUTH)
            assert r.status_code == 500 and r.json()["messages"][0]["code"] == "500"
            assert persistence.writer.failures >= 1
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        async with asyncio.timeout(5):  # retried: what the twin holds reaches the file once it takes writes
            while stored_value(db, REF.aas_id + "/submodels/TechnicalData", "IdealCycleTime") != 77.5:
                await asyncio.sleep(0.02)
        assert (await s.fast.patch(CYCLE_TIME, content="78.5", headers=AUTH)).status_code == 204


async def test_a_writer_process_that_dies_fails_its_batch_and_another_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "RETRY_S", 0.05)
    db = tmp_path / "werk.db"
    with stack(db) as (s, persistence):
        writer = persistence.writer if persistence is not None else None
        assert writer is not None
        assert (await s.fast.patch(CYCLE_TIME, content="60.5", headers=AUTH)).status_code == 204
        first = writer._proc
        os.kill(first.pid, signal.SIGSTOP)  # it takes the next batch and never answers...
        patch = asyncio.create_task(s.fast.patch(CYCLE_TIME, content="61.5", headers=AUTH))
        async with asyncio.timeout(5):
            while writer._batch is None:
                await asyncio.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)  # ...and dies with it
        r = await patch
        assert r.status_code == 500  # not acknowledged: it was not stored
        async with asyncio.timeout(5):  # the twin holds 61.5, and a new writer process stores it
            while stored_value(db, REF.aas_id + "/submodels/TechnicalData", "IdealCycleTime") != 61.5:
                await asyncio.sleep(0.02)
        assert writer._proc is not None and writer._proc is not first and writer._proc.poll() is None
        assert (await s.fast.patch(CYCLE_TIME, content="62.5", headers=AUTH)).status_code == 204
        assert stored_value(db, REF.aas_id + "/submodels/TechnicalData", "IdealCycleTime") == 62.5


async def test_an_object_that_cannot_be_serialised_fails_its_write_but_not_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from werk.aas.backend import group_commit as persistence_module

    db = tmp_path / "werk.db"
    technical = REF.aas_id + "/submodels/TechnicalData"
    rows = persistence_module.rows

    def technical_data_breaks(changes: Any) -> Any:
        if any(ident == technical for ident, _ in changes):
            raise ValueError("basyx cannot write this")
        return rows(changes)

    with stack(db) as (s, _):
        monkeypatch.setattr(persistence_module, "rows", technical_data_breaks)
        # a write of the whole submodel (a value alone is stored without serialising it)
        whole = f"{TECHNICAL}/submodel-elements/TechnicalPropertyAreas[0]/$value"
        r = await s.fast.patch(whole, json={"IdealCycleTime": 55.5}, headers=AUTH)
        assert r.status_code == 500
        shell = f"{API}/shells/{b64(REF.aas_id)}"
        assert (await s.fast.delete(shell, headers=AUTH)).status_code == 204  # later writes are not held up
        assert REF.aas_id in TwinPersistence(db).deleted()
        monkeypatch.setattr(persistence_module, "rows", rows)
        assert (await s.fast.patch(CYCLE_TIME, content="56.5", headers=AUTH)).status_code == 204
        assert stored_value(db, technical, "IdealCycleTime") == 56.5
