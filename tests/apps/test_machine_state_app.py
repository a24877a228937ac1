"""The machine-state app keeps source time: a lagging clock, a clock that steps back, unmapped state values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from werk.apps.machine_state.app import MachineStateApp
from werk.apps.spec import AppContext
from werk.bus.memory import MemoryBus
from werk.config import parse_config
from werk.core.model import Sample
from werk.store import SQLiteHistorian
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

WERK_START = datetime(2026, 6, 1, 8, tzinfo=UTC)
PLANT = """\
plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: mill}}}}}}}}}}
"""
STATE = "acme/s/a/l/c/m1/state"
DERIVED = "acme/s/a/l/c/m1/machine_state"


def at(minutes: float) -> datetime:
    return WERK_START + timedelta(minutes=minutes)


@pytest.fixture
def app(tmp_path: Path) -> MachineStateApp:
    config = parse_config(PLANT)
    file = SQLiteFile(tmp_path / "w.db")
    file.open()
    historian = SQLiteHistorian(file)
    historian.open()
    ctx = AppContext(
        name="machine_state",
        config=config,
        settings=config.app("machine_state"),
        bus=MemoryBus(),
        historian=historian,
        db=SQLiteAppDatabase(file),
        live={},
        data_dir=tmp_path,
        clock=lambda: WERK_START,
    )
    a = MachineStateApp(ctx)
    a._stamp = {name: a._all("disconnected")[0].ts for name in a.mappers}  # what run() stamps at start
    return a


def timeline(app: MachineStateApp, batches: list[list[Sample]], tmp_path: Path) -> list[tuple[datetime, str]]:
    """Feed batches in arrival order, store what they derive, read the stored timeline back in time order."""
    h = SQLiteHistorian(tmp_path / "t.db")
    h.open()
    h.write_samples([Sample(DERIVED, WERK_START, "disconnected")])
    for batch in batches:
        samples, _ = app.feed(batch)
        h.write_samples(samples)
    out = [(s.ts, str(s.value)) for s in h.query_raw(DERIVED, at(-600), at(600))]
    h.close()
    return out


def test_a_source_lagging_werks_clock_keeps_its_own_times(app: MachineStateApp, tmp_path: Path) -> None:
    """The source's clock is 5 minutes behind werk's: its states go in at their own times, not all at werk's
    start, and werk's start stamp takes the state the source was in (no disconnected gap, no collapse)."""
    got = timeline(
        app,
        [
            [Sample(STATE, at(-5), "running")],
            [Sample(STATE, at(-3), "idle")],
            [Sample(STATE, at(-1), "running")],
        ],
        tmp_path,
    )
    assert got == [(at(-5), "running"), (at(-3), "idle"), (at(-1), "running"), (at(0), "running")]
    assert app.states["m1"] == "running" and app.since["m1"] == at(-1)
    later, _ = app.feed([Sample(STATE, at(2), "idle")])
    assert [(s.ts, s.value) for s in later] == [(at(2), "idle")]  # source time passed the stamp: as usual


def test_a_clock_that_steps_back_loses_no_state_change(app: MachineStateApp, tmp_path: Path) -> None:
    """After 10:30 the source's clock steps back an hour: the older changes are stored in order, the live state
    stays the one of the newest source time."""
    got = timeline(
        app,
        [
            [Sample(STATE, at(10), "running")],
            [Sample(STATE, at(30), "idle")],
            [Sample(STATE, at(-25), "running")],  # stepped back
            [Sample(STATE, at(-20), "idle")],
        ],
        tmp_path,
    )
    assert got == [
        (at(-25), "running"),
        (at(-20), "idle"),
        (at(0), "disconnected"),
        (at(10), "running"),
        (at(30), "idle"),
    ]
    assert (app.states["m1"], app.since["m1"]) == ("idle", at(30))
    samples, events = app.feed([Sample(STATE, at(31), "running")])
    assert [(s.ts, s.value) for s in samples] == [(at(31), "running")]
    assert events[0].data["from"] == "idle"


def test_unmapped_values_are_counted_shown_and_logged_once(
    app: MachineStateApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "werk.apps.machine_state.app")
    for i, v in enumerate(["stopped", "RUN", 3, True, "stopped", "running", "stopped"]):
        app.feed([Sample(STATE, at(i), v)])
    rows = app.asset_view("m1")["unmapped"]
    assert [(r["value"], r["count"]) for r in rows] == [("stopped", 3), (3, 1), ("RUN", 1), (True, 1)]
    assert rows[0]["signal"] == "state" and rows[0]["last_seen"] == at(6).isoformat()
    assert app.diagnostics() == {"unmapped": {"m1": rows}}
    logged = [r.getMessage() for r in caplog.records if "unmapped_value" in r.getMessage()]
    assert len(logged) == 4 and "value='stopped'" in logged[0]
