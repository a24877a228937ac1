"""Fixtures of the cluster tests: the PostgreSQL server (tests/postgres.py) and a NATS server of the test's own
(a JetStream broker the test may kill; the machine's shared one on 4222 is left alone)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, need
from tests.postgres import pg_database, pg_url

__all__ = ["NatsServer", "nats_server", "pg_database", "pg_url"]


class NatsServer:
    """``nats-server -js`` on a free loopback port, its store in a folder of the test: start, kill -9, start again
    on the same port and store."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("nats-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [exe, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        import socket

        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"nats-server did not listen on {self.port} within 15 s")

    def kill(self) -> None:
        """kill -9: no goodbye, no flush."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    need(shutil.which("nats-server") is not None, "nats-server is not installed (Debian package nats-server)")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()
