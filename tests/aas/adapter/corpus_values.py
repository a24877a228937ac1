"""Whether an exported AAS environment holds the values of the original: each leaf the same text, the same value in
another lexical form (``+1`` and ``1``, ``PT130S`` and ``PT2M10S``), or a default written out or left out. Used by
the corpus test and by ``benchmarks/aas_corpus.py``."""

from __future__ import annotations

from basyx.aas import model
from dateutil.relativedelta import relativedelta

import werk.twin  # noqa: F401  (werk's reading of date and time values)

# Attributes whose default the writer may write out or leave out (IDTA-01001: Qualifier.kind, Submodel.kind,
# SubmodelElementList.orderRelevant).
DEFAULTS = {"kind": ("ConceptQualifier", "Instance"), "orderRelevant": (True,)}


def _same_value(a: object, b: object, value_type: str | None) -> bool:
    """Whether two lexical forms of an XSD-typed value are one value (``+1`` and ``1``, ``.5E1`` and ``5.0``)."""
    type_ = model.datatypes.XSD_TYPE_CLASSES.get(value_type or "")
    if type_ is None or not isinstance(a, str) or not isinstance(b, str):
        return False
    x, y = model.datatypes.from_xsd(a, type_), model.datatypes.from_xsd(b, type_)
    if isinstance(x, relativedelta):  # durations: PT130S is PT2M10S
        return bool(x.normalized() == y.normalized())
    return bool(x == y)


def value_changes(original: object, exported: object, where: str = "", parent: object = None) -> list[str]:
    """Where the export differs from the original in something other than a value's lexical form or a default."""
    if isinstance(original, dict) and isinstance(exported, dict):
        out: list[str] = []
        for key in original.keys() | exported.keys():
            a, b = original.get(key), exported.get(key)
            if a is None or b is None:
                if (a if b is None else b) not in DEFAULTS.get(key, ()):
                    out.append(f"{where}.{key}: {a!r} became {b!r}")
            else:
                out += value_changes(a, b, f"{where}.{key}", original)
        return out
    if isinstance(original, list) and isinstance(exported, list) and len(original) == len(exported):
        return [
            c
            for i, (a, b) in enumerate(zip(original, exported, strict=True))
            for c in value_changes(a, b, f"{where}[{i}]")
        ]
    if original == exported:
        return []
    value_type = parent.get("valueType") if isinstance(parent, dict) else None
    key = where.rsplit(".", 1)[-1]
    if key in ("value", "min", "max") and _same_value(original, exported, value_type):
        return []
    if key in ("minInterval", "maxInterval") and _same_value(original, exported, "xs:duration"):
        return []
    if key == "lastUpdate" and _same_value(original, exported, "xs:dateTime"):
        return []
    return [f"{where}: {original!r} became {exported!r}"]
