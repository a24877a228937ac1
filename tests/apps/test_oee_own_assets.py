"""An OEE instance that holds some of the plant's assets (a cluster's app host, over the partitions it leases)
takes up only their stops: the stops' table holds every asset's, and another asset's open stop must neither be
counted nor announced here (it crashed the instance's live round: the other asset has no place in its plant)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

from tests.apps.test_event_keys import at, context, werk_file  # noqa: F401 - werk_file: a fixture
from werk.apps.oee.app import OeeApp
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.config import parse_config
from werk.core.model import Sample
from werk.runtime.app_host import prune
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

PLANT = """\
plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {
    m1: {kind: mill, ideal_cycle_s: 30}, m2: {kind: mill, ideal_cycle_s: 30}}}}}}}}}}
"""
M2 = "acme/s/a/l/c/m2"


async def test_an_instance_over_some_assets_takes_up_only_their_open_stops(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    config = parse_config(PLANT)
    SQLiteAppDatabase(werk_file).migrate("oee", OEE_MIGRATIONS)
    whole = OeeApp(context("oee", config, werk_file, tmp_path))
    path = f"{M2}/machine_state"
    whole.store.upsert_stops(whole.feed([Sample(path, at(0), "running"), Sample(path, at(1), "fault")]))

    mine = prune(config, {"acme/s/a/l/c/m1"})
    ctx = replace(context("oee", mine, werk_file, tmp_path), from_log=True, clock=lambda: at(90))
    part = OeeApp(ctx)
    events = ctx.bus.subscribe_events()
    task = asyncio.create_task(part.run())
    await asyncio.sleep(
        0.5
    )  # loaded, resumed and one live round done (the m2 stop is long unqualified by now)
    assert not task.done(), task.exception()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    events.close()
    published = [e async for batch in events for e in batch]
    assert all(s.asset == "m1" for s in part.stops.values())
    assert all(e.source != M2 for e in published)
