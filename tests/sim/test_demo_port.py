"""``werk demo --port``: the simulated machines follow the plan of the werk beside them, on its port."""

from __future__ import annotations

import argparse

from werk.cli import _plan_here, _with_server
from werk.config import demo_config_path, load_config
from werk.sim.spec import sim_of


def test_the_demo_on_another_port_has_its_machines_follow_its_own_plan() -> None:
    config = load_config(demo_config_path())
    sim = sim_of(config)
    assert sim is not None and sim.follow_plan is not None and ":8080/" in sim.follow_plan
    moved = sim_of(_plan_here(_with_server(config, argparse.Namespace(port=18231, workers=None))))
    assert moved is not None and moved.follow_plan == sim.follow_plan.replace(":8080/", ":18231/")
    # on the file's own port nothing changes
    assert _plan_here(config) is config
