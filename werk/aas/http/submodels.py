"""The submodel repository and its submodel elements: SubmodelRepositoryServiceSpecification of IDTA-01002-3-0,
SSP-001 (full) and SSP-002 (read), with the serialization modifiers ``level``, ``extent``, ``$metadata``,
``$value``, ``$reference`` and ``$path`` (:mod:`werk.aas.model.formats`).

A submodel's routes are served under ``/submodels/{submodelIdentifier}`` and under the AAS superpath
``/shells/{aasIdentifier}/submodels/{submodelIdentifier}`` (Part 2 superpaths), by one implementation.

Properties bound to live values (:mod:`werk.aas.model.bound`) show the value of the moment on every read.
``PATCH .../$value`` of one bound ``direct``ly to a single source writes the value to the machine through
``write_signal`` when the server has one (409 otherwise, 502 when the machine refuses); the Property then shows
what the machine reports back. Every other value write goes through :func:`set_value`, the one the fast path
(:mod:`werk.aas.http.fast`) uses too.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import orjson
from basyx.aas import model
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import file_names
from werk.aas.http.common import (
    AasRoute,
    ApiError,
    Body_,
    Repository,
    b64url_decode,
    created,
    extent_of,
    identifiable_reference,
    identifiable_routes,
    json_answer,
    level_of,
    no_content,
    paged,
    ref_value,
    resource_router,
)
from werk.aas.model import formats, values
from werk.aas.model.bound import bindings
from werk.core.model import Value, finite
from werk.errors import AasError, ConnectorError, WriteRefused

TAG = "Submodel repository (IDTA-01002-3-0)"


@dataclass
class ListingQuery:
    """The query of a listing with modifiers: Part 2 "Pagination" (``limit``, ``cursor``) and "Serialization
    Modifiers" (``level``, ``extent``)."""

    limit: str | None = None
    cursor: str | None = None
    level: str | None = None
    extent: str | None = None

    def modifiers(self) -> tuple[formats.Level, formats.Extent]:
        return level_of(self.level), extent_of(self.extent)

    def page(self, items: list[Any], render: Callable[[Any], Any]) -> JSONResponse:
        return paged(items, self.limit, self.cursor, render)


Listing = Annotated[ListingQuery, Depends()]

WriteSignal = Callable[[str, Value, str], Coroutine[Any, Any, None]]
"""Write a value to the machine behind a source path, on behalf of a named user (``Platform.write_signal``)."""

MAX_ATTACHMENT = 64 * 1024 * 1024
"""The largest file PUT .../attachment takes (a manual, a drawing; not a video archive)."""

# integers of 20 digits and more: orjson reads those beyond 64 bits as floats, json keeps every digit
_LONG_INTEGER = re.compile(rb"\d{20}")


def json_value(body: bytes, content_type: str) -> Any:
    """The JSON a ``$value`` body holds, read as every value write reads it; :class:`ApiError` 415 for a body whose
    type is not JSON (none is taken as JSON, as FastAPI takes it), 400 for one that does not parse. orjson reads it (a tenth of ``json.loads``) unless it
    holds integers beyond 64 bits, which orjson would round to a double, or what only ``json`` reads (NaN)."""
    if content_type != "application/json":
        media = content_type.split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise ApiError(
                415,
                f"a value is sent as application/json (the ValueOnly form), not {media!r}",
            )
    try:
        if len(body) < 20 or _LONG_INTEGER.search(body) is None:
            return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not JSON: {str(exc)[:200]}") from None


def value_of(el: model.SubmodelElement, payload: Any) -> Any:
    """The value a ``$value`` body gives ``el``: the body itself, or ``{idShort: value}``, the form GET ``$value``
    answers with, for an element whose own value is not an object."""
    if (
        isinstance(payload, dict)
        and set(payload) == {el.id_short}
        and not isinstance(el, model.SubmodelElementCollection | model.Range | model.File | model.Blob)
    ):
        return payload[el.id_short]
    return payload


def set_value(repo: Repository, sm: model.Submodel, path: str, el: model.SubmodelElement, value: Any) -> None:
    """PATCH ``$value`` of an element in the twin (not a machine's), the caller holding the store's lock: refused
    (409) where a live value is bound, else set (400 when it does not fit) and noted for the store, a Property as
    its value alone. The routes and the fast path both write through here."""
    if isinstance(el, model.Property):  # the busiest write (the fast path's): no children, no files
        own = repo.live.binding(el)
        bound = list(own.paths) if own is not None else []
    else:
        bound = [p for _, b in bindings(repo.live, el) for p in b.paths]
    if bound:
        raise ApiError(
            409, f"{el.id_short!r} shows live values ({bound[0]}); werk does not write to machines"
        )
    store = repo.store
    if not isinstance(el, model.Property):
        store.release_files(file_names(el))  # a File's new value may point elsewhere
    try:
        values.apply_value(el, value)
    finally:  # a collection's values set before one that does not fit stay set
        if isinstance(el, model.Property):
            store.value_changed(sm, path, el)
        else:
            store.changed(sm, values_only=True)


def machine_target(
    repo: Repository, el: model.SubmodelElement, value: Any, can_write: bool
) -> tuple[str, Value] | None:
    """(source, machine value) when PATCH $value of ``el`` is a write to a machine; None for a value in the twin
    (which :func:`set_value` refuses for a bound element when the server cannot write to machines)."""
    b = repo.live.binding(el)
    if b is None or not can_write:
        return None
    assert isinstance(el, model.Property)
    if not b.direct:
        raise ApiError(409, f"{el.id_short!r} is derived from signals ({' '.join(b.paths)}); not writable")
    probe = model.Property("probe", el.value_type)
    try:
        values.apply_value(probe, value)  # the same checks as any Property's value
    except AasError as exc:
        raise ApiError(400, f"{el.id_short!r}: {exc}") from None
    typed = float(probe.value) if isinstance(probe.value, Decimal) else probe.value
    if not isinstance(typed, bool | int | float | str):
        raise ApiError(400, f"{el.id_short!r}: werk writes numbers, booleans and text, not {typed!r}")
    if not finite(typed):  # Platform.write_signal refuses it too (409); here it is the body's fault
        raise ApiError(400, f"{el.id_short!r}: a machine takes a finite number, not {value!r}")
    # the property shows signal x scale; the machine takes the signal's unit
    if isinstance(typed, int | float) and not isinstance(typed, bool) and b.scale != 1.0:
        typed = float(typed) / b.scale
    return b.paths[0], typed


def build_submodel_router(
    repo: Repository, route: type[AasRoute], write_signal: WriteSignal | None = None
) -> APIRouter:
    router = resource_router(route, repo.prefix, TAG)
    store, lock = repo.store, repo.store.lock

    def filtered(request: Request) -> list[model.Submodel]:
        q = request.query_params
        id_short = q.get("idShort")
        semantic = q.get("semanticId")
        wanted: str | None = None
        if semantic is not None:
            try:
                wanted = ref_value(
                    repo.decode(json.loads(b64url_decode(semantic, "semanticId")), "Reference")
                )
            except ValueError:
                raise ApiError(400, "semanticId must be a base64url-encoded JSON Reference") from None
        keep = repo.visible(request.scope)
        return [
            s
            for s in store.all(model.Submodel)
            if (id_short is None or s.id_short == id_short)
            and (wanted is None or (s.semantic_id is not None and ref_value(s.semantic_id) == wanted))
            and (keep is None or keep(s.id))
        ]

    @router.get("/submodels")
    def get_all_submodels(request: Request, listing: Listing) -> JSONResponse:
        lv, ex = listing.modifiers()
        with lock:
            return listing.page(filtered(request), lambda s: formats.normal(repo.refreshed(s), lv, ex))

    @router.get("/submodels/$metadata")
    def get_all_submodels_metadata(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(filtered(request), limit, cursor, formats.metadata)

    @router.get("/submodels/$value")
    def get_all_submodels_value(request: Request, listing: Listing) -> JSONResponse:
        _, ex = listing.modifiers()
        with lock:
            return listing.page(
                filtered(request), lambda s: {str(s.id_short): formats.value_only(repo.refreshed(s), ex)}
            )

    @router.get("/submodels/$reference")
    def get_all_submodels_reference(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(filtered(request), limit, cursor, identifiable_reference)

    @router.get("/submodels/$path")
    def get_all_submodels_path(
        request: Request, limit: str | None = None, cursor: str | None = None, level: str | None = None
    ) -> JSONResponse:
        level_of(level)
        with lock:
            # one path per submodel, its idShort: paths of elements are per submodel ({id}/$path)
            return paged(filtered(request), limit, cursor, lambda s: str(s.id_short))

    # the submodel repository first: its reads are the busiest, and route matching is a linear scan
    identifiable_routes(router, repo, "/submodels", "submodel_id", model.Submodel, "Submodel", read_one=False)
    for base, via_shell in (
        ("/submodels/{submodel_id}", False),
        ("/shells/{aas_id}/submodels/{submodel_id}", True),
    ):
        _submodel_routes(router, repo, base, via_shell, write_signal)
    return router


def _submodel_routes(
    router: APIRouter, repo: Repository, base: str, via_shell: bool, write_signal: WriteSignal | None
) -> None:
    """The routes of one submodel and its elements under ``base``."""
    store, cache, lock = repo.store, repo.cache, repo.store.lock
    refreshed, element_or_404 = repo.refreshed, repo.element_or_404

    def sm_of(request: Request) -> model.Submodel:
        p = request.path_params
        return repo.submodel_or_404(p["submodel_id"], p.get("aas_id") if via_shell else None)

    def merged(request: Request, payload: dict[str, Any]) -> None:
        """The body's attributes merged into the submodel (RFC 7396 at the top level), validated, stored."""
        with lock:
            old = sm_of(request)
            new = repo.decode({**aas_io.to_jsonable(old), **payload}, "Submodel")
            repo.replace_same_id(new, old, "PATCH cannot change a submodel's id")

    @router.get(base)
    async def get_submodel(request: Request, level: str | None = None, extent: str | None = None) -> Response:
        lv, ex = level_of(level), extent_of(extent)
        if lv == "deep" and ex == "withoutBlobValue":
            return await repo.read(lambda: json_answer(cache.submodel_body(sm_of(request))))
        return await repo.read(lambda: JSONResponse(formats.normal(refreshed(sm_of(request)), lv, ex)))

    def shown(form: Callable[[model.Submodel], object], request: Request, level: str | None) -> JSONResponse:
        """The submodel in a ``form`` that has no levels (``level`` is checked all the same)."""
        level_of(level)
        with lock:
            return JSONResponse(form(sm_of(request)))

    @router.get(base + "/$metadata")
    def get_submodel_metadata(request: Request, level: str | None = None) -> JSONResponse:
        return shown(formats.metadata, request, level)

    @router.get(base + "/$value")
    async def get_submodel_value(
        request: Request, level: str | None = None, extent: str | None = None
    ) -> Response:
        level_of(level)
        ex = extent_of(extent)
        return await repo.read(lambda: JSONResponse(formats.value_only(refreshed(sm_of(request)), ex)))

    @router.get(base + "/$reference")
    def get_submodel_reference(request: Request, level: str | None = None) -> JSONResponse:
        return shown(formats.reference, request, level)

    @router.get(base + "/$path")
    def get_submodel_path(request: Request, level: str | None = None) -> JSONResponse:
        lv = level_of(level)
        with lock:
            return JSONResponse(list(formats.id_short_paths(sm_of(request), level=lv)))

    if via_shell:  # the repository's own path has these from identifiable_routes

        @router.put(base)
        def put_submodel(request: Request, payload: Body_) -> Response:
            sm = repo.decode(payload, "Submodel")
            with lock:
                repo.replace_same_id(sm, sm_of(request))
            return no_content()

        @router.delete(base)
        def delete_submodel(request: Request) -> Response:
            with lock:
                store.delete(sm_of(request).id)
            return no_content()

    @router.patch(base)
    def patch_submodel(request: Request, payload: Body_) -> Response:
        """Merge the body's attributes into the submodel (RFC 7396 at the top level), then validate."""
        if not isinstance(payload, dict):
            raise ApiError(400, "PATCH of a submodel takes a JSON object of the attributes to change")
        merged(request, payload)
        return no_content()

    @router.patch(base + "/$metadata")
    def patch_submodel_metadata(request: Request, payload: Body_) -> Response:
        if not isinstance(payload, dict) or "submodelElements" in payload:
            raise ApiError(400, "PATCH $metadata takes the submodel's attributes without submodelElements")
        merged(request, payload)
        return no_content()

    @router.patch(base + "/$value")
    def patch_submodel_value(request: Request, payload: Body_) -> Response:
        if not isinstance(payload, dict):
            raise ApiError(400, "PATCH $value of a submodel takes an object of values by idShort")
        with lock:
            sm = sm_of(request)
            for id_short, value in payload.items():
                set_value(repo, sm, str(id_short), element_or_404(sm, str(id_short)), value)
        return no_content()

    # --- submodel elements -------------------------------------------------------------------------------------

    el_base = base + "/submodel-elements"

    @router.get(el_base)
    def get_all_elements(request: Request, listing: Listing) -> JSONResponse:
        lv, ex = listing.modifiers()
        with lock:
            sm = refreshed(sm_of(request))
            return listing.page(list(sm.submodel_element), lambda e: formats.normal(e, lv, ex))

    @router.get(el_base + "/$metadata")
    def get_all_elements_metadata(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(_with_values(sm_of(request)), limit, cursor, formats.metadata)

    @router.get(el_base + "/$value")
    def get_all_elements_value(request: Request, listing: Listing) -> JSONResponse:
        _, ex = listing.modifiers()
        with lock:
            return listing.page(_with_values(refreshed(sm_of(request))), lambda e: formats.value_only(e, ex))

    @router.get(el_base + "/$reference")
    def get_all_elements_reference(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            sm = sm_of(request)
            return paged(
                list(sm.submodel_element), limit, cursor, lambda e: formats.reference(sm, str(e.id_short))
            )

    @router.get(el_base + "/$path")
    def get_all_elements_path(
        request: Request, limit: str | None = None, cursor: str | None = None, level: str | None = None
    ) -> JSONResponse:
        lv = level_of(level)
        with lock:
            # paged by path, not by top-level element: a page of n holds n paths
            paths = list(formats.id_short_paths(sm_of(request), level=lv))
            return paged(paths, limit, cursor, lambda p: p)

    @router.post(el_base)
    def post_element(request: Request, payload: Body_) -> JSONResponse:
        el = repo.decode(payload, "SubmodelElement")
        with lock:
            sm = sm_of(request)
            if el.id_short is None or any(e.id_short == el.id_short for e in sm.submodel_element):
                raise ApiError(409, f"submodel {sm.id!r} has an element {el.id_short!r} already")
            sm.submodel_element.add(el)
            store.changed(sm)
            return created(aas_io.to_jsonable(el), f"{request.url.path}/{el.id_short}")

    @router.get(el_base + "/{path}")
    async def get_element(
        request: Request, path: str, level: str | None = None, extent: str | None = None
    ) -> Response:
        lv, ex = level_of(level), extent_of(extent)
        return await repo.read(
            lambda: JSONResponse(formats.normal(refreshed(element_or_404(sm_of(request), path)), lv, ex))
        )

    @router.get(el_base + "/{path}/$metadata")
    def get_element_metadata(request: Request, path: str) -> JSONResponse:
        with lock:
            return JSONResponse(formats.metadata(element_or_404(sm_of(request), path)))

    @router.get(el_base + "/{path}/$value")
    async def get_element_value(
        request: Request, path: str, level: str | None = None, extent: str | None = None
    ) -> Response:
        level_of(level)
        ex = extent_of(extent)

        def render() -> Response:
            sm = sm_of(request)
            el = element_or_404(sm, path)  # its errors
            if ex == "withoutBlobValue":
                return json_answer(cache.element_value_body(sm, path))
            return JSONResponse(formats.value_only(refreshed(el), ex))

        return await repo.read(render)

    @router.get(el_base + "/{path}/$reference")
    def get_element_reference(request: Request, path: str) -> JSONResponse:
        with lock:
            sm = sm_of(request)
            element_or_404(sm, path)
            return JSONResponse(formats.reference(sm, path))

    @router.get(el_base + "/{path}/$path")
    def get_element_path(request: Request, path: str, level: str | None = None) -> JSONResponse:
        lv = level_of(level)
        with lock:
            return JSONResponse(formats.element_paths(element_or_404(sm_of(request), path), path, lv))

    @router.get(el_base + "/{path}/attachment")
    def get_attachment(request: Request, path: str) -> Response:
        with lock:
            el = element_or_404(sm_of(request), path)
            if isinstance(el, model.Blob):
                return Response(el.value or b"", media_type=el.content_type)
            if not isinstance(el, model.File):
                raise ApiError(400, f"{path} is a {type(el).__name__}; attachments belong to File elements")
            if el.value is None or el.value not in store.files:
                raise ApiError(404, f"{path}: the file {el.value!r} is not in werk's file store")
            return Response(store.file_bytes(el.value), media_type=el.content_type)

    @router.put(el_base + "/{path}/attachment", status_code=204)
    async def put_attachment(request: Request, path: str) -> Response:
        """PutFileByPath: ``multipart/form-data`` with ``fileName`` and ``file``. The file is stored under a
        package path of its own element, so two elements never share (and overwrite) one upload."""
        file_name, content_type, data = await _upload(request)
        await run_in_threadpool(store_attachment, request, path, file_name, content_type, data)
        return no_content()

    def store_attachment(request: Request, path: str, file_name: str, content_type: str, data: bytes) -> None:
        with lock:
            sm = sm_of(request)
            el = attachment_holder(sm, path)
            if isinstance(el, model.Blob):
                el.value, el.content_type = data, content_type
            else:
                digest = hashlib.sha256(sm.id.encode()).hexdigest()[:12]
                name = f"/aasx/files/{digest}/{path}/{file_name}"
                try:  # what the File would hold, checked before the file is stored (else it is left over)
                    model.File("probe", content_type, name)
                except (model.AASConstraintViolation, ValueError) as exc:
                    raise ApiError(400, f"fileName or content type does not fit {path}: {exc}") from None
                store.put_file(name, content_type, data)  # durable before the element points at it
                if el.value != name:
                    store.release_files(file_names(el))
                el.value, el.content_type = name, content_type
            store.changed(sm, values_only=True)

    @router.delete(el_base + "/{path}/attachment")
    def delete_attachment(request: Request, path: str) -> Response:
        """DeleteFileByPath: the element stays, without a file; the file goes once nothing points at it."""
        with lock:
            sm = sm_of(request)
            el = attachment_holder(sm, path)
            if el.value is None:
                raise ApiError(404, f"{path} has no file")
            store.release_files(file_names(el))
            el.value = None
            store.changed(sm, values_only=True)
        return Response(status_code=200)

    def attachment_holder(sm: model.Submodel, path: str) -> model.File | model.Blob:
        el = element_or_404(sm, path)
        if not isinstance(el, model.File | model.Blob):
            raise ApiError(400, f"{path} is a {type(el).__name__}; attachments belong to File elements")
        return el

    @router.post(el_base + "/{path}")
    def post_element_at(request: Request, path: str, payload: Body_) -> JSONResponse:
        el = repo.decode(payload, "SubmodelElement")
        with lock:
            sm = sm_of(request)
            _add_child(element_or_404(sm, path), el)
            store.changed(sm)
            return created(aas_io.to_jsonable(el), request.url.path)

    @router.put(el_base + "/{path}")
    def put_element(request: Request, path: str, payload: Body_) -> Response:
        new = repo.decode(payload, "SubmodelElement")
        with lock:
            sm = sm_of(request)
            replace_element(sm, path, new)
            store.changed(sm)
        return no_content()

    @router.patch(el_base + "/{path}")
    def patch_element(request: Request, path: str, payload: Body_) -> Response:
        if not isinstance(payload, dict):
            raise ApiError(400, "PATCH of an element takes a JSON object of the attributes to change")
        with lock:
            sm = sm_of(request)
            old = element_or_404(sm, path)
            new = repo.decode({**aas_io.to_jsonable(old), **payload}, "SubmodelElement")
            replace_element(sm, path, new)
            store.changed(sm)
        return no_content()

    @router.patch(el_base + "/{path}/$value")
    async def patch_element_value(request: Request, path: str) -> Response:
        payload = json_value(await request.body(), request.headers.get("content-type", ""))

        def in_twin() -> tuple[str, Value] | None:
            """Set the value in the twin, or the machine write it is (outside the lock: a connector may take
            a while)."""
            with lock:
                sm = sm_of(request)
                el = element_or_404(sm, path)
                value = value_of(el, payload)
                target = machine_target(repo, el, value, write_signal is not None)
                if target is None:
                    set_value(repo, sm, path, el, value)
                return target

        target = await run_in_threadpool(in_twin)
        if target is None:
            return no_content()
        assert write_signal is not None
        user = getattr(request.state, "user", None)
        try:
            await write_signal(*target, getattr(user, "name", "token holder"))
        except WriteRefused as exc:
            raise ApiError(409, str(exc)) from None
        except ConnectorError as exc:
            raise ApiError(502, f"the machine did not take the value: {exc}") from None
        return no_content()

    @router.delete(el_base + "/{path}")
    def delete_element(request: Request, path: str) -> Response:
        with lock:
            sm = sm_of(request)
            el = element_or_404(sm, path)
            container = formats.element_container(el.parent)
            if container is None:
                raise ApiError(400, f"{path} cannot be removed from its parent")
            container.remove(el)
            store.release_files(file_names(el))
            store.changed(sm)
        return no_content()

    def replace_element(sm: model.Submodel, path: str, new: model.SubmodelElement) -> None:
        """Put ``new`` where the element at ``path`` is; the files the old one pointed at are released."""
        old = element_or_404(sm, path)
        store.release_files(file_names(old))  # kept if the replacement fails or still points at them
        if repo.live.binding(old) is not None:
            raise ApiError(409, f"{path} is bound to a live signal; change the plant file instead")
        container = formats.element_container(old.parent)
        if container is None:
            raise ApiError(400, f"{path} cannot be replaced in its parent")
        in_list = isinstance(old.parent, model.SubmodelElementList)
        if not in_list and new.id_short != old.id_short:
            raise ApiError(
                400, f"the body's idShort {new.id_short!r} differs from the path's {old.id_short!r}"
            )
        items = list(container)
        try:
            if in_list:
                index = items.index(old)
                container.clear()
                new.id_short = None
                for i, item in enumerate(items):
                    container.add(new if i == index else item)
            else:
                container.remove(old)
                container.add(new)
        except (model.AASConstraintViolation, KeyError, TypeError, ValueError) as exc:
            container.clear()  # as it was: a list that refuses the new item keeps all its old ones
            for item in items:
                container.add(item)
            raise ApiError(400, f"cannot put it in place of {path}: {exc}") from None


def _with_values(sm: model.Submodel) -> list[model.SubmodelElement]:
    """The submodel's elements that have a value (Capability and Operation have none)."""
    return [e for e in sm.submodel_element if not isinstance(e, model.Capability | model.Operation)]


def _add_child(parent: model.SubmodelElement, el: model.SubmodelElement) -> None:
    container = formats.element_container(parent)
    if container is None or isinstance(parent, model.Operation):
        raise ApiError(400, f"a {type(parent).__name__} holds no child elements")
    if isinstance(parent, model.SubmodelElementList):
        el.id_short = None  # list items have no idShort (Part 1 constraint AASd-120)
    elif el.id_short is None or any(c.id_short == el.id_short for c in container):
        raise ApiError(409, f"{parent.id_short!r} has an element {el.id_short!r} already")
    try:
        container.add(el)
    except (model.AASConstraintViolation, KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, f"cannot add to {parent.id_short!r}: {exc}") from None


async def _upload(request: Request) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a PutFileByPath body; ApiError 400/413 saying what is wrong with it."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(
            400, "an attachment is sent as multipart/form-data with the fields 'fileName' and 'file'"
        )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_ATTACHMENT + 64 * 1024:  # refused before a byte is read
        raise ApiError(
            413, f"the body has {int(length):,} bytes; werk takes attachments up to {MAX_ATTACHMENT:,}"
        )
    try:
        form = await request.form(max_files=1, max_fields=4)
    except (StarletteHTTPException, ValueError, AssertionError) as exc:
        raise ApiError(400, f"malformed multipart body: {getattr(exc, 'detail', exc)}") from None
    try:
        upload, given = form.get("file"), form.get("fileName")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the multipart body has no 'file' part holding the file")
        name = given if isinstance(given, str) and given else (upload.filename or "")
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        if not name or name in (".", "..") or any(ord(c) < 32 for c in name):
            raise ApiError(400, f"fileName {given!r} is not a usable file name")
        if upload.size is not None and upload.size > MAX_ATTACHMENT:
            raise ApiError(
                413, f"the file has {upload.size:,} bytes; werk takes attachments up to {MAX_ATTACHMENT:,}"
            )
        data = await upload.read()
    finally:
        await form.close()  # a big upload was spooled to a temporary file
    declared = (upload.content_type or "").split(";")[0].strip()
    if not declared or declared == "application/octet-stream":
        declared = mimetypes.guess_type(name)[0] or declared or "application/octet-stream"
    return name, declared, data
