"""Sockets that several werk processes share (``server.workers``): the web port, and Unix sockets of their own.

Why here: the platform (its twin's writer), ``werk serve`` (the primary's web server) and the AAS benchmark make them
the same way.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import sys
import tempfile

from werk.errors import WerkError

log = logging.getLogger(__name__)

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


PREFIX = "werk-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _anyone_listening(folder: str) -> bool:
    """True if a Unix socket in ``folder`` takes a connection (a process of another pid namespace that shares
    this temporary directory would still be there)."""
    for entry in os.scandir(folder):
        if not stat.S_ISSOCK(entry.stat(follow_symlinks=False).st_mode):
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(entry.path)
            except TimeoutError:  # a full backlog: someone listens, and is busy
                return True
            except OSError:  # refused: nobody listens there any more
                continue
            return True
    return False


def remove_stale(tmp: str | None = None) -> list[str]:
    """Remove the private socket directories (``werk-<pid>-*`` in the temporary directory) that this user's werk
    processes left behind when they were killed (SIGKILL, a power cut of a container): their owner's pid is dead
    and none of their sockets takes a connection. Returns the removed paths.

    A directory of a live process, of another user, or of another name is never touched; one whose pid was reused
    by another process stays until that one ends (a few bytes, and never a wrong removal)."""
    tmp = tmp or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return removed
    for entry in entries:
        pid_text = entry.name[len(PREFIX) :].split("-", 1)[0]
        if not entry.name.startswith(PREFIX) or not pid_text.isdigit():
            continue
        try:
            if (
                not entry.is_dir(follow_symlinks=False)
                or entry.stat(follow_symlinks=False).st_uid != os.getuid()
            ):
                continue
            if _pid_alive(int(pid_text)) or _anyone_listening(entry.path):
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    if removed:
        log.warning(
            "werk.sockets.stale_removed count=%d: left by werk processes that were killed", len(removed)
        )
    return removed


class PrivateSocket:
    """A listening Unix socket in a fresh directory only this user can enter (mode 0700): what werk's processes say
    to each other there (pickled frames, requests with their tokens) is for them alone. The directory's name
    carries this process's pid (``werk-<pid>-…``), so the next werk can tell it from a live one and remove it if this
    process was killed before it could (:func:`remove_stale`, run before each new one)."""

    def __init__(self, name: str) -> None:
        remove_stale()
        self.dir = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        self.path = os.path.join(self.dir, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(BACKLOG)

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)
