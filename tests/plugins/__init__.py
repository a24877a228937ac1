"""Plug-ins from outside werk's tree, installed for a test by putting their folder (package and dist-info, as pip
would leave them) on the import path, so werk finds them through their entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werk.registry import Registry, build_registry

ANDON = Path(__file__).parent / "andon"


@contextmanager
def installed(*folders: Path) -> Iterator[Registry]:
    """The registry as it is with these plug-in folders installed; uninstalled afterwards."""
    paths = [str(f) for f in folders]
    sys.path[:0] = paths
    try:
        yield build_registry()
    finally:
        for p in paths:
            sys.path.remove(p)
        for name in [m for m in sys.modules if m == "werk_andon" or m.startswith("werk_andon.")]:
            del sys.modules[name]
