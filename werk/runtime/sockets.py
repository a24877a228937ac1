"""Sockets that several werk processes share (``server.workers``): the web port, and Unix sockets of their own.

Why here: the platform (its twin's writer), ``werk serve`` (the primary's web server) and the AAS benchmark make them
the same way.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile

from werk.errors import WerkError

BACKLOG = 2048  # uvicorn's default


def can_share_port() -> None:
    """``WerkError`` unless several processes can share a port here: Linux spreads a port's connections over the
    processes that listen on it with ``SO_REUSEPORT``; other systems hand them all to one, or have no such option."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        raise WerkError("server.workers > 1 needs Linux (SO_REUSEPORT); set server.workers: 1 here")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` that other werk processes of this user may listen on too (Linux
    spreads new connections over them)."""
    can_share_port()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise WerkError(f"cannot listen on {host}:{port}: {exc}") from None
    return sock


class PrivateSocket:
    """A listening Unix socket in a fresh directory only this user can enter (mode 0700): what werk's processes say
    to each other there (pickled frames, requests with their tokens) is for them alone."""

    def __init__(self, name: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="werk-")
        self.path = os.path.join(self.dir, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(BACKLOG)

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)
