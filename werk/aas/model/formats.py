"""The serialisation modifiers of the AAS HTTP API: ``level``, ``extent``, ``$metadata``, ``$value``, ``$reference``
and ``$path`` (IDTA-01002-3-0 Part 2, HTTP/REST API: "Serialization Modifiers" and "ValueOnly-Serialization").

basyx-python-sdk serialises whole objects only; these functions derive the other views from its JSON output (the
normal form), or from the basyx objects where the view is not a subset of that output (value-only, references,
idShort paths). They are pure: the API passes objects in and gets JSON data back.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, Literal

from basyx.aas import model

from werk.aas.adapter.io import to_jsonable
from werk.errors import AasError

Level = Literal["deep", "core"]
Extent = Literal["withoutBlobValue", "withBlobValue"]

# the attributes that hold a submodel element's children, per JSON modelType
_CHILD_KEYS = ("value", "statements", "annotations", "submodelElements")
# what $metadata leaves out: the attributes that make up the value (Part 2, Serialization Modifiers, content=metadata)
_VALUE_KEYS: dict[str, tuple[str, ...]] = {
    "Property": ("value", "valueId"),
    "MultiLanguageProperty": ("value", "valueId"),
    "Range": ("min", "max"),
    "Blob": ("value",),
    "File": ("value",),
    "ReferenceElement": ("value",),
    "SubmodelElementCollection": ("value",),
    "SubmodelElementList": ("value",),
    # first, second, observed and an Entity's asset ids (AASd-014) are required: the metadata keeps them so it
    # stays a valid element
    "Entity": ("statements",),
    "AnnotatedRelationshipElement": ("annotations",),
    "Submodel": ("submodelElements",),
}
# xs types whose value-only form is a JSON number (Part 2, ValueOnly-Serialization: typed by valueType)
_NUMBERS = frozenset(
    [
        "xs:decimal",
        "xs:integer",
        "xs:double",
        "xs:float",
        "xs:long",
        "xs:int",
        "xs:short",
        "xs:byte",
        "xs:nonNegativeInteger",
        "xs:positiveInteger",
        "xs:nonPositiveInteger",
        "xs:negativeInteger",
        "xs:unsignedLong",
        "xs:unsignedInt",
        "xs:unsignedShort",
        "xs:unsignedByte",
    ]
)


def normal(obj: object, level: Level = "deep", extent: Extent = "withoutBlobValue") -> Any:
    """The normal JSON form with ``level`` (core: children, not grandchildren) and ``extent`` (Blob values only
    with ``withBlobValue``) applied."""
    data = to_jsonable(obj)
    if level == "core":
        data = _cut(data, depth=0)
    if extent == "withoutBlobValue":
        data = _drop_blob_values(data)
    return data


def _cut(data: Any, depth: int) -> Any:
    """Keep the object's direct children, drop theirs (level=core)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in _CHILD_KEYS:
        children = out.get(key)
        if (
            isinstance(children, list)
            and children
            and all(isinstance(c, dict) and "modelType" in c for c in children)
        ):
            if depth >= 1:
                del out[key]
            else:
                out[key] = [_cut(c, depth + 1) for c in children]
    return out


def _drop_blob_values(data: Any) -> Any:
    if isinstance(data, dict):
        if data.get("modelType") == "Blob":
            return {k: v for k, v in data.items() if k != "value"}
        return {k: _drop_blob_values(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_drop_blob_values(v) for v in data]
    return data


def metadata(obj: object) -> Any:
    """``$metadata``: the object without its value attributes. Capability and Operation have no value, so the
    modifier does not apply to them (Part 2, Serialization Modifiers) and they raise :class:`AasError`."""
    if isinstance(obj, model.Capability | model.Operation):
        raise AasError(
            f"$metadata is not defined for {type(obj).__name__} (IDTA-01002-3-0, Serialization Modifiers)"
        )
    data = to_jsonable(obj)
    drop = _VALUE_KEYS.get(str(data.get("modelType")), ())
    return {k: v for k, v in data.items() if k not in drop}


# --- value-only (Part 2, ValueOnly-Serialization) -----------------------------------------------------------------------------


def value_only(obj: object, extent: Extent = "withoutBlobValue") -> Any:
    """``$value`` of a submodel (an object of its elements' values by idShort) or of an element
    (``{idShort: value}``)."""
    if isinstance(obj, model.Submodel):
        return _values_by_id_short(obj.submodel_element, extent)
    if isinstance(obj, model.SubmodelElement):
        return {obj.id_short or "": element_value(obj, extent)}
    raise AasError(f"$value is not defined for {type(obj).__name__}")


def _values_by_id_short(elements: Any, extent: Extent) -> dict[str, Any]:
    return {
        str(el.id_short): element_value(el, extent)
        for el in elements
        if not isinstance(el, model.Capability | model.Operation)
    }


def _xsd_json(value: Any, value_type: Any) -> Any:
    if value is None:
        return None
    text = model.datatypes.xsd_repr(value)
    name = model.datatypes.XSD_TYPE_NAMES.get(value_type, "")
    if name == "xs:boolean":
        return text == "true"
    if name in _NUMBERS:
        try:
            number = float(text)
        except ValueError:
            return text
        if name in ("xs:double", "xs:float", "xs:decimal"):
            return number if number == number and abs(number) != float("inf") else text
        return int(text)
    return text


def _ref(ref: model.Reference | None) -> Any:
    return to_jsonable(ref) if ref is not None else None


def element_value(el: model.SubmodelElement, extent: Extent = "withoutBlobValue") -> Any:
    """The value-only form of one element, without its idShort."""
    if isinstance(el, model.Property):
        return _xsd_json(el.value, el.value_type)
    if isinstance(el, model.MultiLanguageProperty):
        return [{lang: text} for lang, text in (el.value or {}).items()]
    if isinstance(el, model.Range):
        return {"min": _xsd_json(el.min, el.value_type), "max": _xsd_json(el.max, el.value_type)}
    if isinstance(el, model.File):
        return {"contentType": el.content_type, **({"value": el.value} if el.value is not None else {})}
    if isinstance(el, model.Blob):
        out: dict[str, Any] = {"contentType": el.content_type}
        if extent == "withBlobValue" and el.value is not None:
            out["value"] = base64.b64encode(el.value).decode()
        return out
    if isinstance(el, model.ReferenceElement):
        return _ref(el.value)
    if isinstance(el, model.SubmodelElementCollection):
        return _values_by_id_short(el.value, extent)
    if isinstance(el, model.SubmodelElementList):
        return [element_value(child, extent) for child in el.value]
    if isinstance(el, model.AnnotatedRelationshipElement):
        return {
            "first": _ref(el.first),
            "second": _ref(el.second),
            "annotations": [{str(a.id_short): element_value(a, extent)} for a in el.annotation],
        }
    if isinstance(el, model.RelationshipElement):
        return {"first": _ref(el.first), "second": _ref(el.second)}
    if isinstance(el, model.Entity):
        out = {
            "statements": _values_by_id_short(el.statement, extent),
            "entityType": "SelfManagedEntity"
            if el.entity_type is model.EntityType.SELF_MANAGED_ENTITY
            else "CoManagedEntity",
        }
        if el.global_asset_id:
            out["globalAssetId"] = el.global_asset_id
        if el.specific_asset_id:
            out["specificAssetIds"] = [to_jsonable(s) for s in el.specific_asset_id]
        return out
    if isinstance(el, model.BasicEventElement):
        return {"observed": _ref(el.observed)}
    return {}  # Capability, Operation: no value


# --- idShort paths and references (Part 2, idShortPath notation) -----------------------------------------------

_SEGMENT = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)((?:\[\d+\])*)$")


def parse_id_short_path(path: str) -> list[str | int]:
    """``a.b[2].c`` as ``["a", "b", 2, "c"]``; :class:`ValueError` when malformed."""
    if not path:
        raise ValueError("empty idShortPath")
    out: list[str | int] = []
    for segment in path.split("."):
        m = _SEGMENT.match(segment)
        if m is None:
            raise ValueError(f"malformed idShortPath segment {segment!r} in {path!r}")
        out.append(m.group(1))
        out += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return out


def element_container(parent: object) -> Any:
    """The NamespaceSet that holds a parent's child elements (IDTA-01001: a submodel's submodelElements, a
    collection's or list's value, an entity's statements, an annotated relationship's annotations); None if the
    parent holds none."""
    if isinstance(parent, model.Submodel):
        return parent.submodel_element
    if isinstance(parent, model.SubmodelElementCollection | model.SubmodelElementList):
        return parent.value
    if isinstance(parent, model.Entity):
        return parent.statement
    if isinstance(parent, model.AnnotatedRelationshipElement):
        return parent.annotation
    return None


def children(obj: object) -> list[model.SubmodelElement]:
    return list(element_container(obj) or ())


def resolve(submodel: model.Submodel, path: str) -> model.SubmodelElement:
    """The element at ``path``; :class:`KeyError` if absent, :class:`ValueError` if the path is malformed."""
    node: object = submodel
    for step in parse_id_short_path(path):
        if isinstance(step, int):
            if not isinstance(node, model.SubmodelElementList):
                raise KeyError(f"{path}: index [{step}] on an element that is not a list")
            items = list(node.value)
            if step >= len(items):
                raise KeyError(f"{path}: index [{step}] beyond the list's {len(items)} elements")
            node = items[step]
        else:
            found = [c for c in children(node) if c.id_short == step]
            if not found:
                raise KeyError(f"{path}: no element {step!r}")
            node = found[0]
    assert isinstance(node, model.SubmodelElement)
    return node


def id_short_paths(obj: object, prefix: str = "", level: Level = "deep") -> Iterator[str]:
    """idShortPaths of every element under ``obj`` (``level=core``: direct children only)."""
    is_list = isinstance(obj, model.SubmodelElementList)
    for i, child in enumerate(children(obj)):
        if is_list:
            path = f"{prefix}[{i}]"
        else:
            path = f"{prefix}.{child.id_short}" if prefix else str(child.id_short)
        yield path
        if level == "deep":
            yield from id_short_paths(child, path, level)


def element_paths(el: model.SubmodelElement, path: str, level: Level = "deep") -> list[str]:
    """``$path`` of an element: itself and its descendants; only collections, lists and entities have paths
    below them, so other elements raise :class:`AasError` (Part 2, content=path)."""
    if not isinstance(el, model.SubmodelElementCollection | model.SubmodelElementList | model.Entity):
        raise AasError(
            f"$path is not defined for {type(el).__name__} (IDTA-01002-3-0, content=path applies to collections, lists and entities)"
        )
    return [path, *id_short_paths(el, path, level)]


def reference(submodel: model.Submodel, path: str | None = None) -> Any:
    """``$reference``: a ModelReference to the submodel, or to the element at ``path`` (Part 1, class
    Reference: one key per step; list items are keyed by their index)."""
    keys: list[dict[str, str]] = [{"type": "Submodel", "value": submodel.id}]
    node: object = submodel
    for step in parse_id_short_path(path) if path else []:
        if isinstance(step, int):
            node = list(children(node))[step]
            keys.append({"type": _model_type(node), "value": str(step)})
        else:
            node = next(c for c in children(node) if c.id_short == step)
            keys.append({"type": _model_type(node), "value": step})
    return {"type": "ModelReference", "keys": keys}


def _model_type(obj: object) -> str:
    name = type(obj).__name__
    return {"DataSpecificationIEC61360": "DataSpecificationIec61360"}.get(name, name)
