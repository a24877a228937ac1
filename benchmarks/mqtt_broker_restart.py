"""What an MQTT broker restart costs werk: values the broker acknowledged that never reached the MQTT connector.

    python benchmarks/mqtt_broker_restart.py [--runs 3] [--values 1800] [--quick]

A Mosquitto of its own (persistence on, saved after every change) on a free loopback port; a publisher sends
``--values`` QoS 1 values, one every 2 ms; after a third of them the broker is killed (SIGKILL) and started again a
second later on the same port from the same persistence file (``tests/connect/mqtt_restart.py``). Counted: values
whose PUBACK the publisher had that werk never received. werk's defaults (QoS 1, a persistent session, a client id
stable across restarts) beside the reference, the defaults before: QoS 1, a clean session, a random client id.
Goal: 0 lost with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

# the scenario is the test's, so the figure and the test measure one thing
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.connect.mqtt_restart import kill_and_restart
from tests.connect.test_mqtt_connector import MOSQUITTO, Mosquitto

SETTINGS: dict[str, dict[str, Any] | None] = {
    "defaults (persistent session, stable id)": None,
    "clean session, random id": {"persistent_session": False},
}


async def run(values: int, runs: int) -> dict[str, list[tuple[int, int]]]:
    """Per setting, (lost, acknowledged) of each run."""
    out: dict[str, list[tuple[int, int]]] = {name: [] for name in SETTINGS}
    for _ in range(runs):
        for name, settings in SETTINGS.items():
            if settings is not None:
                settings = settings | {"client_id": f"werk-line-{uuid.uuid4().hex[:8]}"}
            tmp = Path(tempfile.mkdtemp(prefix="werk-bench-"))
            brokers: list[Mosquitto] = []
            try:
                outcome = await kill_and_restart(
                    tmp, brokers, settings, values=values, kill_after=values // 3
                )
            finally:
                for b in brokers:
                    b.kill()
                shutil.rmtree(tmp, ignore_errors=True)
            out[name].append((len(outcome.lost), len(outcome.acknowledged)))
            print(f"{name}: lost {len(outcome.lost)} of {len(outcome.acknowledged)} acknowledged", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--values", type=int, default=1800)
    ap.add_argument("--quick", action="store_true", help="one run of 600 values")
    a = ap.parse_args()
    if not Path(MOSQUITTO).exists():
        raise SystemExit(f"{MOSQUITTO} is absent (apt-get install mosquitto)")
    runs, values = (1, 600) if a.quick else (a.runs, a.values)
    if a.quick:
        print("quick run: one run of 600 values (a check, not the figure of record)")
    results = asyncio.run(run(values, runs))
    print(f"\nbroker killed and restarted under QoS 1 publishing, {values} values, {runs} run(s):")
    for name, rows in results.items():
        print(f"  {name}: lost {', '.join(f'{lost} of {acked}' for lost, acked in rows)}")
    lost = [n for n, _ in results[next(iter(SETTINGS))]]
    what = "goal 0 values lost that the broker acknowledged, with the defaults"
    print(f"{what}: met" if not any(lost) else f"{what}: not met (lost {', '.join(map(str, lost))})")


if __name__ == "__main__":
    main()
