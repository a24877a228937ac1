"""Private socket directories left by killed werk processes are removed at the next start, and nothing else."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from werk.runtime.sockets import PrivateSocket, remove_stale


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_directories_of_dead_werk_processes_that_nobody_listens_in_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = tmp_path / f"werk-{dead}-abc"
    alive = tmp_path / f"werk-{os.getpid()}-def"
    listened = tmp_path / f"werk-{dead}-ghi"  # a live process of another pid namespace that shares /tmp
    others = [tmp_path / "werk-old", tmp_path / f"werkstatt-{dead}-x", tmp_path / "other"]
    for folder in (stale, alive, listened, *others):
        folder.mkdir()
    (stale / "primary.sock").write_text("")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(listened / "twin-writer.sock"))
        sock.listen(1)
        assert remove_stale(str(tmp_path)) == [str(stale)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (alive, listened, *others))


def test_a_private_socket_names_its_owner_and_removes_its_directory_when_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    private = PrivateSocket("x.sock")
    assert Path(private.dir).name.startswith(f"werk-{os.getpid()}-")
    assert Path(private.dir).stat().st_mode & 0o777 == 0o700
    private.close()
    assert list(tmp_path.iterdir()) == []
