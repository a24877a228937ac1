"""Serialised answers of the AAS API's busiest reads, kept until the twin or a live value they show changes.

Why: basyx's JSON encoder costs 0.1-2.5 ms per submodel and 0.1-0.2 ms per shell, resolving a bound Property's live
value walks the whole submodel for its qualifiers, and Python's ``json.dumps`` costs ten times what orjson does. A
dashboard polls the same few submodels and values many times a second, and between two of its reads usually nothing
changed. So each view keeps the bytes it answered with and serves them again while:

- the store's :attr:`~werk.aas.backend.store.TwinStore.generation` is the one they were made at (every change made through
  the store bumps it: a PATCH, a PUT, an import), and
- every live sample the view shows is the very object it was made from: a :class:`~werk.core.model.Sample` is
  immutable, and :class:`~werk.runtime.latest.LatestValues` replaces a signal's sample, never changes it, so identity is
  a complete and cheap test.

Otherwise the view is made again, from one snapshot of the samples, so bytes and the samples they are keyed on always
agree. No answer is ever older than the last acknowledged write or the newest sample at the time of the read.

Every method expects the caller to hold the store's lock: views hold the basyx objects, and refreshing a live value
writes into them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription

from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.aas.model.bound import Binding, LiveBinding, bindings
from werk.aas.model.formats import element_container
from werk.core.model import Sample

#: entries per cache before it starts over (a bound on memory, far above a plant's objects and hot element paths)
MAX_ENTRIES = 50_000


def json_bytes(data: Any) -> bytes:
    """What Starlette's ``JSONResponse`` renders (compact, UTF-8, no NaN), by orjson: about ten times faster than
    ``json.dumps`` on these bodies. orjson refuses integers beyond 64 bits (``xs:integer`` has no bound); those
    bodies go through ``json.dumps`` as before."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(
            data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()


@dataclass
class _Live:
    """A view showing live values: valid at ``generation`` for the object ``target`` (by identity) while the samples
    of ``paths`` are ``samples`` (by identity)."""

    generation: int
    target: object
    bound: list[tuple[model.Property, Binding]]
    paths: tuple[str, ...]
    samples: tuple[Sample | None, ...]
    body: bytes
    # submodels only: the normal JSON and, inside it, the object of each bound Property (rewritten on a new sample)
    data: Any = None
    json_of: list[tuple[dict[str, Any], model.Property]] | None = None


class ReadCache:
    """The views of one store, for the API's routes and its fast path (:mod:`werk.aas.http.fast`) alike, so both
    answer with the same bytes."""

    def __init__(self, store: TwinStore, live: LiveBinding) -> None:
        self.store = store
        self.live = live
        self._identifiable: dict[str, tuple[int, object, Any, bytes | None]] = {}
        self._shells: tuple[int, bytes] | None = None
        self._submodels: dict[str, _Live] = {}
        self._values: dict[tuple[str, str], _Live] = {}
        self._elements: dict[tuple[str, str], tuple[int, object, model.SubmodelElement]] = {}

    # --- shells and concept descriptions: no live values --------------------------------------------------------

    def jsonable(self, obj: model.AssetAdministrationShell | ConceptDescription) -> Any:
        """The normal JSON of a shell or concept description."""
        return self._identifiable_entry(obj)[2]

    def identifiable_body(self, obj: model.AssetAdministrationShell | ConceptDescription) -> bytes:
        entry = self._identifiable_entry(obj)
        if entry[3] is None:
            entry = (*entry[:3], json_bytes(entry[2]))
            self._identifiable[obj.id] = entry
        assert entry[3] is not None
        return entry[3]

    def _identifiable_entry(self, obj: model.Identifiable) -> tuple[int, object, Any, bytes | None]:
        hit = self._identifiable.get(obj.id)
        if hit is not None and hit[0] == self.store.generation and hit[1] is obj:
            return hit
        if len(self._identifiable) > MAX_ENTRIES:
            self._identifiable.clear()
        entry = (self.store.generation, obj, aas_io.to_jsonable(obj), None)
        self._identifiable[obj.id] = entry
        return entry

    def all_shells_body(self) -> bytes:
        """``GET /shells`` without filters or paging: one page holding every shell."""
        generation = self.store.generation
        if self._shells is not None and self._shells[0] == generation:
            return self._shells[1]
        shells = self.store.all(model.AssetAdministrationShell)
        body = json_bytes({"paging_metadata": {}, "result": [self.jsonable(s) for s in shells]})
        self._shells = (generation, body)
        return body

    # --- submodels and elements: live values ----------------------------------------------------------------------

    def submodel_body(self, sm: model.Submodel) -> bytes:
        """The normal JSON of a submodel, level deep, without Blob values (the defaults of ``GET /submodels/{id}``)."""
        entry = self._submodels.get(sm.id)
        if entry is None or entry.generation != self.store.generation or entry.target is not sm:
            bound = list(bindings(self.live, sm))
            paths = _paths(bound)
            samples = self._samples(paths)
            self.live.refresh_bound(bound, dict(zip(paths, samples, strict=True)).get)
            data = formats.normal(sm, "deep", "withoutBlobValue")
            if len(self._submodels) > MAX_ENTRIES:
                self._submodels.clear()
            entry = _Live(self.store.generation, sm, bound, paths, samples, json_bytes(data), data)
            entry.json_of = list(_bound_json(self.live, sm, data))
            self._submodels[sm.id] = entry
            return entry.body
        samples = self._samples(entry.paths)
        if _same(samples, entry.samples):
            return entry.body
        self.live.refresh_bound(entry.bound, dict(zip(entry.paths, samples, strict=True)).get)
        assert entry.json_of is not None
        for obj, prop in entry.json_of:
            if prop.value is None:
                obj.pop("value", None)
            else:
                obj["value"] = model.datatypes.xsd_repr(prop.value)
            obj["valueType"] = model.datatypes.XSD_TYPE_NAMES[prop.value_type]
        entry.samples = samples
        entry.body = json_bytes(entry.data)
        return entry.body

    def element(self, sm: model.Submodel, path: str) -> model.SubmodelElement:
        """:func:`werk.aas.model.formats.resolve`, remembered until the store's structure changes (a path is parsed and
        the tree walked once, not per read or value write). Raises as ``resolve`` does: KeyError if absent,
        ValueError if malformed."""
        key = (sm.id, path)
        hit = self._elements.get(key)
        if hit is not None and hit[0] == self.store.structure and hit[1] is sm:
            return hit[2]
        el = formats.resolve(sm, path)
        if len(self._elements) > MAX_ENTRIES:
            self._elements.clear()
        self._elements[key] = (self.store.structure, sm, el)
        return el

    def element_value_body(self, sm: model.Submodel, path: str) -> bytes:
        """``$value`` of the element at ``path`` without Blob values (the default extent); raises as :meth:`element`."""
        key = (sm.id, path)
        entry = self._values.get(key)
        if entry is not None and entry.generation == self.store.generation and entry.target is sm:
            bound, paths = entry.bound, entry.paths
            samples = self._samples(paths)
            if _same(samples, entry.samples):
                return entry.body
        else:
            bound = list(bindings(self.live, self.element(sm, path)))
            paths = _paths(bound)
            samples = self._samples(paths)
        el = self.element(sm, path)
        self.live.refresh_bound(bound, dict(zip(paths, samples, strict=True)).get)
        body = json_bytes(formats.value_only(el, "withoutBlobValue"))
        if len(self._values) > MAX_ENTRIES:
            self._values.clear()
        self._values[key] = _Live(self.store.generation, sm, bound, paths, samples, body)
        return body

    def _samples(self, paths: tuple[str, ...]) -> tuple[Sample | None, ...]:
        latest = self.live.latest
        return tuple([latest(p) for p in paths])


def _paths(bound: Sequence[tuple[model.Property, Binding]]) -> tuple[str, ...]:
    """Every signal the bindings read, once each, in order."""
    return tuple(dict.fromkeys(p for _, b in bound for p in b.paths))


def _same(a: tuple[Sample | None, ...], b: tuple[Sample | None, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _bound_json(live: LiveBinding, obj: object, data: Any) -> Iterator[tuple[dict[str, Any], model.Property]]:
    """Each bound Property under ``obj`` with its object in ``data``, the normal JSON of ``obj`` (walked in
    parallel: basyx writes children in their order, and werk drops only empty lists)."""
    if isinstance(obj, model.Property) and isinstance(data, dict) and live.binding(obj) is not None:
        yield data, obj
        return
    container = element_container(obj)
    if container is None or not isinstance(data, dict):
        return
    key = "value"
    if isinstance(obj, model.Submodel):
        key = "submodelElements"
    elif isinstance(obj, model.Entity):
        key = "statements"
    elif isinstance(obj, model.AnnotatedRelationshipElement):
        key = "annotations"
    children = data.get(key, [])
    items = list(container)
    if not isinstance(children, list) or len(children) != len(items):
        raise AssertionError(
            f"{getattr(obj, 'id_short', obj)}: JSON and model disagree"
        )  # a bug, not a request
    for child, child_data in zip(items, children, strict=True):
        yield from _bound_json(live, child, child_data)
