"""The AAS objects werk serves: a basyx ObjectStore behind one lock, with a hook that persists every change.

basyx's ``DictIdentifiableStore`` is a plain dict: not safe for the API's worker threads and blind to changes made to
objects in place (a PATCH of one Property). This wrapper gives the API one place to serialise access and to report
"this Identifiable changed", which :class:`werk.aas.backend.persistence.TwinPersistence` turns into an upsert. The hook may
store the change later, in a batch with others (group commit); a writer that acknowledges a change first awaits
:meth:`TwinStore.synced`, so what a client was told is stored survives a crash.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TypeVar

from basyx.aas import model
from basyx.aas.adapter import aasx

from werk.aas.adapter.io import Metamodel

OnChange = Callable[[str, model.Identifiable | None], None]
"""Called with (identifier, object) after a change, (identifier, None) after a delete."""

OnChanges = Callable[[list[tuple[str, model.Identifiable | None]]], None]
"""Called with several (identifier, object) changes that must be stored together or not at all (an import)."""

OnValue = Callable[[str, str, str | None], None]
"""Called with (submodel id, idShortPath, the Property's value in its XSD lexical form or None) after a value alone
changed; stored as that value instead of the whole submodel."""

OnFiles = Callable[[list[tuple[str, str, bytes]]], None]
"""Called with (name, content type, bytes) of supplementary files before they are added; stores them durably."""

OnFilesRemoved = Callable[[list[str]], None]
"""Called with the names of supplementary files no object points at any more; removes them durably."""

Sync = Callable[[], Awaitable[None]]
"""Returns once every change reported to the :data:`OnChange` and :data:`OnValue` hooks so far is durable; raises if one
could not be."""

T = TypeVar("T", bound=model.Identifiable)


class TwinLock:
    """The store's lock: a re-entrant lock that runs :attr:`on_acquire` when a thread takes it first.

    Why: where several processes serve one twin (``server.workers``), each must see what the others committed
    before it reads or changes an object; every reader and writer of the store takes this lock, so its first
    acquisition is where :class:`werk.aas.backend.follow.TwinFollower` applies those changes. One process alone sets no
    hook and pays a Python call per acquisition."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0  # changed only by the thread holding _lock
        self.on_acquire: Callable[[], None] | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._lock.acquire(blocking, timeout):
            return False
        self._depth += 1
        hook = self.on_acquire
        if hook is not None and self._depth == 1:
            try:
                hook()
            except BaseException:
                self.release()
                raise
        return True

    def release(self) -> None:
        self._depth -= 1
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class TwinStore:
    """Shells, submodels and concept descriptions, in insertion order (which is the API's paging order).

    ``metamodel`` is the version the API validates request bodies against (Part 1 3.0 or 3.1).
    """

    def __init__(
        self,
        objects: Iterable[model.Identifiable] = (),
        *,
        on_change: OnChange | None = None,
        metamodel: Metamodel = "3.0",
        sync: Sync | None = None,
        on_value: OnValue | None = None,
    ) -> None:
        self.objects: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore(objects)
        self.lock = TwinLock()
        self.on_change = on_change
        # where set, :meth:`add_all` reports its objects in one call (else one on_change each)
        self.on_changes: OnChanges | None = None
        self.on_value = on_value
        self.on_files: OnFiles | None = None
        self.on_files_removed: OnFilesRemoved | None = None
        # files an object pointed at before a change, with the generation before it: removed once that change is
        # durable, if nothing points at them then
        self._released: dict[str, int] = {}
        self.sync = sync
        self.metamodel: Metamodel = metamodel
        # bumped by every change made through this store; readers key caches of serialised objects on it
        self.generation = 0
        # bumped by every change but those of values alone: readers key caches of where elements are on it
        self.structure = 0
        # AASX supplementary files (thumbnails, File element attachments), by package path; stored by on_files
        self.files: aasx.DictSupplementaryFileContainer = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]

    def get(self, identifier: str, kind: type[T]) -> T | None:
        obj = self.objects.get(identifier)
        return obj if isinstance(obj, kind) else None

    def all(self, kind: type[T]) -> list[T]:
        return [o for o in self.objects if isinstance(o, kind)]

    def add(self, obj: model.Identifiable) -> None:
        """Add a new object; ``KeyError`` if its id is taken (by any kind: ids are unique in an environment)."""
        if self.objects.get(obj.id) is not None:
            raise KeyError(obj.id)
        self.objects.add(obj)
        self.changed(obj)

    def add_all(self, objects: list[model.Identifiable]) -> None:
        """Add new objects, stored together (:data:`OnChanges`) where the hook can; ``KeyError`` (and none added) if
        an id is taken."""
        taken = [o.id for o in objects if self.objects.get(o.id) is not None]
        if taken or len({o.id for o in objects}) < len(objects):
            raise KeyError(taken or [o.id for o in objects])
        for obj in objects:
            self.objects.add(obj)
        self.generation += 1
        self.structure += 1
        if self.on_changes is not None:
            self.on_changes([(o.id, o) for o in objects])
        elif self.on_change is not None:
            for obj in objects:
                self.on_change(obj.id, obj)

    def replace(self, obj: model.Identifiable) -> None:
        """Put ``obj`` in place of the object with the same id (which must exist)."""
        old = self.objects.get_item(obj.id)
        self.release_files(file_names(old))
        self.objects.discard(old)
        self.objects.add(obj)
        self.changed(obj)

    def delete(self, identifier: str) -> None:
        old = self.objects.get_item(identifier)
        self.release_files(file_names(old))
        self.objects.discard(old)
        self.generation += 1
        self.structure += 1
        if self.on_change is not None:
            self.on_change(identifier, None)

    def changed(self, obj: model.Identifiable, *, values_only: bool = False) -> None:
        """Report an in-place change of ``obj`` (or of an element inside it). Every change must come through here
        (or :meth:`add`, :meth:`replace`, :meth:`delete`): the API caches serialised objects by :attr:`generation`.
        ``values_only``: no element was added, removed or replaced (a PATCH ``$value``), so caches of where
        elements are, keyed on :attr:`structure`, stay valid."""
        self.generation += 1
        if not values_only:
            self.structure += 1
        if self.on_change is not None:
            self.on_change(obj.id, obj)

    def file_conflicts(self, files: aasx.AbstractSupplementaryFileContainer) -> list[str]:
        """Names of ``files`` the store holds with other content or type (an import must not change what the File
        elements already in the twin point at)."""
        return [
            name
            for name in files
            if name in self.files
            and (
                self.files.get_sha256(name) != files.get_sha256(name)
                or self.files.get_content_type(name) != files.get_content_type(name)
            )
        ]

    def add_files(self, files: aasx.AbstractSupplementaryFileContainer) -> None:
        """Add a document's supplementary files, stored first by the :data:`OnFiles` hook; ``KeyError`` (and none
        added) if :meth:`file_conflicts` names any."""
        conflicts = self.file_conflicts(files)
        if conflicts:
            raise KeyError(conflicts)
        new = self.new_files(files)
        if new and self.on_files is not None:
            self.on_files(new)
        for name, ctype, data in new:
            self.files.add_file(name, io.BytesIO(data), ctype)

    def new_files(
        self, files: aasx.AbstractSupplementaryFileContainer, *, replacing: Collection[str] = ()
    ) -> list[tuple[str, str, bytes]]:
        """(name, content type, bytes) of those of ``files`` the store does not hold, and of those named in
        ``replacing`` (its :meth:`file_conflicts` that are to be stored in their new version)."""
        new = []
        for name in files:
            if name not in self.files or name in replacing:
                buf = io.BytesIO()
                files.write_file(name, buf)
                new.append((name, files.get_content_type(name), buf.getvalue()))
        return new

    def files_of(self, objects: Iterable[model.Identifiable]) -> aasx.DictSupplementaryFileContainer:
        """The supplementary files ``objects`` point at (their File elements, a shell's thumbnail) that the store
        holds: what a package of just these objects carries."""
        out = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]
        names: set[str] = set()
        for obj in objects:
            names |= file_names(obj)
        for name in sorted(names & set(self.files)):
            out.add_file(name, io.BytesIO(self.file_bytes(name)), self.files.get_content_type(name))
        return out

    def file_bytes(self, name: str) -> bytes:
        """The content of the supplementary file ``name`` (``KeyError`` if the store has none)."""
        buf = io.BytesIO()
        self.files.write_file(name, buf)
        return buf.getvalue()

    def put_file(self, name: str, content_type: str, data: bytes) -> None:
        """Store one supplementary file under ``name`` (replacing what it held), durably before it is served."""
        if self.on_files is not None:
            self.on_files([(name, content_type, data)])
        if name in self.files:
            self.files.delete_file(name)
        self.files.add_file(name, io.BytesIO(data), content_type)
        self._released.pop(name, None)

    def release_files(self, names: Iterable[str]) -> None:
        """Note that a change (the caller's, under the lock) dropped these files' references: :meth:`synced` removes
        those no object points at any more, once the change is durable, so a crash before then keeps the file its
        element still points at."""
        self._released.update((n, self.generation) for n in names if n in self.files)

    def _prune_files(self, durable: int) -> list[str]:
        """Remove the files released by changes up to generation ``durable`` (stored by now) that nothing points at
        (removed from the database first, by :data:`OnFilesRemoved`)."""
        with self.lock:
            due = [n for n, g in self._released.items() if g < durable]
            if not due:
                return []
            used = set().union(*(file_names(o) for o in self.objects))
            gone = sorted(n for n in due if n not in used and n in self.files)
            for name in due:
                del self._released[name]
            if gone and self.on_files_removed is not None:
                self.on_files_removed(gone)
            for name in gone:
                self.files.delete_file(name)
            return gone

    def value_changed(self, submodel: model.Submodel, path: str, prop: model.Property) -> None:
        """Report that ``prop``, at ``path`` in ``submodel``, got a new value and nothing else changed (a PATCH
        ``$value``). Stored as that value alone where the hook can (:data:`OnValue`), else as the whole submodel."""
        self.generation += 1
        if self.on_value is not None:
            value = None if prop.value is None else model.datatypes.xsd_repr(prop.value)
            self.on_value(submodel.id, path, value)
        elif self.on_change is not None:
            self.on_change(submodel.id, submodel)

    def reset(self, objects: Iterable[model.Identifiable]) -> None:
        """Serve ``objects`` in place of all this store holds (caller holds the lock): another process changed the
        twin's structure (:class:`werk.aas.backend.follow.TwinFollower`); nothing is reported to the hooks."""
        self.objects = model.DictIdentifiableStore(objects)
        self.generation += 1
        self.structure += 1

    def value_applied(self) -> None:
        """Note that a value another process committed was applied in place (caller holds the lock): cached views
        are made again; nothing is reported to the hooks."""
        self.generation += 1

    async def synced(self) -> None:
        """Wait until every change made so far is durable (at once when the hook stores synchronously or there is
        none). Call it without holding :attr:`lock`: the hook's writer may need the lock to read the objects."""
        generation = self.generation  # every change up to here was reported to the hooks: sync covers it
        if self.sync is not None:
            await self.sync()
        if self._released:
            await asyncio.to_thread(self._prune_files, generation)


def file_names(obj: model.Referable) -> set[str]:
    """The supplementary files ``obj`` points at: its File elements' values (those that are package paths, not
    URLs) and a shell's thumbnail."""
    names: set[str] = set()
    if isinstance(obj, model.AssetAdministrationShell):
        thumb = obj.asset_information.default_thumbnail
        if thumb is not None and thumb.path:
            names.add(thumb.path)
        return names
    stack: list[object] = [obj]
    while stack:
        el = stack.pop()
        if isinstance(el, model.File):
            if el.value:
                names.add(el.value)
        elif isinstance(el, model.Submodel | model.SubmodelElementCollection | model.SubmodelElementList):
            stack.extend(el.submodel_element if isinstance(el, model.Submodel) else el.value)
        elif isinstance(el, model.Entity):
            stack.extend(el.statement)
        elif isinstance(el, model.AnnotatedRelationshipElement):
            stack.extend(el.annotation)
        elif isinstance(el, model.Operation):
            stack.extend(v for v in (*el.input_variable, *el.output_variable, *el.in_output_variable))
    return names
