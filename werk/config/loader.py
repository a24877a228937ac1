"""Read a plant file and say exactly where it is wrong.

PyYAML's composed node tree keeps the line of every key, so a pydantic error location (a key path) can be turned back
into ``file:line``. Plant engineers edit these files by hand; "Field required" without a line is not enough.

Bounds, checked before anything is built from the text (:func:`check_bounds`), so that a broken or hostile file is
refused with a message and never takes the process down: at most :data:`MAX_BYTES` of text, :data:`MAX_DEPTH`
nested mappings and sequences (PyYAML composes recursively: some thousand levels end in a RecursionError), and
:data:`MAX_VALUES` values counted with every alias expanded (anchors of aliases of anchors, a YAML "billion laughs",
are small on disk and exponential to walk). The demo plant has about 15 KB, 15 levels and 820 values.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from werk.config.model import WerkConfig
from werk.errors import ConfigError
from werk.i18n import N_, tr

if TYPE_CHECKING:
    from werk.registry import Registry

Loc = tuple[str | int, ...]

MAX_BYTES = 16 << 20
"""The largest plant file werk reads (bytes)."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences in a plant file."""
MAX_VALUES = 1_000_000
"""The most values (scalars, mappings, sequences) a plant file may hold, with every alias counted as what it repeats."""


def demo_config_path() -> Path:
    """The demo plant that ships inside the package (the virtual factory's)."""
    return Path(str(resources.files("werk.sim").joinpath("demo.yaml")))


#: several processes of one ``werk serve`` share the twin through the werk file, which a PostgreSQL plant keeps on
#: its server: the replicas of ``werk api`` are the way to more processes there
SHARED_TWIN_ON_SERVER = N_(
    "more than one process of werk serve shares the twin through the werk file; with historian.backend: "
    "postgresql run more werk api replicas instead (docs/cluster.md)"
)


def load_config(path: str | Path) -> WerkConfig:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                tr(
                    "{path}: {size} MiB is too large for a plant file (at most {limit} MiB)",
                    path=path,
                    size=f"{size / (1 << 20):.0f}",
                    limit=MAX_BYTES >> 20,
                )
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(tr("{path}: no such file", path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(tr("{path}: cannot read: {error}", path=path, error=exc)) from None
    return parse_config(text, str(path))


def parse_config(text: str, filename: str = "<config>", registry: Registry | None = None) -> WerkConfig:
    """Validate a plant file's text against werk's schema and every registered app's, connector's and
    section's (the process's registry unless ``registry`` is given); ConfigError lists every problem with its
    line and key path."""
    from werk.config.schema import build_schema, default_schema
    from werk.registry import default_registry

    reg = registry or default_registry()
    schema = default_schema() if registry is None else build_schema(registry)
    try:
        check_bounds(text, filename)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise ConfigError(
            tr("{where}: YAML syntax error: {problem}", where=where, problem=exc.problem or exc)
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(tr("{where}: YAML error: {error}", where=filename, error=exc)) from None
    if not isinstance(data, dict) or root is None:
        where = f"{filename}:1"
        raise ConfigError(
            tr("{where}: the plant file must be a mapping with at least a 'plant' key", where=where)
        )
    twice = _duplicate_keys(root)
    if twice:
        raise ConfigError(
            tr("invalid plant file")
            + "\n  "
            + "\n  ".join(
                f"{filename}:{line}: {where}: " + tr("key given twice (the second would win)")
                for where, line in twice
            )
        )
    tags = frozenset(reg.connectors)
    try:
        config = schema.model_validate(data)
    except ValidationError as exc:
        problems = [(_loc(e), _message(e, reg)) for e in exc.errors()]
        raise ConfigError(_report(filename, root, problems, tags)) from None
    problems = check_references(config, reg)
    if problems:
        raise ConfigError(_report(filename, root, problems, tags))
    return config


def check_bounds(text: str, filename: str = "<config>") -> None:
    """``ConfigError`` with the line where ``text`` passes :data:`MAX_BYTES`, :data:`MAX_DEPTH` or
    :data:`MAX_VALUES`. Reads PyYAML's event stream, whose parser keeps its own stack (no recursion), and counts
    what each anchor stands for, so an alias costs what it repeats; YAML syntax errors are left to the caller."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            tr(
                "{path}: {size} MiB is too large for a plant file (at most {limit} MiB)",
                path=filename,
                size=f"{len(text) / (1 << 20):.0f}",
                limit=MAX_BYTES >> 20,
            )
        )
    sizes: dict[str, int] = {}  # what each anchor stands for, in values
    stack: list[list[Any]] = [[0, None]]  # per open collection: values so far, its anchor
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > MAX_DEPTH:
                where = _at(filename, event)
                raise ConfigError(
                    tr("{where}: nested more than {limit} levels deep", where=where, limit=MAX_DEPTH)
                )
            stack.append([1, event.anchor])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            count, anchor = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            count, anchor = 1, event.anchor
        elif isinstance(event, yaml.AliasEvent):
            count, anchor = sizes.get(event.anchor or "", 1), None
        else:
            continue
        if anchor is not None:
            sizes[anchor] = count
        stack[-1][0] += count
        if isinstance(event, yaml.AliasEvent) and sum(c for c, _ in stack) > MAX_VALUES:
            where = _at(filename, event)
            raise ConfigError(
                tr(
                    "{where}: the aliases here make the file hold more than {limit} values; "
                    "a plant file repeats less",
                    where=where,
                    limit=f"{MAX_VALUES:,}",
                )
            )
    if stack[0][0] > MAX_VALUES:
        raise ConfigError(
            tr("{where}: more than {limit} values", where=f"{filename}:1", limit=f"{MAX_VALUES:,}")
        )


def _at(filename: str, event: yaml.Event) -> str:
    return filename if event.start_mark is None else f"{filename}:{event.start_mark.line + 1}"


def check_references(config: WerkConfig, registry: Registry | None = None) -> list[tuple[Loc, str]]:
    """Rules that span sections: names unique across the plant, connectors that exist, signals bound once,
    products made by assets that exist; then each app's and section's own (``check`` of its spec)."""
    from werk.registry import default_registry

    reg = registry or default_registry()
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, Loc] = {}
    for ref in config.assets():
        if ref.name in seen:
            first = ".".join(str(x) for x in seen[ref.name])
            problems.append(
                (
                    ref.loc,
                    tr(
                        "asset name {name} is used twice (first at {first}); names are unique",
                        name=repr(ref.name),
                        first=first,
                    ),
                )
            )
        seen.setdefault(ref.name, ref.loc)
        seen_signals: set[str] = set()
        for i, src in enumerate(ref.config.bindings()):
            where: Loc = (
                (*ref.loc, "source", i) if isinstance(ref.config.source, list) else (*ref.loc, "source")
            )
            if src.connector not in config.connectors:
                known = ", ".join(sorted(config.connectors)) or tr("none defined")
                problems.append(
                    (
                        (*where, "connector"),
                        tr(
                            "unknown connector {name} (known: {known})", name=repr(src.connector), known=known
                        ),
                    )
                )
            twice = seen_signals & set(src.signals)
            if twice:
                problems.append(
                    (
                        (*where, "signals"),
                        tr("signals bound twice: {signals}", signals=", ".join(sorted(twice))),
                    )
                )
            seen_signals |= set(src.signals)
    names = {ref.name for ref in config.assets()}
    for code, product in config.products.items():
        for asset in product.ideal_cycle_s:
            if asset not in names:
                problems.append(
                    (
                        ("products", code, "ideal_cycle_s", asset),
                        tr("no asset named {name} in the plant", name=repr(asset)),
                    )
                )
    if config.server.workers > 1 and config.historian.backend == "postgresql":
        problems.append((("server", "workers"), tr(SHARED_TWIN_ON_SERVER)))
    for name, spec in reg.apps.items():
        settings = config.app(name)
        if spec.check is not None and settings is not None and settings.enabled:
            problems.extend(spec.check(config, settings))
    for key, section in reg.sections.items():
        if section.check is not None:
            problems.extend(section.check(config, config.section(key)))
    return problems


def _duplicate_keys(node: yaml.Node, path: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Keys that appear twice in one mapping (YAML loaders keep the last one without a word)."""
    out: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
            if key in seen and key != "<<":
                out.append((".".join((*path, key)), k.start_mark.line + 1))
            seen.add(key)
            out.extend(_duplicate_keys(v, (*path, key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.extend(_duplicate_keys(item, (*path, str(i))))
    return out


def _loc(err: Any) -> Loc:
    loc: Loc = tuple(err["loc"])
    # a bad discriminator is a problem of the 'type' key, not of the whole connector
    return (*loc, "type") if err["type"] in ("union_tag_invalid", "union_tag_not_found") else loc


def _message(err: Any, registry: Registry) -> str:
    msg = str(err["msg"])
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and len(loc) == 2 and loc[0] == "apps":
        return tr(
            "unknown app {name} (known: {known})",
            name=repr(loc[1]),
            known=", ".join(registry.apps) or tr("none"),
        )
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return tr(
            "unknown type {name} (known: {known})", name=repr(ctx.get("tag")), known=ctx.get("expected_tags")
        )
    if err["type"] == "union_tag_not_found":
        return tr("required key 'type' is missing")
    if err["type"] == "extra_forbidden":
        return tr("unknown key (check the spelling)")
    if err["type"] == "missing":
        return tr("required key is missing")
    return msg


def _report(
    filename: str, root: yaml.Node, problems: Sequence[tuple[Loc, str]], tags: frozenset[str] = frozenset()
) -> str:
    lines = []
    for loc, msg in problems:
        # pydantic puts the discriminator's tag (a connector type) in the location and marks a bad mapping key with
        # "[key]"; neither is a key in the file
        keys = [k for k in loc if k != "[key]" and not (isinstance(k, str) and k in tags and _is_tag(loc, k))]
        line = _line_of(root, keys)
        where = ".".join(str(k) for k in keys) or tr("(top)")
        lines.append(f"{filename}:{line}: {where}: {msg}")
    head = (
        tr("invalid plant file") if len(lines) == 1 else tr("invalid plant file ({n} problems)", n=len(lines))
    )
    return head + "\n  " + "\n  ".join(lines)


def _is_tag(loc: Loc, key: str) -> bool:
    i = loc.index(key)
    return i > 0 and loc[i - 1] != "type" and i >= 2 and loc[i - 2] == "connectors"


def _line_of(root: yaml.Node, keys: Sequence[str | int]) -> int:
    """The line of the deepest key of ``keys`` present in the file (1-based)."""
    node = root
    line = root.start_mark.line + 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line
