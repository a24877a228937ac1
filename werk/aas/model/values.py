"""Setting an element's value from its value-only form (Part 2 "ValueOnly" serialisation, PATCH ``$value``).

One implementation for every way a value is written (the routes and the fast path alike), so a check added here
holds for all of them and they cannot disagree on what a body means.
"""

from __future__ import annotations

import base64
from typing import Any

import aas_core3.verification as v30
from basyx.aas import model

from werk.errors import AasError


def apply_value(el: model.SubmodelElement, value: Any) -> None:
    """PATCH ``$value``: set an element's value from its value-only form. Raises :class:`AasError` when the form
    does not fit the element (the element is left as it was)."""
    try:
        if isinstance(value, str | dict | list):  # a number or a boolean holds no text
            _check_text(value, el.id_short or "")
        _apply_value(el, value)
    except (ValueError, TypeError, KeyError) as exc:
        raise AasError(f"value does not fit {type(el).__name__} {el.id_short!r}: {exc}") from None


def _apply_value(el: model.SubmodelElement, value: Any) -> None:
    if isinstance(el, model.Property):
        el.value = None if value is None else model.datatypes.from_xsd(_lexical(value), el.value_type)
    elif isinstance(el, model.MultiLanguageProperty):
        if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
            raise TypeError("expected a list of {language: text} objects")
        if not all(isinstance(k, str) and isinstance(t, str) for d in value for k, t in d.items()):
            raise TypeError("expected a list of {language: text} objects with text values")
        el.value = model.MultiLanguageTextType({k: v for d in value for k, v in d.items()}) if value else None
    elif isinstance(el, model.Range):
        if not isinstance(value, dict):
            raise TypeError("expected an object with min and max")
        lo, hi = value.get("min"), value.get("max")
        el.min = None if lo is None else model.datatypes.from_xsd(_lexical(lo), el.value_type)
        el.max = None if hi is None else model.datatypes.from_xsd(_lexical(hi), el.value_type)
    elif isinstance(el, model.SubmodelElementCollection):
        if not isinstance(value, dict):
            raise TypeError("expected an object of values by idShort")
        children = {str(c.id_short): c for c in el.value}
        unknown = set(value) - set(children)
        if unknown:
            raise KeyError(f"no element {sorted(unknown)} in the collection")
        for key, v in value.items():
            _apply_value(children[key], v)
    elif isinstance(el, model.SubmodelElementList):
        items = list(el.value)
        if not isinstance(value, list) or len(value) != len(items):
            raise TypeError(f"expected a list of {len(items)} values")
        for child, v in zip(items, value, strict=True):
            _apply_value(child, v)
    elif isinstance(el, model.File):
        if not isinstance(value, dict):
            raise TypeError("expected an object with contentType and value")
        el.content_type = value["contentType"]
        el.value = value.get("value")
    elif isinstance(el, model.Blob):
        if not isinstance(value, dict):
            raise TypeError("expected an object with contentType and value")
        el.content_type = value["contentType"]
        el.value = base64.b64decode(value["value"]) if value.get("value") is not None else None
    else:
        raise TypeError(f"setting the value of a {type(el).__name__} is not supported")


def _check_text(value: Any, where: str) -> None:
    """Refuse a value-only form holding text AASd-130 forbids, before anything is set: checked for whole objects by
    aas-core on the way in, and a PATCH ``$value`` must not be the way around it. AASd-130 (the same in 3.0 and
    3.1): no control characters but tab and line ends, no lone surrogates, which JSON's escapes can carry and UTF-8
    cannot store."""
    if isinstance(value, str):
        if not v30.matches_xml_serializable_string(value):
            bad = next(c for c in value if not v30.matches_xml_serializable_string(c))
            raise ValueError(f"{where}: U+{ord(bad):04X} is not allowed in text (AASd-130)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, where)
            _check_text(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(v, f"{where}[{i}]")


def _lexical(value: Any) -> str:
    """The lexical form of a value-only scalar (Part 2 ValueOnly: a Property's value is a JSON string, number or
    boolean); an array, object or anything else JSON does not hold is refused, not written as Python shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"expected a JSON string, number or boolean, not {_json_kind(value)}")


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
