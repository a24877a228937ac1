"""The AAS layer against external references: the aas-core3.0 test corpus, the IDTA templates, the IDTA test engine.

    python benchmarks/aas_corpus.py [--no-engine] [--quick]

References, none of them written by werk:

- the corpus (aas-core-works/aas-core3.0-testgen, in ../shared/data/aas/core3-testgen): every document under
  ``Unexpected`` must be refused with a 4xx and a message, every ``Expected`` environment must round-trip with its values. All of
  them go through a real uvicorn server's ``POST /api/v3.0/werk/import`` and ``GET /api/v3.0/serialization``;
- the IDTA submodel templates (../shared/data/aas/templates): counts per list against a plain JSON / XML count;
- aas-test-engines (PyPI, the IDTA's official tool): the AAS repository and submodel repository read profiles.

Goal: every negative case refused (corpus ``Unexpected``, the engine's negative tests) and every positive one passed
(corpus ``Expected`` round-trips with its values, every template loads, if need be with ``duplicates="keep-first"``,
the engine's positive tests). ``--quick``: every tenth corpus document and the submodel repository profile alone.
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

from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.errors import AasError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the server and the comparisons are the tests' own
from tests.aas.aas_app import aas_api, mount  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "aas"
CORPUS = DATA / "core3-testgen" / "test_data" / "Json"
TOKEN = "benchmark"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
console = Console(width=150)


ROUND_TRIPS = (
    "round-trip, byte-for-byte equal JSON",
    "round-trip, same values in canonical form (e.g. '+1' -> '1', defaults written)",
)


async def corpus(client: httpx.AsyncClient, store: TwinStore, step: int) -> dict[str, Counter[str]]:
    from tests.aas.adapter.corpus_values import value_changes  # the same comparison as the corpus test

    out: dict[str, Counter[str]] = {"Unexpected": Counter(), "Expected": Counter()}
    for path in sorted(CORPUS.glob("**/Unexpected/**/*.json"))[::step]:
        store.objects = model.DictIdentifiableStore()
        r = await client.post("/werk/import", content=path.read_bytes(), headers=AUTH)
        ok = 400 <= r.status_code < 500 and bool(r.json()["messages"][0]["text"])
        out["Unexpected"]["refused with 4xx + message" if ok else "ACCEPTED"] += 1
    expected = sorted(CORPUS.glob("ContainedInEnvironment/Expected/**/*.json"))
    expected += sorted(CORPUS.glob("SelfContained/Expected/Environment/*.json"))
    for path in expected[::step]:
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
            out["Expected"][ROUND_TRIPS[0]] += 1
        else:
            out["Expected"][ROUND_TRIPS[1]] += 1
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


async def main(run_engine: bool, quick: bool) -> list[str]:
    """Print the figures; return what failed the goal (nothing when it is met)."""
    console.print(f"machine: {platform.machine()}, Python {platform.python_version()}, {platform.platform()}")
    failed: list[str] = []
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
            result = await corpus(client, store, 10 if quick else 1)
            elapsed = time.perf_counter() - t0
        n = sum(sum(c.values()) for c in result.values())
        if not n:
            failed.append(f"no corpus documents under {CORPUS}")
        console.print(f"\n[bold]aas-core3.0 test corpus over HTTP[/] ({n} documents, {elapsed:.1f} s)")
        for kind, counts in result.items():
            for outcome, k in counts.most_common():
                console.print(f"  {kind:10} {k:5}  {outcome}")
                if outcome == "ACCEPTED" or (kind == "Expected" and outcome not in ROUND_TRIPS):
                    failed.append(f"corpus {kind}: {k} {outcome}")
        console.print("  reference: Unexpected all refused; Expected all round-trip")

        console.print("\n[bold]IDTA submodel templates[/] (counts checked in tests/twin/test_twin_io.py)")
        for name, line in templates():
            console.print(f"  {name}: {line}")
            if line.startswith("REFUSED"):
                failed.append(f"template {name} refused")

        if run_engine:
            from tests.aas.http.test_engines import SUITES, engine_store, run_suite

            engine_app = FastAPI()
            mount(engine_app, aas_api(engine_store(), tokens=()))
            server.should_exit = True
            await task
            server = uvicorn.Server(uvicorn.Config(engine_app, host="127.0.0.1", port=0, log_level="warning"))
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            console.print("\n[bold]aas-test-engines[/] (reference: all tests pass)")
            for suite in SUITES[-1:] if quick else SUITES:
                ok, found, _ = await asyncio.to_thread(run_suite, f"http://127.0.0.1:{port}/api/v3.0", suite)
                console.print(
                    f"  {suite.rsplit('/', 2)[-2]}: negative {found['negative_passed']}/"
                    f"{found['negative_total']}, positive {found['positive_passed']}/"
                    f"{found['positive_total']}, {'ok' if ok else 'NOT ok'}"
                )
                passed = found["negative_passed"] + found["positive_passed"]
                total = found["negative_total"] + found["positive_total"]
                if not ok or passed < total:
                    failed.append(f"engine {suite.rsplit('/', 2)[-2]}: {passed}/{total}")
    finally:
        server.should_exit = True
        await task
    return failed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-engine", action="store_true", help="skip the aas-test-engines run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every tenth corpus document, one engine profile (a check, not a figure)",
    )
    args = parser.parse_args()
    absent = [str(d) for d in (CORPUS, DATA / "templates") if not d.is_dir()]
    if absent:
        sys.exit(f"AAS reference data not found: {', '.join(absent)} (see ../shared/data/README.md).")
    if not args.no_engine and importlib.util.find_spec("aas_test_engines") is None:
        sys.exit("aas-test-engines is not installed (pip install aas-test-engines), or run with --no-engine.")
    if args.quick:
        console.print(
            "quick run: every tenth corpus document, the submodel repository profile alone "
            "(a check, not the figure of record)"
        )
    failures = asyncio.run(main(not args.no_engine, args.quick))
    what = "goal every negative case refused and every positive passed"
    print(f"{what}: not met ({'; '.join(failures)})" if failures else f"{what}: met")
