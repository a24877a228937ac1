"""The apps' events carry keys from what caused them: the same samples fed twice, each time to a fresh instance of
the app over the same tables (a batch handled again after another instance took the assets over), leave every event
in the historian once; different input leaves different events. Each app runs through its bus consumer, the code
``werk serve`` runs, and its published events go to the historian as the historian's writer would put them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.apps.test_alarms_app import COOLANT, alarm_config
from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.store import MIGRATIONS as ALARM_MIGRATIONS
from werk.apps.machine_state.app import MachineStateApp
from werk.apps.maintenance.health import Warning
from werk.apps.maintenance.replay import offline_app, replay
from werk.apps.oee.app import OeeApp
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.spec import AppContext
from werk.bus.memory import MemoryBus
from werk.config import WerkConfig, demo_config_path, load_config, parse_config
from werk.core.model import Event, Sample, to_micros
from werk.sim.factory import Factory
from werk.store import SQLiteHistorian
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
PLANT = """\
plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: mill, ideal_cycle_s: 30}}}}}}}}}}
"""
M1 = "acme/s/a/l/c/m1"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def werk_file(tmp_path: Path) -> Iterator[SQLiteFile]:
    """One werk file: the historian's tables and the apps' own, shared by every instance of an app in a test."""
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    yield file
    file.close()


def context(name: str, config: WerkConfig, file: SQLiteFile, tmp_path: Path) -> AppContext:
    historian = SQLiteHistorian(file)
    historian.open()
    return AppContext(
        name=name,
        config=config,
        settings=config.app(name),
        bus=MemoryBus(),
        historian=historian,
        db=SQLiteAppDatabase(file),
        live={},
        data_dir=tmp_path,
        clock=lambda: T0,
    )


async def consumed(
    ctx: AppContext, consume: Callable[[Any], Any], batches: list[list[Sample]]
) -> list[Event]:
    """Run an app's bus consumer over ``batches``; the events it published, stored in the historian."""
    events = ctx.bus.subscribe_events()

    async def feed() -> AsyncIterator[list[Sample]]:
        for b in batches:
            yield b

    await consume(feed())
    events.close()
    out = [e async for batch in events for e in batch]
    assert ctx.historian is not None
    ctx.historian.write_events(out)
    return out


def stored(file: SQLiteFile, kind: str) -> list[Event]:
    """The historian's events of ``kind``, oldest first."""
    return sorted(SQLiteHistorian(file).query_events(kinds=[kind]), key=lambda e: (e.ts, e.key or ""))


async def test_state_changes_fed_twice_are_stored_once(werk_file: SQLiteFile, tmp_path: Path) -> None:
    config = parse_config(PLANT)
    batches = [
        [Sample(f"{M1}/state", at(1), "running")],
        [Sample(f"{M1}/state", at(2), "idle"), Sample(f"{M1}/state", at(3), "running")],
    ]

    def fresh() -> tuple[AppContext, MachineStateApp]:
        ctx = context("machine_state", config, werk_file, tmp_path)
        return ctx, MachineStateApp(ctx)

    ctx, app = fresh()
    first = await consumed(ctx, app._consume, batches)
    ctx, app = fresh()  # another instance takes the asset over and gets the same batches again
    again = await consumed(ctx, app._consume, batches)
    assert [e.data["to"] for e in first] == ["running", "idle", "running"]
    assert [e.key for e in again] == [e.key for e in first] and None not in {e.key for e in first}
    assert [(e.ts, e.data["to"]) for e in stored(werk_file, "state")] == [
        (at(1), "running"),
        (at(2), "idle"),
        (at(3), "running"),
    ]
    ctx, app = fresh()  # new input is new events
    await consumed(ctx, app._consume, [[Sample(f"{M1}/state", at(4), "idle")]])
    assert len(stored(werk_file, "state")) == 4


async def test_downtime_events_fed_twice_are_stored_once(werk_file: SQLiteFile, tmp_path: Path) -> None:
    config = parse_config(PLANT)
    SQLiteAppDatabase(werk_file).migrate("oee", OEE_MIGRATIONS)
    path = f"{M1}/machine_state"
    batches = [
        [Sample(path, at(0), "running"), Sample(path, at(10), "fault")],
        [Sample(path, at(15), "maintenance")],
        [Sample(path, at(20), "running"), Sample(path, at(30), "idle"), Sample(path, at(31), "running")],
    ]

    def fresh() -> tuple[AppContext, OeeApp]:
        ctx = context("oee", config, werk_file, tmp_path)
        return ctx, OeeApp(ctx)

    ctx, app = fresh()
    first = await consumed(ctx, app._consume, batches)
    ctx, app = fresh()
    again = await consumed(ctx, app._consume, batches)
    assert [e.key for e in again] == [e.key for e in first]
    # the fault opened, went on into maintenance, ended; the idle minute opened and ended in one batch
    assert [(e.data["id"], e.data["what"]) for e in stored(werk_file, "downtime")] == [
        (f"m1@{to_micros(at(10))}", "changed"),
        (f"m1@{to_micros(at(10))}", "changed"),
        (f"m1@{to_micros(at(10))}", "changed"),
        (f"m1@{to_micros(at(30))}", "changed"),
    ]
    assert len(app.store.query_stops(asset="m1")) == 2  # the stops themselves are upserted by id


async def test_fed_from_the_log_an_instance_takes_up_where_the_last_one_left_off(
    werk_file: SQLiteFile, tmp_path: Path
) -> None:
    """A cluster's app host (``ctx.from_log``): the next instance over the same assets continues the state machine
    from the store. A state that goes on is no new change; a stop the last instance stored and was killed before
    its event was stored gets its event, and the batch delivered again finds the stop as it left it."""
    config = parse_config(PLANT)
    SQLiteAppDatabase(werk_file).migrate("oee", OEE_MIGRATIONS)
    state = f"{M1}/state"

    def machine_state() -> tuple[AppContext, MachineStateApp]:
        ctx = replace(context("machine_state", config, werk_file, tmp_path), from_log=True)
        return ctx, MachineStateApp(ctx)

    ctx, app = machine_state()
    await consumed(ctx, app._consume, [[Sample(state, at(1), "running")], [Sample(state, at(2), "idle")]])
    ctx, app = machine_state()  # a takeover: idle goes on, then the asset runs again
    later = await consumed(
        ctx, app._consume, [[Sample(state, at(2.5), "idle")], [Sample(state, at(3), "running")]]
    )
    assert [(e.data["from"], e.data["to"]) for e in later] == [("idle", "running")]
    assert [(e.ts, e.data["to"]) for e in stored(werk_file, "state")] == [
        (at(1), "running"),
        (at(2), "idle"),
        (at(3), "running"),
    ]

    path = f"{M1}/machine_state"
    ctx = replace(context("oee", config, werk_file, tmp_path), from_log=True)
    killed = OeeApp(ctx)
    await consumed(ctx, killed._consume, [[Sample(path, at(0), "running"), Sample(path, at(10), "fault")]])
    killed.store.upsert_stops(killed.feed([Sample(path, at(15), "maintenance")]))  # its event never written
    ctx = replace(context("oee", config, werk_file, tmp_path), from_log=True)
    app = OeeApp(ctx)

    async def resumed(feed: Any) -> None:
        await app._resume(app.store.last_stops(list(app.refs)))
        await app._consume(feed)

    await consumed(
        ctx,
        resumed,
        [
            [
                Sample(path, at(15), "maintenance")
            ],  # the batch the killed instance had not acknowledged, again
            [Sample(path, at(20), "running")],
        ],
    )
    stop = f"m1@{to_micros(at(10))}"
    assert [(e.data["id"], e.key.rsplit("/", 2)[-2:]) for e in stored(werk_file, "downtime") if e.key] == [
        (stop, ["open", "1"]),
        (stop, ["open", "2"]),
        (stop, [str(to_micros(at(20))), "2"]),
    ]
    (kept,) = app.store.query_stops(asset="m1")
    assert kept.states == ["fault", "maintenance"] and kept.end == at(20)


async def test_alarm_events_fed_twice_are_stored_once(werk_file: SQLiteFile, tmp_path: Path) -> None:
    config = alarm_config(tmp_path)
    SQLiteAppDatabase(werk_file).migrate("alarms", ALARM_MIGRATIONS)
    path = config.asset("cnc-1").signal_path("coolant_level")
    batches = [
        [Sample(path, at(1), 50.0), Sample(path, at(2), 10.0)],  # low: raised
        [Sample(path, at(3), 30.0)],  # back over limit + deadband: returns to normal unacknowledged
    ]

    def fresh() -> tuple[AppContext, AlarmsApp]:
        ctx = context("alarms", config, werk_file, tmp_path)
        app = AlarmsApp(ctx)
        app.engine.start(T0)
        return ctx, app

    ctx, app = fresh()
    first = [e for e in await consumed(ctx, app._consume, batches) if e.data["id"] == COOLANT]
    ctx, app = fresh()
    again = [e for e in await consumed(ctx, app._consume, batches) if e.data["id"] == COOLANT]
    assert len(first) >= 2 and [e.key for e in again] == [e.key for e in first]
    kept = [e for e in stored(werk_file, "alarm") if e.data["id"] == COOLANT]
    assert [(e.ts, e.data["to"]) for e in kept] == [(e.ts, e.data["to"]) for e in first]


async def test_health_events_and_warnings_fed_twice_are_stored_once(tmp_path: Path) -> None:
    config = load_config(demo_config_path())
    settings = config.app("maintenance").model_copy(
        update={"auto_train": False, "models_dir": str(tmp_path / "models")}
    )
    config = config.model_copy(update={"apps": config.apps.model_copy(update={"maintenance": settings})})
    batches: list[list[Sample]] = []
    recorder, recorded = offline_app(config, tmp_path / "recorded.db")  # only to record the factory's batches
    for _ in replay(recorder, Factory(config, T0), 900, assets={"press-1"}, on_batch=batches.append):
        pass
    recorded.close()
    warning = Warning("anomaly", {"score": 30.0}, "raised", at_s=at(5).timestamp())
    cleared = Warning("anomaly", {"score": 2.0}, "cleared", at_s=at(6).timestamp())
    first: list[Event] = []
    for _ in range(2):  # the second instance over the same tables and historian, as after a takeover
        app, file = offline_app(config, tmp_path / "werk.db")
        try:
            got = await consumed(app.ctx, app._consume, batches)
            for w in (warning, cleared):
                got += await consumed(app.ctx, lambda _, a=app, w=w: a._warn("press-1", w), [])
            # the work order took each warning once: opened by the first, cleared once, counted once
            (wo,) = app.store.query_work_orders(asset="press-1")
            assert (wo.count, [h["event"] for h in wo.history]) == (1, ["cleared"])
        finally:
            file.close()
        first = first or got
        assert [e.key for e in got] == [e.key for e in first]
    assert None not in {e.key for e in first}
    assert {e.data.get("health_state") for e in first} >= {"learning"} and first[-1].data[
        "reason"
    ] == "anomaly"
    # a warning of another cycle is a new one: counted on the same order
    app, file = offline_app(config, tmp_path / "werk.db")
    try:
        await app._warn("press-1", Warning("anomaly", {"score": 31.0}, "raised", at_s=at(7).timestamp()))
        (wo,) = app.store.query_work_orders(asset="press-1")
        assert (wo.count, [h["event"] for h in wo.history]) == (2, ["cleared", "raised"])
    finally:
        file.close()
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    try:
        assert [e.key for e in stored(file, "maintenance")] == [e.key for e in first]
    finally:
        file.close()
