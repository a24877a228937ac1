"""Topic templates: many MQTT topics mapped to UNS paths by one rule instead of one binding per topic.

A plant with 200 sensors publishing ``factory/<line>/<device>/<quantity>`` should not need 200 lines in its plant
file. A rule names the shape of the topics and the shape of the paths::

    topic: "factory/{line}/{device}/{signal}"
    path:  "acme/plant-1/assembly/{line}/cell-1/{device}/{signal}"

In ``topic``, each level is a literal, ``+`` (any one level, not captured), ``{name}`` (any one level, captured),
or, as the last level only, ``#`` / ``{name#}`` (the rest of the topic, one or more levels; captured when named).
These are MQTT 3.1.1 section 4.7 filters with names on the wildcards, so the rule subscribes with exactly the
filter it describes. In ``path``, ``{name}`` inserts a capture; the result must be a valid UNS path, checked per
message because captures come from the wire.

``{field}`` in ``path`` is reserved: the payload is then one JSON object of several signals (as Zigbee2MQTT, Tasmota
and many gateways send: ``{"temperature": 21.5, "humidity": 40, "ts": ...}``) and each scalar member becomes a sample
with ``{field}`` replaced by the member's name.

Written by hand because no library maps named MQTT wildcards to paths; the filter semantics are the standard's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werk.core.uns import validate_path
from werk.errors import TemplateError, UnsPathError

FIELD = "field"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_CAPTURE = re.compile(r"^\{(" + _NAME + r")(#?)\}$")
_PLACEHOLDER = re.compile(r"\{(" + _NAME + r")\}")


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One compiled rule: ``filter`` is what to subscribe to; ``resolve`` turns a topic into its UNS path."""

    topic: str
    path: str
    filter: str
    levels: tuple[tuple[str, str | None], ...]  # (literal or "+" or "#", capture name or None)
    fields: bool

    @classmethod
    def compile(cls, topic: str, path: str) -> TopicRule:
        if not topic:
            raise TemplateError("topic template is empty")
        if topic.startswith("$"):
            raise TemplateError(f"topic template {topic!r} starts with '$', reserved for the broker")
        parts = topic.split("/")
        levels: list[tuple[str, str | None]] = []
        names: set[str] = set()
        for i, part in enumerate(parts):
            m = _CAPTURE.match(part)
            multi = part == "#" or (m is not None and m.group(2) == "#")
            if multi and i != len(parts) - 1:
                raise TemplateError(f"topic template {topic!r}: a multi-level capture must be the last level")
            if m is not None:
                name = m.group(1)
                if name == FIELD:
                    raise TemplateError(
                        f"topic template {topic!r}: {{field}} is reserved for payload members"
                    )
                if name in names:
                    raise TemplateError(f"topic template {topic!r} captures {{{name}}} twice")
                names.add(name)
                levels.append(("#" if multi else "+", name))
            elif part in ("+", "#"):
                levels.append((part, None))
            elif any(c in part for c in "+#{}"):
                raise TemplateError(
                    f"topic template {topic!r}: level {part!r} mixes text with a wildcard; a level is a literal, "
                    "'+', '#', '{name}' or '{name#}'"
                )
            else:
                levels.append((part, None))
        used = set(_PLACEHOLDER.findall(path))
        rest = _PLACEHOLDER.sub("", path)
        if "{" in rest or "}" in rest:
            raise TemplateError(f"path template {path!r} has a brace that is not a {{name}} placeholder")
        unknown = sorted(used - names - {FIELD})
        if unknown:
            raise TemplateError(
                f"path template {path!r} uses {', '.join('{' + u + '}' for u in unknown)}, "
                f"which the topic template {topic!r} does not capture"
            )
        try:  # the literal parts must already be valid; captures are checked per message
            validate_path(_PLACEHOLDER.sub("x", path))
        except UnsPathError as exc:
            raise TemplateError(f"path template {path!r}: {exc}") from None
        return cls(topic, path, "/".join(lv for lv, _ in levels), tuple(levels), FIELD in used)

    def match(self, topic: str) -> dict[str, str] | None:
        """The captures when ``topic`` matches this rule's filter, else None."""
        segs = topic.split("/")
        out: dict[str, str] = {}
        for i, (level, name) in enumerate(self.levels):
            if level == "#":
                if i >= len(segs):  # '#' also matches the parent level (4.7.1.2); a capture needs a level
                    return None if name else out
                if name:
                    out[name] = "/".join(segs[i:])
                return out
            if i >= len(segs):
                return None
            if level == "+":
                if name:
                    out[name] = segs[i]
            elif level != segs[i]:
                return None
        return out if len(segs) == len(self.levels) else None

    def resolve(self, captures: dict[str, str], field: str | None = None) -> str:
        """The UNS path for one match (and one payload member when the rule maps fields); raises UnsPathError
        naming the offending level when a capture is not a valid UNS segment."""
        values = dict(captures)
        if field is not None:
            values[FIELD] = field
        path = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.path)
        return validate_path(path)


class TopicMap:
    """Rules in the order the plant file gives them; the first that matches a topic wins. Results are cached per
    topic, since a plant has a fixed set of topics and the rule walk would otherwise run for every message."""

    CACHE_MAX = 100_000

    def __init__(self, rules: list[TopicRule]) -> None:
        self.rules = rules
        self._cache: dict[str, tuple[TopicRule, dict[str, str]] | None] = {}

    def lookup(self, topic: str) -> tuple[TopicRule, dict[str, str]] | None:
        try:
            return self._cache[topic]
        except KeyError:
            pass
        found = None
        for rule in self.rules:
            captures = rule.match(topic)
            if captures is not None:
                found = (rule, captures)
                break
        if len(self._cache) >= self.CACHE_MAX:
            self._cache.clear()
        self._cache[topic] = found
        return found

    def covers(self, topic: str) -> bool:
        """True when some rule's subscription already delivers ``topic`` (so it needs no subscription of its own)."""
        return any(rule.match(topic) is not None for rule in self.rules)
