"""Live values in the twin: Properties bound to Unified Namespace signals read the signal's latest sample.

A bound Property carries a Qualifier of type :data:`~werk.twin.environment.UNS_QUALIFIER_TYPE` whose value is the
signal's UNS path. The AAS API calls :func:`refresh` on a submodel or element just before serialising it, so every
read (normal, ``$value``, ``$metadata``) sees the value the platform holds at that moment; nothing is copied into the
twin in the background, so the twin cannot lag behind or hold a value the platform no longer has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from basyx.aas import model

from werk.core.model import Sample
from werk.twin.environment import UNS_QUALIFIER_TYPE

LiveValue = Callable[[str], Sample | None]
"""Latest sample of a signal by UNS path, ``None`` if none yet (e.g. ``platform.live.latest.get``)."""


def bound_path(element: object) -> str | None:
    """The UNS path a Property is bound to, if any."""
    if not isinstance(element, model.Property):
        return None
    for q in element.qualifier:
        if q.type == UNS_QUALIFIER_TYPE and isinstance(q.value, str):
            return q.value
    return None


def _children(obj: object) -> Iterable[object]:
    if isinstance(obj, model.Submodel):
        return obj.submodel_element
    if isinstance(obj, model.SubmodelElementCollection | model.SubmodelElementList):
        return obj.value
    if isinstance(obj, model.Entity):
        return obj.statement
    if isinstance(obj, model.AnnotatedRelationshipElement):
        return obj.annotation
    return ()


def bound_properties(obj: object) -> Iterator[tuple[model.Property, str]]:
    """Every bound Property in ``obj`` (a Submodel or SubmodelElement), depth first."""
    path = bound_path(obj)
    if path is not None:
        assert isinstance(obj, model.Property)
        yield obj, path
    for child in _children(obj):
        yield from bound_properties(child)


# Part 1 DataTypeDefXsd of a sample value's Python type (bool is checked by its exact type, so it is not an int);
# typed Any: basyx's AnyXSDType alias names dateutil's relativedelta, which has no stubs in werk's dev set
_XSD_OF: dict[type, Any] = {
    bool: model.datatypes.Boolean,
    int: model.datatypes.Long,
    float: model.datatypes.Double,
    str: model.datatypes.String,
}


def refresh(obj: object, live_value: LiveValue) -> int:
    """Set every bound Property under ``obj`` to its signal's latest value; returns how many had a value.

    A signal with no sample yet leaves the Property without a value (absent, not zero). The caller holds the
    store's lock: this writes into shared objects.
    """
    n = 0
    for prop, path in bound_properties(obj):
        sample = live_value(path)
        if sample is None:
            prop.value = None
            continue
        kind = _XSD_OF[type(sample.value)]
        if prop.value_type is not kind:
            prop.value = None  # first clear, so the old value is not cast to the new type
            prop.value_type = kind
        prop.value = sample.value  # basyx casts to value_type (trivial_cast)
        n += 1
    return n
