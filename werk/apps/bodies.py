"""An app's response bodies derived from the dataclasses its pure modules compute, so that a record's fields are
declared once: on the dataclass, each documented by ``field(metadata=doc("..."))``.

The derived model answers and documents exactly the dataclass's fields (less ``exclude``, plus ``extra``), in its
order, each required (an answer always carries it); a field whose type is another dataclass (also in a list, a
mapping or a union) takes that dataclass's body, which must have been derived first. The model's OpenAPI
description is the dataclass's docstring.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field, create_model

DESCRIPTION = "description"
_BODIES: dict[type, type[BaseModel]] = {}


def doc(text: str) -> dict[str, str]:
    """A dataclass field's ``metadata``: ``text`` describes the field in the API bodies derived from it."""
    return {DESCRIPTION: text}


def body_of(
    cls: type,
    name: str,
    module: str,
    *,
    exclude: Iterable[str] = (),
    extra: Mapping[str, tuple[Any, Any]] | None = None,
) -> Any:
    """The pydantic model ``name`` (made in ``module``, for OpenAPI's names) of dataclass ``cls``'s fields.

    ``extra``: fields the API adds, as ``create_model`` takes them: ``(type, default or Field(...))``. The model is
    made at run time, so to the type checker it is a value: Any (as :mod:`werk.config.schema`'s are)."""
    hints = typing.get_type_hints(cls)
    skip = set(exclude)
    fields: dict[str, Any] = {
        f.name: (_body_type(hints[f.name]), Field(description=f.metadata.get(DESCRIPTION)))
        for f in dataclasses.fields(cls)
        if f.name not in skip
    } | dict(extra or {})
    text = cls.__doc__
    model: type[BaseModel] = create_model(
        name,
        __doc__=None if text is None or text.startswith(f"{cls.__name__}(") else text,
        __module__=module,
        **fields,
    )
    _BODIES[cls] = model
    return model


def _body_type(tp: Any) -> Any:
    """``tp`` with each dataclass in it replaced by its body."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp not in _BODIES:
            raise TypeError(f"derive the body of {tp.__name__} before a body that holds it")
        return _BODIES[tp]
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if not args or origin is typing.Literal:
        return tp
    swapped = tuple(_body_type(a) for a in args)
    if origin in (types.UnionType, typing.Union):
        return functools.reduce(operator.or_, swapped)
    return origin[swapped]
