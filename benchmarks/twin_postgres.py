"""The twin on PostgreSQL (werk.aas.backend.pg_twin): what a durable change costs, and how soon another replica
serves it.

    python benchmarks/twin_postgres.py [--n 2000] [--pg postgresql://postgres@127.0.0.1:5432]

Two twins of the demo plant on one database stand for two ``werk api`` replicas (each its connections and its
listener thread, in one process here). Measured, through the store's hooks as the API's routes call them (no HTTP):

- a value written alone (PATCH ``$value`` of a Property), committed before the call returns: per write, and writes/s
  one after another; beside it the same write to the werk file, committed alone (``TwinPersistence.save_value``,
  ``synchronous=FULL``: what one write costs there without the group commit's batching);
- a submodel stored whole (a structural change, compare-and-set on the epoch);
- how long after a value's commit the other replica serves it (it takes its store's lock every 0.5 ms; median and
  99th percentile);
- the reference: a bare transaction on the same server (one row updated, committed: the server's fsync), the floor
  of any durable write there.

A database ``werk_bench_<random>`` is made on the server of ``--pg`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from basyx.aas import model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.config import WerkConfig, demo_config_path, load_config
from werk.twin.environment import build_environment
from werk.twin.plant import open_twin

PATH = "TechnicalPropertyAreas[0].IdealCycleTime"


def on_server(url: str) -> WerkConfig:
    config = load_config(demo_config_path())
    historian = config.historian.model_copy(update={"backend": "postgresql", "url": url})
    return config.model_copy(update={"historian": historian})


def target(store: TwinStore, sm_id: str = "") -> tuple[model.Submodel, model.Property]:
    sm = next(
        s for s in store.all(model.Submodel) if s.id == sm_id or (not sm_id and s.id_short == "TechnicalData")
    )
    prop = formats.resolve(sm, PATH)
    assert isinstance(prop, model.Property)
    return sm, prop


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def timed_values(store: TwinStore, n: int) -> list[float]:
    sm, prop = target(store)
    out = []
    for i in range(n):
        t = time.perf_counter()
        with store.lock:
            prop.value = float(i) + 0.5
            store.value_changed(sm, PATH, prop)
        out.append(time.perf_counter() - t)
    return out


def report(name: str, seconds: list[float]) -> None:
    total = sum(seconds)
    print(
        f"{name}: {len(seconds) / total:,.0f}/s one after another; per write p50 "
        f"{statistics.median(seconds) * 1000:.2f} ms, p99 {pct(seconds, 0.99) * 1000:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--pg", default=os.environ.get("WERK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    name = f"werk_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload]
    try:
        with psycopg.connect(f"{args.pg}/{name}", autocommit=True) as c:
            c.execute("CREATE TABLE probe (id integer PRIMARY KEY, n bigint)")
            c.execute("INSERT INTO probe VALUES (0, 0)")
            bare = []
            for _ in range(min(args.n, 500)):
                t = time.perf_counter()
                with c.transaction():
                    c.execute("UPDATE probe SET n = n + 1 WHERE id = 0")
                bare.append(time.perf_counter() - t)
            report("bare commit, PostgreSQL (reference)", bare)
        config = on_server(f"{args.pg}/{name}")
        a, twin_a = open_twin(config)
        b, twin_b = open_twin(config)
        try:
            report("value alone, PostgreSQL", timed_values(a, args.n))
            sm, _ = target(a)
            whole = []
            for i in range(max(args.n // 10, 50)):
                t = time.perf_counter()
                with a.lock:
                    sm.id_short = f"TechnicalData{i % 2}"
                    a.changed(sm)
                whole.append(time.perf_counter() - t)
            report("submodel whole, PostgreSQL", whole)
            lags = []
            _, prop = target(a, sm.id)
            for i in range(200):
                with a.lock:
                    prop.value = 1000.0 + i
                    a.value_changed(sm, PATH, prop)
                committed = time.perf_counter()
                while True:
                    with b.lock:
                        if target(b, sm.id)[1].value == 1000.0 + i:
                            break
                    time.sleep(0.0005)
                lags.append(time.perf_counter() - committed)
            print(
                f"served by the other replica after the commit: p50 {statistics.median(lags) * 1000:.1f} ms, "
                f"p99 {pct(lags, 0.99) * 1000:.1f} ms (n={len(lags)}, reloads {twin_b.reloads})"
            )
        finally:
            twin_a.close()
            twin_b.close()
    finally:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[call-overload]
    with tempfile.TemporaryDirectory() as tmp:
        lite = TwinPersistence(Path(tmp) / "werk.db")
        lite.save_all(list(build_environment(load_config(demo_config_path()))))
        store = TwinStore(lite.load(), on_value=lite.save_value)
        report("value alone, werk file (one commit each)", timed_values(store, args.n))
        lite.close()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
