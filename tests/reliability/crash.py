"""``werk serve`` killed with SIGKILL (to its whole process group: an OOM kill, ``kill -9``, a container's end)
under durable-write load: one round, as the crash test (``test_crash.py``) and the benchmark
(``benchmarks/crash_kill9.py``) run it, so the figure and the test measure one thing.

A round: ``werk serve`` with ``server.workers`` processes in a session of its own, 16 Properties added to a submodel,
each written by a client of its own (the next value after the answer to the last) for ``load_s``, then SIGKILL to
the group mid-flight; then what the file holds, which children outlived werk, what socket directories were left,
and whether the next start removed them."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.conftest import plant_config, stored_value
from werk.config import WerkConfig

SAM = {"Authorization": "Bearer sv-secret"}
GONE_S = 1.0  # how long the round waits for werk's children to end after the kill
PROPERTIES = 16  # each written by one client, a value after the last one's answer
ACKS: list[float] = []  # every acknowledged write of the last load
KILLED: list[bool] = []  # not empty once werk was killed


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _children(pid: int) -> set[int]:
    """The direct children of ``pid`` (the writer and the workers run in sessions of their own)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs: a zombie (ended, waiting for its new parent, init, to reap it) does not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _start(plant: Path, private: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "werk.cli", "serve", "-c", str(plant), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(private)},
        start_new_session=True,  # a group of its own, as a service has
    )


def _wait_up(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "werk serve did not answer within 60 s"
        time.sleep(0.1)


async def _load(base: str, urls: dict[str, str], until: float) -> dict[str, tuple[float, float]]:
    """PATCH increasing values to each Property, each from a connection of its own, the next after the answer to
    the last, until ``until``: per Property, the last value acknowledged and the last sent (the one under way when
    werk was killed, stored or not)."""
    acked = dict.fromkeys(urls, 0.0)
    sent = dict.fromkeys(urls, 0.0)
    counter = dict.fromkeys(urls, 0)

    async def client(key: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            while time.monotonic() < until:
                counter[key] += 1
                value = float(counter[key])
                sent[key] = max(sent[key], value)
                try:
                    r = await http.patch(urls[key], json=value, headers=SAM)
                except httpx.TransportError:
                    return  # werk was killed under it: not acknowledged
                if r.status_code != 204:  # a process of werk, in the instant between the kill and its end
                    assert KILLED, r.text
                    return
                acked[key] = max(acked[key], value)
                ACKS.append(value)

    await asyncio.gather(*(client(key) for key in urls))
    return {key: (acked[key], sent[key]) for key in urls}


def _plant(tmp_path: Path, workers: int) -> tuple[WerkConfig, Path]:
    config = plant_config(tmp_path, users={"sam": ("supervisor", "sv-secret")})
    config = config.model_copy(update={"server": config.server.model_copy(update={"workers": workers})})
    plant = tmp_path / "plant.yaml"
    plant.write_text(yaml.safe_dump(config.model_dump(mode="json", by_alias=True)))
    return config, plant


@dataclass
class CrashOutcome:
    acknowledged: int = 0  # writes answered 204 before the kill
    lost: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # Property: stored, acked, sent
    children: int = 0  # werk's children before the kill (the twin's writer, the workers)
    outlived: list[int] = field(default_factory=list)  # children still running GONE_S after the kill
    gone_s: float = 0.0  # how long the last child ran after the kill
    left: list[str] = field(default_factory=list)  # socket directories the killed processes left
    kept_at_restart: list[str] = field(default_factory=list)  # of those, what the next start did not remove
    restart_code: int | None = None  # the next start's exit code after a SIGTERM

    @property
    def writes_lost(self) -> int:
        """Acknowledged writes the file does not hold: a Property's are sequential, so a stored value below the
        last acknowledged one loses the writes between them."""
        return sum(int(acked - stored) for stored, acked, _ in self.lost.values())


def kill_round(tmp_path: Path, workers: int, load_s: float = 2.0) -> CrashOutcome:
    config, plant = _plant(tmp_path, workers)
    private = tmp_path / "tmp"  # where the processes' private socket directories go (tempfile honours TMPDIR)
    private.mkdir()
    base = f"http://127.0.0.1:{config.server.port}"
    sm_id = config.asset("cnc-1").aas_id + "/submodels/TechnicalData"
    elements = f"/api/v3.0/submodels/{_b64(sm_id)}/submodel-elements"
    names = [f"Crash{i}" for i in range(PROPERTIES)]
    urls = {name: f"{elements}/{name}/$value" for name in names}
    result = CrashOutcome()
    proc = _start(plant, private)
    try:
        _wait_up(proc, base + elements)
        for name in names:
            prop = {"modelType": "Property", "idShort": name, "valueType": "xs:double", "value": "0"}
            r = httpx.post(base + elements, json=prop, headers=SAM)
            assert r.status_code == 201, r.text
        children = _children(proc.pid)
        result.children = len(children)

        async def load_then_kill() -> dict[str, tuple[float, float]]:
            ACKS.clear()
            KILLED.clear()
            load = asyncio.ensure_future(_load(base, urls, time.monotonic() + load_s + 60))
            # load_s of writes from the first answer on (a busy machine takes a while over the first ones)
            async with asyncio.timeout(30):
                while not ACKS:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(load_s)
            KILLED.append(True)
            os.killpg(proc.pid, signal.SIGKILL)  # mid-flight: requests are under way on every connection
            return await load

        outcome = asyncio.run(load_then_kill())
        killed = time.monotonic()
        proc.wait(10)
        while [pid for pid in children if _running(pid)] and time.monotonic() - killed < GONE_S:
            time.sleep(0.01)
        result.gone_s = time.monotonic() - killed
        result.outlived = [pid for pid in children if _running(pid)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result.acknowledged = len(ACKS)
    for name, (acked, sent) in outcome.items():
        stored = float(stored_value(config.historian.path, sm_id, name))  # type: ignore[arg-type]
        if not acked <= stored <= sent:
            result.lost[name] = (stored, acked, sent)
    result.left = sorted(os.listdir(private))
    # and one as a killed werk with several processes leaves it, for a start with one process to remove too
    (private / f"werk-{proc.pid}-earlier").mkdir()
    # the next start removes them (their owner is dead), and keeps its own
    again = _start(plant, private)
    try:
        _wait_up(again, base + elements)
        result.kept_at_restart = sorted(set(os.listdir(private)) & {*result.left, f"werk-{proc.pid}-earlier"})
    finally:
        os.killpg(again.pid, signal.SIGTERM)
        again.communicate(timeout=30)
    result.restart_code = again.returncode
    assert os.listdir(private) == [], "a clean stop removes its own socket directories"
    return result
