"""``werk aas import FILE`` and ``werk aas export``: the plant's twin to and from AAS files, without a running server.

Both work on the twin as ``werk serve`` keeps it, in the historian's SQLite file named by the plant file
(:func:`werk.twin.persistence.open_twin`). An import is all or nothing, as ``POST /api/v3.0/werk/import`` is: the
file is read by :func:`werk.twin.io.read_file` with every check, and either every object it holds is stored in one
transaction or nothing is. A running werk keeps its twin in memory and writes it back, so an import beside it
would be lost or clash: ``werk aas import`` refuses while a werk process holds the twin
(:meth:`~werk.twin.persistence.TwinPersistence.own`), and a running werk takes imports through its API. An export only reads (:func:`~werk.twin.persistence.open_twin` ``read_only``), so it may
run beside a running werk; it sees what that werk has stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from basyx.aas import model

from werk.config.model import WerkConfig
from werk.errors import AasError
from werk.twin import io as aas_io
from werk.twin.persistence import open_twin

FORMATS = ("json", "xml", "aasx")


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
