"""The plant-file reference (``docs/plant-file.md``), written from the settings models so it cannot drift from what
the loader accepts.

Every section of the file, werk's own and each registered app's, connector's and section's, is a table of its keys:
type, default, constraints and description (the field's docstring, which :class:`~werk.config.model.StrictModel`
makes its description). Each connector adds its spec's ``reference``, the protocol's address forms and payloads in
the words of its standard. ``werk docs plant-file`` writes the file; ``tests/config/test_reference.py`` fails when
the committed one differs from what this module makes of the built-ins.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from werk.config.model import (
    AppsSettings,
    AreaConfig,
    AssetConfig,
    CellConfig,
    ConnectorSettings,
    LineConfig,
    PlantConfig,
    SiteConfig,
    WerkConfig,
)

if TYPE_CHECKING:
    from werk.registry import Registry

HEADER = """\
# The plant file

<!-- Written by `werk docs plant-file` from the settings models (werk/config/reference.py); edit those, not this. -->

A plant file is YAML: the plant's ISA-95 tree and calendar, where each asset's signals come from (connectors and
their addresses), where data goes (historian, spool, bus), the HTTP server and its users, and the settings of
every app. Unknown keys are errors with their line (`werk check plant.yaml`). `werk/sim/demo.yaml` is a complete
example. Each table lists a section's keys: its type, its default (*required* where it has none), the values it
takes and what it does. Sizes and times carry their unit in the key's name (`_s` seconds, `_ms` milliseconds).
"""

_TREE = (
    ("plant.sites.&lt;site&gt;", SiteConfig),
    ("plant.sites.&lt;site&gt;.areas.&lt;area&gt;", AreaConfig),
    ("….lines.&lt;line&gt;", LineConfig),
    ("….cells.&lt;cell&gt;", CellConfig),
)


def plant_file_reference(registry: Registry) -> str:
    """The whole reference, as Markdown, for ``registry``'s apps, connectors and sections."""
    own = [_model_of(WerkConfig.model_fields[name].annotation) for name in _OWN_SECTIONS]
    claimed: list[type[BaseModel]] = [PlantConfig, *(m for _, m in _TREE), AssetConfig, *own]
    claimed += [ConnectorSettings, AppsSettings, *(s.settings for s in registry.connectors.values())]
    for app in registry.apps.values():
        claimed += [m for m in (app.settings, app.asset_settings) if m is not None]
    for section in registry.sections.values():
        claimed += [m for m in (section.settings, section.asset_settings) if m is not None]
    doc = _Doc(claimed)
    doc.line(HEADER)
    doc.heading(2, "Top level")
    top = dict(WerkConfig.model_fields)
    for key, section in registry.sections.items():
        top[key] = _field(section.settings, section.settings.__doc__ or "")
    doc.table(top)
    doc.heading(2, "plant")
    doc.model(PlantConfig)
    for where, level in _TREE:
        doc.heading(3, where)
        doc.model(level)
    doc.heading(3, "….assets.&lt;asset&gt;")
    fields = dict(AssetConfig.model_fields)
    keys: list[tuple[str | None, type[BaseModel] | None, str]] = [
        (a.asset_key, a.asset_settings, f"app {name}") for name, a in registry.apps.items()
    ]
    keys += [(x.asset_key, x.asset_settings, f"section {k}") for k, x in registry.sections.items()]
    for asset_key, settings, owner in keys:
        if asset_key is not None and settings is not None:
            fields[asset_key] = _field(settings, f"Settings of the {owner}.")
    doc.model(AssetConfig, fields)
    doc.nested()
    for name, model in zip(_OWN_SECTIONS, own, strict=True):
        doc.heading(2, name)
        doc.model(model)
        doc.nested()
    doc.heading(2, "connectors")
    doc.model(ConnectorSettings)
    doc.line(
        "\nEach entry of `connectors:` is one connection, by name; its `type` says the protocol, and each asset's "
        "`source` names the connector and gives its signals' addresses in the protocol's terms (below)."
    )
    told: dict[str, str] = {}
    for type_, spec in registry.connectors.items():
        doc.heading(3, f"{spec.title} (`type: {type_}`)")
        doc.model(spec.settings, skip=("type",))
        doc.nested()
        if spec.reference:
            doc.heading(4, f"{spec.title}: addresses and payloads")
            if spec.reference in told:
                doc.line(f"As for {told[spec.reference]} above.")
            else:
                told[spec.reference] = spec.title
                doc.line(_markdown(spec.reference))
    doc.heading(2, "apps")
    doc.model(AppsSettings)
    for name, app in registry.apps.items():
        doc.heading(3, f"apps.{name}")
        doc.model(app.settings)
        if app.asset_key and app.asset_settings:
            doc.heading(4, f"….assets.&lt;asset&gt;.{app.asset_key}")
            doc.model(app.asset_settings)
        doc.nested()
    for key, section in registry.sections.items():
        doc.heading(2, key)
        doc.model(section.settings)
        if section.asset_key and section.asset_settings:
            doc.heading(3, f"….assets.&lt;asset&gt;.{section.asset_key}")
            doc.model(section.asset_settings)
        doc.nested()
    return doc.text()


_OWN_SECTIONS = ("products", "historian", "spool", "bus", "server", "cluster")


class _Doc:
    """The reference as it is written: headings, tables, and the models the tables point to, each once.

    ``claimed`` are the models that get a section of their own; any other model a table points to is written
    under its own heading by the next :meth:`nested`.
    """

    def __init__(self, claimed: list[type[BaseModel]]) -> None:
        self.parts: list[str] = []
        self.claimed = set(claimed)
        self.written: set[type[BaseModel]] = set()
        self.pending: list[type[BaseModel]] = []

    def line(self, text: str) -> None:
        self.parts.append(text.rstrip("\n") + "\n")

    def heading(self, level: int, title: str) -> None:
        self.parts.append(f"\n{'#' * level} {title}\n\n")

    def model(
        self, model: type[BaseModel], fields: dict[str, FieldInfo] | None = None, skip: tuple[str, ...] = ()
    ) -> None:
        """A model's anchor, docstring and table; models its fields hold are queued for :meth:`nested`."""
        self.written.add(model)
        self.line(f'<a id="{model.__name__.lower()}"></a>{_text(model.__doc__ or "")}')
        self.table({k: v for k, v in (fields or model.model_fields).items() if k not in skip})

    def table(self, fields: dict[str, FieldInfo]) -> None:
        rows = ["| key | type | default | values | description |", "|---|---|---|---|---|"]
        for name, f in fields.items():
            for inner in _models_in(f.annotation):
                if inner not in self.claimed and inner not in self.written and inner not in self.pending:
                    self.pending.append(inner)
            cells = (
                f"`{name}`",
                _type(f.annotation),
                _default(f),
                _constraints(f),
                _text(f.description or ""),
            )
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        self.parts.append("\n" + "\n".join(rows) + "\n")

    def nested(self) -> None:
        """The models the tables so far point to that have no section yet, each under its own heading."""
        while self.pending:
            model = self.pending.pop(0)
            if model not in self.written:
                self.heading(4, model.__name__)
                self.model(model)

    def text(self) -> str:
        return "".join(self.parts).lstrip("\n")


def _field(model: type[BaseModel], description: str) -> FieldInfo:
    """A key a plug-in adds to a werk model (a section, an asset key): optional, holding ``model``."""
    optional: Any = model | None
    return FieldInfo(annotation=optional, default=None, description=description)


def _model_of(annotation: Any) -> type[BaseModel]:
    return next(_models_in(annotation))


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The settings models an annotation holds, through unions, containers and ``Annotated``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


_NAMES: dict[Any, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
    dt.date: "date",
    dt.datetime: "date and time",
    SecretStr: "text (secret)",
    type(None): "null",
    Any: "any",
}


def _type(annotation: Any) -> str:
    """An annotation in a plant engineer's words; settings models link to their section."""
    if annotation in _NAMES:
        return _NAMES[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " or ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}"
    if origin is tuple:
        return "[" + ", ".join(_type(a) for a in args) + "]"
    return getattr(annotation, "__name__", str(annotation))


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "*required*"
    value = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "*required*"
    if isinstance(value, BaseModel):
        return "its defaults"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return f"{len(value)} entries: " + ", ".join(f"`{k}`" for k in value)
    text = json.dumps(value, default=str)
    return f"`{text}`"


#: annotated_types' bounds, by the attribute that holds each and how the reference writes it
_BOUNDS: tuple[tuple[type, str, str], ...] = (
    (annotated_types.Ge, "ge", "≥ {}"),
    (annotated_types.Gt, "gt", "> {}"),
    (annotated_types.Le, "le", "≤ {}"),
    (annotated_types.Lt, "lt", "< {}"),
    (annotated_types.MinLen, "min_length", "length ≥ {}"),
    (annotated_types.MaxLen, "max_length", "length ≤ {}"),
)


def _constraints(f: FieldInfo) -> str:
    """What the field's validators say of its values, in the order pydantic keeps them."""
    out: list[str] = []
    for m in [*f.metadata, *_annotated_metadata(f.annotation)]:
        for kind, attr, form in _BOUNDS:
            if isinstance(m, kind):
                out.append(form.format(getattr(m, attr)))
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return ", ".join(dict.fromkeys(out))


def _annotated_metadata(annotation: Any) -> list[Any]:
    """Constraints given with the type itself (``Annotated[str, Field(min_length=1)]``)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return []
    out: list[Any] = []
    for extra in typing.get_args(annotation)[1:]:
        out.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    return out


def _text(doc: str) -> str:
    """A docstring as one paragraph of Markdown."""
    return _inline(" ".join(line.strip() for line in doc.strip().splitlines() if line.strip()))


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _inline(text: str) -> str:
    """reST's inline markup as Markdown: ``literal`` and :role:`target` become `code`; ``<`` outside code is
    escaped, so ``<ms>`` is text, not an HTML tag."""
    parts = _LITERAL.sub(r"`\1`", _ROLE.sub(r"`\1`", text)).split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = parts[i].replace("<", "&lt;")
    return "`".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


_UNDERLINE = re.compile(r"^(-{3,}|={3,})$")


def _markdown(doc: str) -> str:
    """A spec's reference (docstrings) as Markdown: underlined headings become bold lines, ``::`` a colon, reST
    inline markup code; indented blocks stay code blocks, untouched, and bullet lists lists."""
    out: list[str] = []
    for line in doc.splitlines():
        line = line.rstrip()
        if _UNDERLINE.match(line.strip()) and out and out[-1].strip():
            out[-1] = f"**{out[-1].strip()}**\n"
            continue
        if line.startswith("    "):
            out.append(line)
        else:
            out.append(_inline(line[:-1] if line.endswith("::") else line))
    return "\n".join(out).strip() + "\n"
