"""The machine state where the app is served (a cluster's API replica): what the running instance in a worker
published into the log, as the replica's live values have it, not the served instance's own (it is fed nothing)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.apps.test_event_keys import M1, PLANT, at, context, werk_file  # noqa: F401 - werk_file: a fixture
from werk.apps.machine_state.app import MachineStateApp
from werk.config import parse_config
from werk.core.model import Sample
from werk.store.sqlite_file import SQLiteFile


def test_a_served_machine_state_shows_what_the_workers_published(
    werk_file: SQLiteFile,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    live: dict[str, Sample] = {}
    ctx = replace(
        context("machine_state", parse_config(PLANT), werk_file, tmp_path), served="workers", live=live
    )
    served = MachineStateApp(ctx)
    assert served.asset_view("m1")["state"] == "disconnected"  # nothing published yet: not "running"

    live[f"{M1}/machine_state"] = Sample(f"{M1}/machine_state", at(3), "fault")
    view = served.asset_view("m1")
    assert (view["state"], view["since"]) == ("fault", at(3).isoformat())
    assert served.snapshot()["m1"]["state"] == "fault"

    live[f"{M1}/machine_state"] = Sample(f"{M1}/machine_state", at(5), "running")
    assert served.asset_view("m1")["state"] == "running"
