"""``werk serve`` killed with SIGKILL (to its whole process group: an OOM kill, ``kill -9``, a container's end)
under durable-write load, with one process and with several (``server.workers``): the round is
``tests/reliability/crash.py``'s, which ``benchmarks/crash_kill9.py`` repeats for docs/reliability.md.

What must hold: every write werk acknowledged (204) is in the file, as a restart reads it; no child process (the
twin's writer, the workers) is left running a second after the kill; the private socket directories the killed
processes could not remove are removed by the next start, which stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.crash import kill_round


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_of_the_group_under_durable_writes_loses_nothing_acknowledged_and_leaves_nothing_behind(
    tmp_path: Path, workers: int
) -> None:
    outcome = kill_round(tmp_path, workers)
    assert outcome.children == workers  # the twin's writer, and each worker
    assert outcome.acknowledged >= 16, outcome  # a write to each Property at least (a busy machine gives few)
    assert outcome.lost == {}, outcome.lost
    assert outcome.outlived == [], "a child of werk outlived it by a second"
    assert len(outcome.left) == (2 if workers > 1 else 0)  # the writer's and the primary's sockets
    assert outcome.kept_at_restart == []
    assert outcome.restart_code == 0
