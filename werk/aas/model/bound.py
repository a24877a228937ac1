"""Bound Properties: elements whose value comes from outside the twin, as far as the AAS server needs to know.

A bound Property shows a value the server does not store: it is read just before the Property is serialised, so
every read sees the value of that moment and nothing is copied into the twin in the background. The server does
not know where such values come from. A :class:`LiveBinding` tells it which Properties are bound, to which
sources (:class:`Binding`), and how a source's latest sample becomes the Property's value; werk binds the plant's
Unified Namespace signals (:class:`werk.twin.binding.UnsBinding`). A bound Property refuses a write of its value,
unless the binding is ``direct`` and the server was given a way to write to the source (a machine's setpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from basyx.aas import model

from werk.aas.model.formats import element_container
from werk.core.model import Sample

LiveValue = Callable[[str], Sample | None]
"""Latest sample of a source by its path, ``None`` if none yet (e.g. ``platform.live.latest.get``)."""


@dataclass(frozen=True)
class Binding:
    """How a Property gets its value: ``kind`` names the way (a qualifier type), ``paths`` the sources it reads,
    ``scale`` multiplies a number read. ``direct``: the value is one source's latest value as it is, so a write of
    the value is a write to that source."""

    kind: str
    paths: tuple[str, ...]
    scale: float = 1.0
    direct: bool = False


class LiveBinding(Protocol):
    """What the AAS server asks of the values bound into its twin."""

    def binding(self, element: object) -> Binding | None:
        """The binding of ``element`` if it is a bound Property, else None."""
        ...

    def latest(self, path: str) -> Sample | None:
        """The latest sample of a source."""
        ...

    def refresh_bound(self, bound: Iterable[tuple[model.Property, Binding]], latest: LiveValue) -> int:
        """Set each Property to the value its binding gives with the samples of ``latest``; how many had one.
        The caller holds the store's lock: this writes into shared objects."""
        ...


class Unbound:
    """No bound values: a twin served on its own, without a plant behind it."""

    def binding(self, element: object) -> Binding | None:
        return None

    def latest(self, path: str) -> Sample | None:
        return None

    def refresh_bound(self, bound: Iterable[tuple[model.Property, Binding]], latest: LiveValue) -> int:
        return 0


def bindings(live: LiveBinding, obj: object) -> Iterator[tuple[model.Property, Binding]]:
    """Every bound Property in ``obj`` (a Submodel or SubmodelElement) with its binding, depth first."""
    b = live.binding(obj)
    if b is not None:
        assert isinstance(obj, model.Property)
        yield obj, b
    for child in element_container(obj) or ():
        yield from bindings(live, child)


def refresh(live: LiveBinding, obj: object) -> int:
    """Set every bound Property under ``obj`` to its live value; returns how many had one (caller holds the lock)."""
    return live.refresh_bound(bindings(live, obj), live.latest)
