"""The AAS layer against external references: the aas-core3.0 test corpus, the IDTA templates, the IDTA test engine.

    python benchmarks/aas_corpus.py [--no-engine]

References, none of them written by werk:

- the corpus (aas-core-works/aas-core3.0-testgen, in ../shared/data/aas/core3-testgen): every document under
  ``Unexpected`` must be refused with a 4xx and a message, every ``Expected`` environment must round-trip with its values. All of
  them go through a real uvicorn server's ``POST /api/v3.0/werk/import`` and ``GET /api/v3.0/serialization``;
- the IDTA submodel templates (../shared/data/aas/templates): counts per list against a plain JSON / XML count;
- aas-test-engines (PyPI, the IDTA's official tool): the AAS repository and submodel repository read profiles.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn
from basyx.aas import model
from fastapi import FastAPI
from rich.console import Console

from tests.aas.aas_app import aas_api, mount
from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.errors import AasError

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "aas"
CORPUS = DATA / "core3-testgen" / "test_data" / "Json"
TOKEN = "benchmark"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
console = Console(width=150)


async def corpus(client: httpx.AsyncClient, store: TwinStore) -> dict[str, Counter[str]]:
    sys.path.insert(0, str(REPO))
    from tests.aas.adapter.corpus_values import value_changes  # the same comparison as the corpus test

    out: dict[str, Counter[str]] = {"Unexpected": Counter(), "Expected": Counter()}
    for path in sorted(CORPUS.glob("**/Unexpected/**/*.json")):
        store.objects = model.DictIdentifiableStore()
        r = await client.post("/werk/import", content=path.read_bytes(), headers=AUTH)
        ok = 400 <= r.status_code < 500 and bool(r.json()["messages"][0]["text"])
        out["Unexpected"]["refused with 4xx + message" if ok else "ACCEPTED"] += 1
    expected = sorted(CORPUS.glob("ContainedInEnvironment/Expected/**/*.json"))
    expected += sorted(CORPUS.glob("SelfContained/Expected/Environment/*.json"))
    for path in expected:
        store.objects = model.DictIdentifiableStore()
        r = await client.post("/werk/import", content=path.read_bytes(), headers=AUTH)
        if r.status_code != 201:
            out["Expected"][f"REFUSED {r.status_code}"] += 1
            continue
        first = (await client.get("/serialization")).json()
        store.objects = model.DictIdentifiableStore()
        await client.post("/werk/import", content=json.dumps(first), headers=AUTH)
        second = (await client.get("/serialization")).json()
        original = {k: v for k, v in json.loads(path.read_text()).items() if v}
        if second != first:
            out["Expected"]["NOT A FIXPOINT"] += 1
        elif value_changes(original, first):
            out["Expected"]["VALUES CHANGED"] += 1
        elif first == original:
            out["Expected"]["round-trip, byte-for-byte equal JSON"] += 1
        else:
            out["Expected"][
                "round-trip, same values in canonical form (e.g. '+1' -> '1', defaults written)"
            ] += 1
    return out


def templates() -> list[tuple[str, str]]:
    rows = []
    for path in sorted((DATA / "templates").iterdir()):
        try:
            rep = aas_io.read_file(path).report
            rows.append((path.name, f"{rep.metamodel}: {rep.loaded}, {rep.elements} model objects"))
        except AasError as exc:
            try:
                rep = aas_io.read_file(path, duplicates="keep-first").report
                rows.append((path.name, f"refused by default ({str(exc)[:60]}...); keep-first: {rep.loaded}"))
            except AasError as exc2:
                rows.append((path.name, f"REFUSED: {exc2}"))
    return rows


async def main(run_engine: bool) -> None:
    console.print(f"machine: {platform.machine()}, Python {platform.python_version()}, {platform.platform()}")
    store = TwinStore()
    app = FastAPI()
    mount(app, aas_api(store, tokens={TOKEN}))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v3.0"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            t0 = time.perf_counter()
            result = await corpus(client, store)
            elapsed = time.perf_counter() - t0
        n = sum(sum(c.values()) for c in result.values())
        console.print(f"\n[bold]aas-core3.0 test corpus over HTTP[/] ({n} documents, {elapsed:.1f} s)")
        for kind, counts in result.items():
            for outcome, k in counts.most_common():
                console.print(f"  {kind:10} {k:5}  {outcome}")
        console.print("  reference: Unexpected all refused; Expected all round-trip")

        console.print("\n[bold]IDTA submodel templates[/] (counts checked in tests/twin/test_twin_io.py)")
        for name, line in templates():
            console.print(f"  {name}: {line}")

        if run_engine:
            if importlib.util.find_spec("aas_test_engines") is None:
                console.print("\n[yellow]aas-test-engines not installed: pip install aas-test-engines[/]")
            else:
                sys.path.insert(0, str(REPO))
                from tests.aas.http.test_engines import SUITES, engine_store, run_suite

                engine_app = FastAPI()
                mount(engine_app, aas_api(engine_store(), tokens=()))
                server.should_exit = True
                await task
                server = uvicorn.Server(
                    uvicorn.Config(engine_app, host="127.0.0.1", port=0, log_level="warning")
                )
                task = asyncio.create_task(server.serve())
                while not server.started:
                    await asyncio.sleep(0.02)
                port = server.servers[0].sockets[0].getsockname()[1]
                console.print("\n[bold]aas-test-engines[/] (reference: all tests pass)")
                for suite in SUITES:
                    ok, counts, _ = await asyncio.to_thread(
                        run_suite, f"http://127.0.0.1:{port}/api/v3.0", suite
                    )
                    console.print(
                        f"  {suite.rsplit('/', 2)[-2]}: negative {counts['negative_passed']}/"
                        f"{counts['negative_total']}, positive {counts['positive_passed']}/"
                        f"{counts['positive_total']}, {'ok' if ok else 'NOT ok'}"
                    )
    finally:
        server.should_exit = True
        await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-engine", action="store_true", help="skip the aas-test-engines run")
    asyncio.run(main(not parser.parse_args().no_engine))
