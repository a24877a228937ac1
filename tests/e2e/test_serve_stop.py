"""``werk serve`` stopped as a service manager stops it: SIGTERM to every process of its group (systemd's default,
``docker stop`` to the container's processes). It must stop as Ctrl+C stops it: its workers end after they stored
their last values, then the platform, its twin writer last; exit 0; nothing left behind, neither a process nor a
private socket directory."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import plant_config, stored_value

SAM = {"Authorization": "Bearer sv-secret"}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (its workers and twin writer run in sessions of their own: a Ctrl+C to the
    terminal's group must not reach the writer before werk has handed it the last batch)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_to_the_group_stops_werk_serve_cleanly_and_keeps_what_it_acknowledged(
    tmp_path: Path, workers: int
) -> None:
    config = plant_config(tmp_path, users={"sam": ("supervisor", "sv-secret")})
    config = config.model_copy(update={"server": config.server.model_copy(update={"workers": workers})})
    plant = tmp_path / "plant.yaml"
    plant.write_text(yaml.safe_dump(config.model_dump(mode="json", by_alias=True)))
    private = tmp_path / "tmp"  # where the processes' private socket directories go (tempfile honours TMPDIR)
    private.mkdir()
    ref = config.asset("cnc-1")
    sm_id = ref.aas_id + "/submodels/TechnicalData"
    element = "TechnicalPropertyAreas[0].IdealCycleTime"
    url = (
        f"http://127.0.0.1:{config.server.port}/api/v3.0/submodels/{_b64(sm_id)}/submodel-elements/{element}"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "werk.cli", "serve", "-c", str(plant), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(private), "COLUMNS": "200"},
        start_new_session=True,  # a group of its own, as a service has
    )
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=5) as http:
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    if http.get(f"{url}/$value").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "werk serve did not answer within 60 s"
                time.sleep(0.2)
            if workers > 1:
                assert len(os.listdir(private)) == 2  # the twin writer's and the workers' sockets
            below = _descendants(proc.pid)
            assert len(below) >= workers  # the twin writer, and each worker
            # acknowledged writes, on new connections: with 2 processes, some taken by each
            for value in range(1, 11):
                r = http.patch(f"{url}/$value", json=float(value), headers=SAM)
                assert r.status_code == 204, r.text
        os.killpg(proc.pid, signal.SIGTERM)  # the primary's group: its workers and writer have their own
        out, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    text, log = out.decode(), errors.decode()
    assert proc.returncode == 0, (proc.returncode, text[-2000:], log[-4000:])
    assert "stopped (SIGTERM)" in text
    assert "Traceback" not in log and "twin.writer.ended" not in log, log[-4000:]
    assert [pid for pid in below if _alive(pid)] == []  # no worker and no writer outlived it
    assert os.listdir(private) == []  # every private socket directory removed
    assert stored_value(config.historian.path, sm_id, element) == 10.0
