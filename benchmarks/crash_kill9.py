"""What a kill -9 of ``werk serve`` under durable-write load costs: acknowledged writes lost, children left running,
socket directories left behind.

    python benchmarks/crash_kill9.py [--rounds 5] [--load-s 2] [--quick]   (quick: one round, two processes)

Each round (``tests/reliability/crash.py``, the crash test's): ``werk serve`` in a session of its own, 16 Properties
each written by a client of its own (the next value after the answer to the last), SIGKILL to the process group
after ``--load-s`` seconds mid-flight; then the file is read as a restart reads it, werk's children (the twin's
writer, the workers) are watched for a second, and werk is started again to see it remove what the killed processes
left. Rounds with one process and with two (``server.workers: 2``). Goal: 0 acknowledged writes lost, no child
running a second after the kill, every stale socket directory removed at the next start.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

# the round is the test's, so the figure and the test measure one thing
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reliability.crash import CrashOutcome, kill_round


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds per process count")
    ap.add_argument("--load-s", type=float, default=2.0, help="seconds of writes before each kill")
    ap.add_argument("--quick", action="store_true", help="one round with two processes, 1 s of writes")
    a = ap.parse_args()
    rounds, load_s = (1, 1.0) if a.quick else (a.rounds, a.load_s)
    # quick: the harder case alone (a worker, the writer and the socket directories), under a minute
    results: dict[int, list[CrashOutcome]] = {2: []} if a.quick else {1: [], 2: []}
    for _ in range(rounds):
        for workers in results:
            tmp = Path(tempfile.mkdtemp(prefix="werk-crash-"))
            try:
                outcome = kill_round(tmp, workers, load_s)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            results[workers].append(outcome)
            print(
                f"workers={workers}: {outcome.acknowledged} acknowledged, {outcome.writes_lost} lost; "
                f"children {outcome.children}, running after 1 s: {len(outcome.outlived)} "
                f"(last ended {outcome.gone_s * 1000:.0f} ms after the kill); socket directories left "
                f"{len(outcome.left)}, kept by the next start {len(outcome.kept_at_restart)}",
                flush=True,
            )
    print(
        f"\nkill -9 of werk serve's group under durable PATCH load, {rounds} round(s) of {load_s:.0f} s each:"
    )
    ok = True
    for workers, rows in results.items():
        acked = sum(r.acknowledged for r in rows)
        lost = sum(r.writes_lost for r in rows)
        outlived = sum(len(r.outlived) for r in rows)
        left = sum(len(r.left) for r in rows)
        kept = sum(len(r.kept_at_restart) for r in rows)
        # a round without acknowledged writes measured nothing
        ok &= (
            acked > 0 and lost == 0 and outlived == 0 and kept == 0 and all(r.restart_code == 0 for r in rows)
        )
        print(
            f"  {workers} process(es): {lost} of {acked} acknowledged writes lost; {outlived} children running "
            f"1 s after the kill; {left} socket directories left, {kept} kept by the next start"
        )
    print(
        "goal 0 acknowledged writes lost, no child left running, no stale socket directory: "
        + ("met" if ok else "not met")
    )


if __name__ == "__main__":
    main()
