"""Unified Namespace paths: ISA-95 levels joined by '/', with MQTT-style wildcards in patterns.

A signal path is ``enterprise/site/area/line/cell/asset/signal``. Patterns use ``+`` for one level and a final
``#`` for any number of levels, as MQTT 3.1.1 section 4.7 defines, so the same pattern works on the MQTT bus.
"""

from __future__ import annotations

import re
from functools import lru_cache

from werk.errors import UnsPathError

UNS_LEVELS = ("enterprise", "site", "area", "line", "cell", "asset", "signal")
SEGMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
"""One UNS segment (a name: an asset's, a user's) as a regular expression."""
_SEGMENT = re.compile(SEGMENT_PATTERN)
PATH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*$"
"""A UNS path as a regular expression (for an API's schema): segments joined by '/'."""


def validate_segment(name: str, level: str = "name") -> str:
    """A segment is letters, digits, '-', '_', '.', starting with a letter or digit: safe in MQTT, URLs and SQL."""
    if not _SEGMENT.match(name):
        raise UnsPathError(
            f"{level} {name!r} is not a valid UNS segment: use letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def validate_path(path: str) -> str:
    if not path:
        raise UnsPathError("empty UNS path")
    for seg in path.split("/"):
        validate_segment(seg, "segment")
    return path


def validate_pattern(pattern: str) -> str:
    parts = pattern.split("/")
    for i, seg in enumerate(parts):
        if seg == "#":
            if i != len(parts) - 1:
                raise UnsPathError(f"pattern {pattern!r}: '#' is only allowed as the last level")
        elif seg != "+":
            validate_segment(seg, "segment")
    return pattern


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> tuple[str, ...]:
    return tuple(validate_pattern(pattern).split("/"))


def matches(pattern: str, path: str) -> bool:
    """True when ``path`` falls under ``pattern`` (MQTT semantics)."""
    pat = _compile(pattern)
    segs = path.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(segs):
            return False
        if p != "+" and p != segs[i]:
            return False
    return len(segs) == len(pat)


class TopicMatcher:
    """Which of a set of patterns match a path, with a per-path cache: a plant has a fixed set of signals, so after
    the first sample of each signal the answer is a dict lookup."""

    def __init__(self) -> None:
        self._patterns: dict[int, str] = {}
        self._cache: dict[str, tuple[int, ...]] = {}

    def add(self, key: int, pattern: str) -> None:
        validate_pattern(pattern)
        self._patterns[key] = pattern
        self._cache.clear()

    def remove(self, key: int) -> None:
        self._patterns.pop(key, None)
        self._cache.clear()

    def lookup(self, path: str) -> tuple[int, ...]:
        hit = self._cache.get(path)
        if hit is None:
            hit = tuple(k for k, p in self._patterns.items() if matches(p, path))
            if (
                len(self._cache) > 100_000
            ):  # bounded: a misbehaving source inventing paths must not eat memory
                self._cache.clear()
            self._cache[path] = hit
        return hit
