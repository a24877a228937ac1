"""Bound elements read the latest sample: the twin's Properties bound to Unified Namespace signals.

A bound Property carries a Qualifier (Part 1, class Qualifier, kind ValueQualifier: it says where the value comes
from) whose type names the kind of binding and whose value names the signals, by UNS path:

- :data:`~werk.twin.environment.UNS_QUALIFIER_TYPE` (``werk:UnsPath``): the signal's latest value; the Property's
  valueType follows the sample's type (werk's own OperationalData, where the plant file declares no types);
- :data:`~werk.twin.environment.UNS_VALUE_QUALIFIER_TYPE` (``werk:UnsValue``): the latest value, converted to the
  valueType the Property declares (elements of IDTA templates, whose types the template fixes);
- :data:`~werk.twin.environment.UNS_TIME_QUALIFIER_TYPE` (``werk:UnsTime``, paths separated by spaces): the time of
  the newest of the signals' latest samples (a PublicationDate, a StartDateTime);
- :data:`~werk.twin.environment.UNS_QUOTIENT_QUALIFIER_TYPE` (``werk:UnsQuotient``, ``numerator denominator``):
  the quotient of two signals' latest values, times the Property's ``werk:Scale`` qualifier if it has one (energy
  per part times an emission factor); absent while the denominator is not positive.

:class:`UnsBinding` is the :class:`werk.aas.model.bound.LiveBinding` the AAS server reads them through, just
before it serialises a submodel or element, so every read (normal, ``$value``, ``$metadata``) sees the value the
platform holds at that moment: the twin cannot lag behind or hold a value the platform no longer has. A
``werk:UnsPath`` Property bound to one signal is ``direct``: its value may be written to the machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from basyx.aas import model

from werk.aas.model.bound import Binding, LiveBinding, LiveValue, bindings
from werk.core.model import Sample
from werk.twin.environment import (
    SCALE_QUALIFIER_TYPE,
    UNS_QUALIFIER_TYPE,
    UNS_QUOTIENT_QUALIFIER_TYPE,
    UNS_TIME_QUALIFIER_TYPE,
    UNS_VALUE_QUALIFIER_TYPE,
)

_BINDING_TYPES = (
    UNS_QUALIFIER_TYPE,
    UNS_VALUE_QUALIFIER_TYPE,
    UNS_TIME_QUALIFIER_TYPE,
    UNS_QUOTIENT_QUALIFIER_TYPE,
)


def binding(element: object) -> Binding | None:
    """The binding of a Property, if it has one (the first binding qualifier wins)."""
    if not isinstance(element, model.Property):
        return None
    found: Binding | None = None
    scale = 1.0
    for q in element.qualifier:
        if found is None and q.type in _BINDING_TYPES and isinstance(q.value, str):
            found = Binding(q.type, tuple(q.value.split()))
        elif q.type == SCALE_QUALIFIER_TYPE and isinstance(q.value, int | float | Decimal):
            scale = float(q.value)
    if found is None or not found.paths:
        return None
    direct = found.kind == UNS_QUALIFIER_TYPE and len(found.paths) == 1
    return Binding(found.kind, found.paths, scale, direct)


def bound_path(element: object) -> str | None:
    """The UNS path (or paths, space-separated) a Property is bound to, if any."""
    b = binding(element)
    return " ".join(b.paths) if b is not None else None


# Part 1 DataTypeDefXsd of a sample value's Python type (bool is checked by its exact type, so it is not an int);
# typed Any: basyx's AnyXSDType alias names dateutil's relativedelta, which has no stubs in werk's dev set
_XSD_OF: dict[type, Any] = {
    bool: model.datatypes.Boolean,
    int: model.datatypes.Long,
    float: model.datatypes.Double,
    str: model.datatypes.String,
}


class UnsBinding:
    """The plant's signals as the AAS server's :class:`~werk.aas.model.bound.LiveBinding`: ``latest`` is the
    platform's latest sample per UNS path (``platform.live.latest.get``)."""

    def __init__(self, latest: LiveValue) -> None:
        self.latest = latest

    def binding(self, element: object) -> Binding | None:
        return binding(element)

    def refresh_bound(self, bound: Iterable[tuple[model.Property, Binding]], latest: LiveValue) -> int:
        return refresh_bound(bound, latest)


def refresh(obj: object, live_value: LiveValue) -> int:
    """Set every bound Property under ``obj`` to its live value; returns how many had one.

    A signal with no sample yet leaves the Property without a value (absent, not zero), and so does a sample that
    does not convert to a declared valueType. The caller holds the store's lock: this writes into shared objects.
    """
    live: LiveBinding = UnsBinding(live_value)
    return refresh_bound(bindings(live, obj), live_value)


def bound_properties(obj: object) -> list[tuple[model.Property, str]]:
    """Every bound Property in ``obj`` with its UNS path (paths space-separated), depth first."""
    return [(prop, " ".join(b.paths)) for prop, b in bindings(UnsBinding(lambda _: None), obj)]


def refresh_bound(bound: Iterable[tuple[model.Property, Binding]], live_value: LiveValue) -> int:
    """:func:`refresh` of Properties whose bindings were found already: a reader that serves the same submodel many
    times walks its tree once, not on every read."""
    n = 0
    for prop, b in bound:
        if b.kind == UNS_QUALIFIER_TYPE:
            n += _follow_sample(prop, live_value(b.paths[0]))
        else:
            value = _computed(b, live_value)
            n += _set_declared(prop, value)
    return n


def _follow_sample(prop: model.Property, sample: Sample | None) -> int:
    if sample is None:
        prop.value = None
        return 0
    kind = _XSD_OF[type(sample.value)]
    if prop.value_type is not kind:
        prop.value = None  # first clear, so the old value is not cast to the new type
        prop.value_type = kind
    prop.value = sample.value  # basyx casts to value_type (trivial_cast)
    return 1


def _computed(b: Binding, live_value: LiveValue) -> object:
    samples = [live_value(p) for p in b.paths]
    if any(s is None for s in samples):
        return None
    present = [s for s in samples if s is not None]
    if b.kind == UNS_TIME_QUALIFIER_TYPE:
        return max(s.ts for s in present)
    if b.kind == UNS_QUOTIENT_QUALIFIER_TYPE:
        if len(present) != 2:
            return None
        num, den = present[0].value, present[1].value
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (num, den)):
            return None
        assert isinstance(num, int | float) and isinstance(den, int | float)
        return float(num) / float(den) * b.scale if den > 0 else None
    return present[0].value


def _set_declared(prop: model.Property, value: object) -> int:
    """Set ``value`` converted to the Property's declared valueType; absent if it has none or does not convert."""
    prop.value = None
    if value is None:
        return 0
    name = model.datatypes.XSD_TYPE_NAMES.get(prop.value_type, "")
    try:
        if name == "xs:dateTime":
            if not isinstance(value, datetime):
                return 0
            prop.value = value
        elif name == "xs:decimal":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return 0
            # 6 significant digits: the inputs (meter readings, counters) carry no more
            prop.value = Decimal(f"{value:.6g}")
        elif name in ("xs:double", "xs:float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return 0
            prop.value = float(value)
        elif name == "xs:boolean":
            if not isinstance(value, bool):
                return 0
            prop.value = value
        elif name == "xs:string":
            prop.value = str(value)
        else:
            prop.value = value  # basyx casts or refuses
    except (TypeError, ValueError, InvalidOperation):
        prop.value = None
        return 0
    return 1
