"""The cluster's command-line roles: what ``werk api`` runs of a plant file, and what it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import plant_config
from werk.cli import main
from werk.config import demo_config_path, load_config
from werk.errors import ConfigError, WriteRefused
from werk.runtime.platform import Platform

REPO = Path(__file__).resolve().parents[2]


def test_werk_api_refuses_a_plant_whose_historian_is_not_shared() -> None:
    assert main(["api", "-c", str(demo_config_path())]) == 2


def test_the_cluster_plant_script_writes_a_valid_plant_on_postgresql(tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "cluster-plant"),
            "--pg",
            "postgresql://db/werk",
            "-o",
            str(out),
            "--port-offset",
            "100",
        ],
        check=True,
        capture_output=True,
    )
    config = load_config(out)
    assert (config.historian.backend, config.historian.url) == ("postgresql", "postgresql://db/werk")
    assert config.cluster.nats == "nats://127.0.0.1:4222" and config.server.port == 8180
    assert config.cluster.apps  # the workers run the apps, the replicas serve their pages
    assert config.connectors.keys() == load_config(demo_config_path()).connectors.keys()


async def test_an_api_replica_refuses_a_write_to_a_machine_it_does_not_read(tmp_path: Path) -> None:
    platform = Platform(plant_config(tmp_path), live_from_log=True)
    platform.connectors = []  # as werk api starts it (werk.cli._run, connect=False)
    path = next(p for p in platform._writable)
    with pytest.raises(WriteRefused, match="does not run in this process"):
        await platform.write_signal(path, 50.0, "tester")


async def test_several_processes_on_one_port_are_refused_where_the_twin_is_on_postgresql(
    tmp_path: Path,
) -> None:
    """Their workers share the twin through the werk file's writer; replicas share it through the server."""
    config = plant_config(tmp_path)
    historian = config.historian.model_copy(
        update={"backend": "postgresql", "url": "postgresql://db.invalid/werk"}
    )
    server = config.server.model_copy(update={"workers": 2})
    platform = Platform(config.model_copy(update={"historian": historian, "server": server}))
    with pytest.raises(ConfigError, match="run more werk api replicas instead"):
        await platform.start()
    assert platform.file is None  # refused before anything was opened
