"""The plant's twin: opened from the historian's SQLite file or PostgreSQL server the plant file names
(:func:`open_twin`, for ``werk serve`` and ``werk api``), and ``werk aas import FILE`` and ``werk aas export``, to and from AAS files without a running server.

Import and export work on the twin as ``werk serve`` keeps it. An import is all or nothing, as ``POST /api/v3.0/werk/import`` is: the
file is read by :func:`werk.aas.adapter.io.read_file` with every check, and either every object it holds is stored in one
transaction or nothing is. A running werk keeps its twin in memory and writes it back, so an import beside it
would be lost or clash: ``werk aas import`` refuses while a werk process holds the twin
(:meth:`~werk.aas.backend.persistence.TwinPersistence.own`), and a running werk takes imports through its API. On
PostgreSQL every werk process follows the others' commits, so an import beside them is stored and they load it.
An export only reads (:func:`open_twin` ``read_only``), so it may
run beside a running werk; it sees what that werk has stored.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from basyx.aas import model

from werk.aas.adapter import io as aas_io
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.pg_twin import PostgresTwin
from werk.aas.backend.store import TwinStore
from werk.config.model import WerkConfig
from werk.errors import AasError, StoreError
from werk.twin.environment import build_environment

FORMATS = ("json", "xml", "aasx")


Twin = TwinPersistence | PostgresTwin
"""Where a plant's twin is kept: its werk file, or the PostgreSQL server of ``historian.backend: postgresql``."""

OPEN_TRIES = 10
"""How often :func:`open_twin` looks again at a twin on PostgreSQL that other processes keep changing as it opens."""


def open_twin(
    config: WerkConfig, *, read_only: bool = False, share: socket.socket | None = None
) -> tuple[TwinStore, Twin]:
    """The twin for a plant file: in the historian's SQLite file, or on its PostgreSQL server for ``historian.backend:
    postgresql`` (:mod:`werk.aas.backend.pg_twin`, shared by every werk process pointed at it).

    What is stored wins: edits made through the API survive a restart. Shells and submodels that are new (assets
    added to the plant file, or a submodel template a newer werk adds) are built and saved, and a stored shell gets
    a reference to each new submodel of its own; what was deleted through the API stays deleted, and nothing stored
    is deleted because the plant file no longer names it (delete it through the API). In the werk file, values
    stored alone since the last start are folded into their submodels' rows; the supplementary files imported are
    loaded. Close the returned persistence at shutdown.

    Only one process opens a twin in a werk file to write (:meth:`TwinPersistence.own`; ``StoreError`` otherwise);
    on PostgreSQL any number do. ``read_only``: the same twin, built and linked in memory only; no objects are
    written and nothing is attached, so it may be read beside a running werk (``werk aas export``). ``share``: a
    listening Unix socket on which the twin's writer process also takes the value writes of werk's worker
    processes (:meth:`TwinPersistence.attach`; werk file only).
    """
    h = config.historian
    if h.backend == "postgresql":
        assert h.url is not None  # HistorianConfig refuses postgresql without one
        return _open_on_server(config, PostgresTwin(h.url), read_only=read_only)
    persistence = TwinPersistence(h.path)
    if not read_only:
        try:
            persistence.own()
        except StoreError:
            persistence.close()
            raise
    stored = persistence.load()
    store, new, linked = _with_plant(config, stored, persistence.deleted())
    store.files = persistence.load_files()
    if read_only:
        return store, persistence
    valued = persistence.valued()  # values stored alone, applied by load(): fold them into their submodels
    linked_ids = {o.id for o in linked}
    folded = [o for o in stored if o.id in valued and o.id not in linked_ids]
    if new or linked or folded:
        persistence.save_all([*new, *linked, *folded])
    if persistence.unapplied:
        persistence.drop_values(
            persistence.unapplied
        )  # logged by load(); they cannot apply at any later start
    persistence.attach(store, share=share)
    return store, persistence


def _open_on_server(config: WerkConfig, twin: PostgresTwin, *, read_only: bool) -> tuple[TwinStore, Twin]:
    """:func:`open_twin` on PostgreSQL: what the plant file adds is stored only if no other process changed the
    twin's structure since it was read (else it is read again: two replicas starting at once store it once)."""
    try:
        for _ in range(OPEN_TRIES):
            stored, seq, epoch = twin.snapshot()
            store, new, linked = _with_plant(config, stored, twin.deleted())
            store.files = twin.load_files()
            if read_only:
                return store, twin
            if not (new or linked or twin.unapplied):
                twin.attach(store, seq=seq, epoch=epoch)
                return store, twin
            # logged by snapshot(); they cannot apply at any later start
            twin.save_new([*new, *linked], twin.unapplied, epoch)
        raise StoreError(
            f"{twin.path}: the twin changed {OPEN_TRIES} times while werk opened it; start werk again"
        )
    except BaseException:
        twin.close()
        raise


def _with_plant(
    config: WerkConfig, stored: list[model.Identifiable], deleted: set[str]
) -> tuple[TwinStore, list[model.Identifiable], list[model.Identifiable]]:
    """A store of the ``stored`` objects with what the plant file adds (objects neither stored nor ``deleted``), the
    new objects, and the stored shells given references to new submodels of their own (changed in place)."""
    known = {o.id for o in stored} | deleted
    built = list(build_environment(config))
    new = [o for o in built if o.id not in known]
    new_ids = {o.id for o in new}
    by_id = {o.id: o for o in stored}
    linked: list[model.Identifiable] = []
    for shell in built:
        old = by_id.get(shell.id)
        if not isinstance(shell, model.AssetAdministrationShell) or not isinstance(
            old, model.AssetAdministrationShell
        ):
            continue
        have = {ref.key[-1].value for ref in old.submodel}
        refs = [r for r in shell.submodel if r.key[-1].value in new_ids and r.key[-1].value not in have]
        for ref in refs:
            old.submodel.add(ref)
        if refs:
            linked.append(old)
    return TwinStore([*stored, *new]), new, linked


@dataclass(frozen=True)
class Imported:
    report: aas_io.ImportReport
    added: list[str]
    replaced: list[str]


def import_file(
    config: WerkConfig,
    path: str | Path,
    *,
    replace: bool = False,
    metamodel: aas_io.Metamodel | None = None,
    duplicates: aas_io.Duplicates = "refuse",
) -> Imported:
    """Store every shell, submodel and concept description of ``path`` in the plant's twin, or none.

    An identifier the twin holds already refuses the whole file, unless ``replace``: then the file's object takes
    its place. AASX supplementary files (thumbnails, attachments) are stored with them; a file name the twin holds
    with other content refuses the whole file, unless ``replace``: then the file's version is stored.
    """
    loaded = aas_io.read_file(path, metamodel=metamodel, duplicates=duplicates)
    store, persistence = open_twin(config)
    try:
        objects = list(loaded.objects)
        taken = [o.id for o in objects if store.objects.get(o.id) is not None]
        if taken and not replace:
            raise AasError(
                f"{path}: {len(taken)} identifiers are in the twin already, nothing was imported "
                "(--replace puts the file's objects in their place)",
                tuple(taken[:20]),
            )
        clashing = store.file_conflicts(loaded.files)
        if clashing and not replace:
            raise AasError(
                f"{path}: files with these names hold other content in the twin already, nothing was imported "
                "(--replace stores the file's versions)",
                tuple(clashing[:20]),
            )
        files = store.new_files(loaded.files, replacing=clashing)
        persistence.save_all(objects, files=files)  # one transaction
        return Imported(loaded.report, [o.id for o in objects if o.id not in taken], taken)
    finally:
        persistence.close()


def format_of(path: str | None, given: str | None) -> str:
    """The export format: as given, else from the file name's suffix, else JSON."""
    if given is not None:
        return given
    suffix = Path(path).suffix.lower().lstrip(".") if path else ""
    return suffix if suffix in FORMATS else "json"


def export(config: WerkConfig, *, fmt: str = "json", metamodel: aas_io.Metamodel = "3.0") -> bytes:
    """The plant's twin as one AAS document (environment), as ``GET /api/v3.0/serialization`` gives it, without
    live values (those exist only in a running server)."""
    if fmt not in FORMATS:
        raise AasError(f"unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    store, persistence = open_twin(config, read_only=True)
    persistence.close()
    objects: list[model.Identifiable] = list(store.objects)
    if fmt == "xml":
        return aas_io.write_xml(objects, metamodel=metamodel)
    if fmt == "aasx":
        return aas_io.write_aasx(objects, store.files, metamodel=metamodel)
    return aas_io.write_json(objects, metamodel=metamodel)
