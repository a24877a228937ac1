"""The Asset Administration Shell HTTP API, IDTA-01002-3-0 (Part 2, API v3.0), for werk's twin.

Profiles ("Service Specifications and Profiles", listed at ``GET /description``): AAS repository and submodel
repository, full (SSP-001) and read-only (SSP-002), and the concept description repository (SSP-001). Shape of the
interface, all from Part 2 "HTTP/REST API":

- identifiers in paths and queries are base64url-encoded (RFC 4648 section 5, padding optional), idShortPaths are
  dotted with ``[n]`` for list items;
- modifiers ``level`` (deep/core), ``extent`` (withoutBlobValue/withBlobValue), ``$metadata``, ``$value``,
  ``$reference``, ``$path`` ("Serialization Modifiers", implemented in :mod:`werk.twin.formats`);
- lists are paged with ``limit`` and an opaque ``cursor`` ("Pagination"), answered as
  ``{"paging_metadata": {"cursor": ...}, "result": [...]}``;
- every error is a Result body ``{"messages": [{"code", "messageType", "text", "timestamp"}]}`` (class Result):
  400 for a malformed request or an invalid object, 401/403 for writes without a valid token, 404 for an unknown
  id or path, 409 for an id that exists already.

Writes (POST, PUT, PATCH, DELETE) need a bearer token; reads are open, because werk serves on loopback by default.
Properties bound to signals (:mod:`werk.twin.live`) show the live value on every read. ``PATCH .../$value`` of one
bound to a single signal writes the value to the machine through its connector when the router has a
``write_signal`` and the plant file lists the signal as writable (409 otherwise, 502 when the machine refuses); the
property then shows what the machine reports back. Every such write is audited by ``write_signal``.

One werk extension, outside the standard paths' semantics: ``POST {prefix}/werk/import`` loads a whole JSON, XML or
AASX environment all or nothing (the standard has no such operation outside the AASX file server).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Collection, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from anyio import from_thread
from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription
from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from werk.api.aas_views import ReadCache
from werk.core.model import Value, finite
from werk.errors import AasError, ConnectorError, WriteRefused
from werk.twin import formats
from werk.twin import io as aas_io
from werk.twin.environment import UNS_QUALIFIER_TYPE
from werk.twin.live import LiveValue, binding, bound_path, bound_properties, element_container, refresh
from werk.twin.store import TwinStore, file_names

log = logging.getLogger(__name__)

API_PREFIX = "/api/v3.0"
_SSP = "https://admin-shell.io/aas/API/3/0/"
WRITER_ROLE = "supervisor"
"""The role the AAS API's writes need (werk.api.app guards them with it, and so does a worker, werk.api.worker)."""

PROFILES = [
    _SSP + "AssetAdministrationShellRepositoryServiceSpecification/SSP-001",
    _SSP + "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    _SSP + "SubmodelRepositoryServiceSpecification/SSP-001",
    _SSP + "SubmodelRepositoryServiceSpecification/SSP-002",
    _SSP + "ConceptDescriptionRepositoryServiceSpecification/SSP-001",
]
MAX_LIMIT = 10_000
AASX_MEDIA_TYPE = "application/asset-administration-shell-package+xml"


class ApiError(Exception):
    """An error answered with a Part 2 Result body (messages with code, messageType, text, timestamp)."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers


def error_body(status: int, text: str, details: Collection[str] = ()) -> dict[str, Any]:
    """The Part 2 Result body. Texts that quote the request are made encodable first: a lone surrogate the client
    sent (JSON allows the escape) is shown as its escape, so refusing it cannot fail in turn."""
    text = encodable(text)
    details = [encodable(d) for d in details]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    messages = [{"code": str(status), "messageType": "Error", "text": text, "timestamp": now}]
    messages += [{"code": str(status), "messageType": "Info", "text": d, "timestamp": now} for d in details]
    return {"messages": messages}


def error_response(
    status: int, text: str, details: Collection[str] = (), headers: Any = None
) -> JSONResponse:
    return JSONResponse(error_body(status, text, details), status_code=status, headers=headers)


def encodable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (a lone surrogate) written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AasRoute(APIRoute):
    """Turns every failure inside a route (including FastAPI's own request validation and auth dependencies) into
    a Part 2 Result body, so clients of this router never see FastAPI's ``{"detail": ...}`` shape.

    ``after_write``, if set, is awaited after every write before its answer goes out: the twin's store persists
    changes in batches, and a client must not be told of a change that a crash could still lose.
    """

    after_write: Callable[[], Awaitable[None]] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        after_write = self.after_write

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
                if after_write is not None and request.method in _WRITES:
                    await after_write()
                return response
            except ApiError as exc:
                return error_response(exc.status, exc.text, headers=exc.headers)
            except AasError as exc:
                return error_response(400, str(exc), exc.problems)
            except RequestValidationError as exc:
                return error_response(400, f"malformed request: {exc.errors()}")
            except StarletteHTTPException as exc:
                return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
            except (
                Exception
            ) as exc:  # a bug, not a bad request: logged with its traceback, answered in spec shape
                log.exception("aas.api.error path=%s", request.url.path)
                return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

        return handler


# --- authentication ---------------------------------------------------------------------------------------------


def bearer_writer(tokens: Collection[str]) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """The default write guard: ``Authorization: Bearer <token>`` with one of ``tokens``.

    No token configured means writes are refused (403) rather than open: an API that changes the plant's twin must
    not become writable by forgetting a setting. A coroutine, because FastAPI runs a plain function dependency in
    its threadpool: a hop per write for a few microseconds of work.
    """
    allowed = [t.encode() for t in tokens if t]
    challenge = {"WWW-Authenticate": 'Bearer realm="werk-aas"'}

    def refusal(authorization: str) -> ApiError | None:
        """Why a request with this ``Authorization`` header may not write, or None if it may."""
        if not allowed:
            return ApiError(
                403,
                "writes to the AAS API are disabled because no API token is configured; configure one "
                "(build_aas_router(..., tokens={...})) and send it as 'Authorization: Bearer <token>'",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return ApiError(401, "this write needs 'Authorization: Bearer <token>'", challenge)
        given = token.strip().encode()
        if not any(hmac.compare_digest(given, t) for t in allowed):
            return ApiError(401, "the bearer token is not valid for writes", challenge)
        return None

    async def require_writer(request: Request) -> None:
        error = refusal(request.headers.get("authorization", ""))
        if error is not None:
            raise error

    require_writer.authorizes = lambda header: refusal(header) is None  # type: ignore[attr-defined]
    return require_writer


# --- request parsing ----------------------------------------------------------------------------------------------


def b64url_decode(value: str, what: str = "identifier") -> str:
    """A base64url-encoded identifier (RFC 4648 section 5), padding optional."""
    if (
        not value
        or not all(c.isalnum() or c in "-_" for c in value.rstrip("="))
        or len(value) - len(value.rstrip("=")) > 2
    ):
        raise ApiError(400, f"{what} {value!r} is not base64url-encoded (RFC 4648 section 5)")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, f"{what} {value!r} is not base64url-encoded UTF-8 text") from None


def b64url_encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _limit(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise ApiError(400, f"limit {value!r} is not an integer") from None
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, f"limit {n} is outside 1..{MAX_LIMIT}")
    return n


def _cursor(value: str | None) -> int:
    if value is None:
        return 0
    try:
        text = b64url_decode(value, "cursor")
        if not text.startswith("o:"):
            raise ValueError(text)
        return max(0, int(text[2:]))
    except (ApiError, ValueError):
        raise ApiError(400, f"cursor {value!r} is not one this server issued") from None


def _level(value: str | None) -> formats.Level:
    if value in (None, "deep"):
        return "deep"
    if value == "core":
        return "core"
    raise ApiError(400, f"level {value!r} must be 'deep' or 'core'")


def _extent(value: str | None) -> formats.Extent:
    if value in (None, "withoutBlobValue"):
        return "withoutBlobValue"
    if value == "withBlobValue":
        return "withBlobValue"
    raise ApiError(400, f"extent {value!r} must be 'withoutBlobValue' or 'withBlobValue'")


def _bool(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, f"{name} {value!r} must be 'true' or 'false'")


def paged(
    items: list[Any], limit: str | None, cursor: str | None, render: Callable[[Any], Any]
) -> JSONResponse:
    """One page of ``items`` and the cursor of the next, if any (Part 2 "Pagination")."""
    n, start = _limit(limit), _cursor(cursor)
    page = items[start : start + n] if n is not None else items[start:]
    meta: dict[str, str] = {}
    if start + len(page) < len(items):
        meta["cursor"] = b64url_encode(f"o:{start + len(page)}")
    return JSONResponse({"paging_metadata": meta, "result": [render(x) for x in page]})


Body_ = Annotated[Any, Body()]


# --- the router -------------------------------------------------------------------------------------------------


WriteSignal = Callable[[str, Value, str], Coroutine[Any, Any, None]]
"""Write a value to the machine behind a UNS path, on behalf of a named user (``Platform.write_signal``)."""


class AasRouter(APIRouter):
    """The API's router, with what :class:`werk.api.aas_fast.AasFastPath` needs to answer as its routes do."""

    def __init__(self, *, cache: ReadCache, write_guard: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache = cache
        self.write_guard = write_guard


def build_aas_router(
    store: TwinStore,
    live_value: LiveValue,
    *,
    tokens: Collection[str] = (),
    require_writer: Callable[..., Any] | None = None,
    prefix: str = API_PREFIX,
    profiles: Collection[str] = PROFILES,
    write_signal: WriteSignal | None = None,
) -> AasRouter:
    """The Part 2 API over ``store``; bound Properties read ``live_value(uns_path)``.

    ``require_writer`` is a FastAPI dependency guarding every write; by default :func:`bearer_writer` over
    ``tokens``. ``profiles`` are answered at ``/description``: an app that mounts other Part 2 services under the
    same prefix (registry, discovery, file server) lists theirs too. Add :class:`werk.api.aas_fast.AasFastPath` to
    the app as well to serve the busiest operations without FastAPI's per-request machinery.
    """

    class Route(AasRoute):
        after_write = store.synced

    guard = require_writer or bearer_writer(tokens)
    cache = ReadCache(store, live_value)
    router = AasRouter(
        prefix=prefix, route_class=Route, tags=["AAS API (IDTA-01002-3-0)"], cache=cache, write_guard=guard
    )
    writer = [Depends(guard)]
    lock = store.lock

    # --- lookups -------------------------------------------------------------------------------------------------

    def replace_same_id(new: Any, old: Any, refusal: str | None = None) -> None:
        """Put ``new`` where ``old`` is (caller holds the lock); a body whose id is not the path's is refused."""
        if new.id != old.id:
            raise ApiError(400, refusal or f"the body's id {new.id!r} differs from the path's {old.id!r}")
        store.replace(new)

    def shell_or_404(encoded: str) -> model.AssetAdministrationShell:
        ident = b64url_decode(encoded)
        obj = store.get(ident, model.AssetAdministrationShell)
        if obj is None:
            raise ApiError(404, f"no asset administration shell with id {ident!r}")
        return obj

    def submodel_or_404(encoded: str, via_shell: str | None = None) -> model.Submodel:
        ident = b64url_decode(encoded)
        if via_shell is not None:
            shell = shell_or_404(via_shell)
            if not any(_ref_value(r) == ident for r in shell.submodel):
                raise ApiError(404, f"shell {shell.id!r} has no reference to submodel {ident!r}")
        obj = store.get(ident, model.Submodel)
        if obj is None:
            raise ApiError(404, f"no submodel with id {ident!r}")
        return obj

    def cd_or_404(encoded: str) -> ConceptDescription:
        ident = b64url_decode(encoded)
        obj = store.get(ident, ConceptDescription)
        if obj is None:
            raise ApiError(404, f"no concept description with id {ident!r}")
        return obj

    def element_or_404(sm: model.Submodel, path: str) -> model.SubmodelElement:
        try:
            return cache.element(sm, path)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        except KeyError as exc:
            raise ApiError(404, f"submodel {sm.id!r}: {exc.args[0]}") from None

    def live(obj: object) -> object:
        refresh(obj, live_value)
        return obj

    def value_body(sm: model.Submodel, path: str) -> bytes:
        element_or_404(sm, path)  # its errors
        return cache.element_value_body(sm, path)

    async def read(render: Callable[[], Response]) -> Response:
        """Run a short, bounded read under the store's lock. When the lock is free it runs on the event loop: a
        FastAPI sync route costs a hop to the threadpool per request, which was a third of the time of a ``$value``
        read (benchmarks/aas_api.py). When a writer holds the lock it waits in the threadpool instead, so the event
        loop never blocks on a write (an import, a persisted change)."""
        if lock.acquire(blocking=False):
            try:
                return render()
            finally:
                lock.release()

        def locked() -> Response:
            with lock:
                return render()

        return await run_in_threadpool(locked)

    jsonable = cache.jsonable

    def decode(data: Any, kind: str) -> Any:
        return aas_io.decode(data, kind, metamodel=store.metamodel)

    def add_new(obj: model.Identifiable) -> None:
        try:
            store.add(obj)
        except KeyError:
            raise ApiError(409, f"an object with id {obj.id!r} exists already") from None

    def created(data: Any, location: str) -> JSONResponse:
        return JSONResponse(data, status_code=201, headers={"Location": location})

    def no_content() -> Response:
        return Response(status_code=204)

    # --- description, serialization, import ---------------------------------------------------------------------

    @router.get("/description")
    def get_description() -> JSONResponse:
        return JSONResponse({"profiles": list(profiles)})

    @router.get("/serialization")
    def generate_serialization(request: Request) -> Response:
        q = request.query_params
        aas_ids = {b64url_decode(v) for v in q.getlist("aasIds")}
        sm_ids = {b64url_decode(v) for v in q.getlist("submodelIds")}
        with_cds = _bool(q.get("includeConceptDescriptions"), "includeConceptDescriptions", True)
        with lock:
            shells = [s for s in store.all(model.AssetAdministrationShell) if not aas_ids or s.id in aas_ids]
            if aas_ids and not sm_ids:  # the chosen shells come with their own submodels
                sm_ids = {_ref_value(r) for s in shells for r in s.submodel}
                submodels = [s for s in store.all(model.Submodel) if s.id in sm_ids]
                sm_ids = {s.id for s in submodels}
            else:
                submodels = [s for s in store.all(model.Submodel) if not sm_ids or s.id in sm_ids]
            missing = (aas_ids - {s.id for s in shells}) | (sm_ids - {s.id for s in submodels})
            if missing:
                raise ApiError(404, f"unknown identifiers {sorted(missing)}")
            for sm in submodels:
                live(sm)
            objs: list[model.Identifiable] = [*shells, *submodels]
            if with_cds:
                objs += store.all(ConceptDescription)
            accept = request.headers.get("accept", "application/json")
            if "xml" in accept and AASX_MEDIA_TYPE not in accept:
                return Response(aas_io.write_xml(objs, validate=False), media_type="application/xml")
            if AASX_MEDIA_TYPE in accept:
                return Response(
                    aas_io.write_aasx(objs, store.files, validate=False), media_type=AASX_MEDIA_TYPE
                )
            return JSONResponse(aas_io.environment_jsonable(objs) or {})

    @router.post("/werk/import", dependencies=writer, tags=["werk extension"])
    async def import_environment(request: Request) -> JSONResponse:
        """Load a JSON, XML or AASX environment completely, or nothing (400 with every finding, 409 if an id is
        taken). Content-Type chooses the reader; ``?metamodel=3.1`` for 3.1 JSON."""
        data = await request.body()
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        mm_param = request.query_params.get("metamodel", "3.0")
        if mm_param not in ("3.0", "3.1"):
            raise ApiError(400, f"metamodel {mm_param!r} must be '3.0' or '3.1'")
        mm: aas_io.Metamodel = "3.1" if mm_param == "3.1" else "3.0"

        def load() -> aas_io.Loaded:  # parsing and checking take CPU time: off the event loop
            if ctype in ("application/xml", "text/xml"):
                loaded = aas_io.read_xml(data, source="request body")
            elif ctype in (AASX_MEDIA_TYPE, "application/zip", "application/octet-stream"):
                loaded = aas_io.read_aasx(data, source="request body", metamodel=mm)
            else:
                loaded = aas_io.read_json(data, source="request body", metamodel=mm)
            with lock:
                taken = [o.id for o in loaded.objects if store.objects.get(o.id) is not None]
                if taken:
                    raise ApiError(
                        409, f"{len(taken)} identifiers exist already, nothing imported: {taken[:10]}"
                    )
                try:
                    store.add_files(loaded.files)  # stored before the objects that point at them
                except KeyError as exc:  # names held with other content: nothing was added
                    raise ApiError(
                        409,
                        f"files with these names hold other content already, nothing imported: {exc.args[0][:10]}",
                    ) from None
                for obj in loaded.objects:
                    store.add(obj)
            return loaded

        r = (await run_in_threadpool(load)).report
        report = {
            "counts": r.counts,
            "loaded": r.loaded,
            "elements": r.elements,
            "warnings": list(r.warnings),
        }
        return JSONResponse(report, status_code=201)

    # --- AAS repository (AssetAdministrationShellRepositoryServiceSpecification) --------------------

    def shells_filtered(request: Request) -> list[model.AssetAdministrationShell]:
        q = request.query_params
        id_short = q.get("idShort")
        wanted: list[tuple[str, str]] = []
        for encoded in q.getlist("assetIds"):
            try:
                spec = json.loads(b64url_decode(encoded, "assetIds"))
                wanted.append((str(spec["name"]), str(spec["value"])))
            except (ValueError, KeyError, TypeError):
                raise ApiError(
                    400, "assetIds must be base64url-encoded JSON {'name': ..., 'value': ...}"
                ) from None
        out = []
        for s in store.all(model.AssetAdministrationShell):
            if id_short is not None and s.id_short != id_short:
                continue
            ids = {("globalAssetId", s.asset_information.global_asset_id or "")}
            ids |= {(a.name, a.value) for a in s.asset_information.specific_asset_id}
            if wanted and not all(w in ids for w in wanted):
                continue
            out.append(s)
        return out

    @router.get("/shells")
    async def get_all_shells(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> Response:
        if not request.scope["query_string"]:
            return await read(lambda: _json(cache.all_shells_body()))
        return await read(lambda: paged(shells_filtered(request), limit, cursor, jsonable))

    @router.get("/shells/$reference")
    def get_all_shells_reference(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(shells_filtered(request), limit, cursor, _identifiable_reference)

    @router.post("/shells", dependencies=writer)
    def post_shell(payload: Body_) -> JSONResponse:
        shell = decode(payload, "AssetAdministrationShell")
        with lock:
            add_new(shell)
            return created(aas_io.to_jsonable(shell), f"{prefix}/shells/{b64url_encode(shell.id)}")

    @router.get("/shells/{aas_id}")
    async def get_shell(aas_id: str) -> Response:
        return await read(lambda: _json(cache.identifiable_body(shell_or_404(aas_id))))

    @router.get("/shells/{aas_id}/$reference")
    def get_shell_reference(aas_id: str) -> JSONResponse:
        with lock:
            return JSONResponse(_identifiable_reference(shell_or_404(aas_id)))

    @router.put("/shells/{aas_id}", dependencies=writer)
    def put_shell(aas_id: str, payload: Body_) -> Response:
        shell = decode(payload, "AssetAdministrationShell")
        with lock:
            replace_same_id(shell, shell_or_404(aas_id))
        return no_content()

    @router.delete("/shells/{aas_id}", dependencies=writer)
    def delete_shell(aas_id: str) -> Response:
        with lock:
            store.delete(shell_or_404(aas_id).id)
        return no_content()

    @router.get("/shells/{aas_id}/asset-information")
    def get_asset_information(aas_id: str) -> JSONResponse:
        with lock:
            return JSONResponse(aas_io.to_jsonable(shell_or_404(aas_id).asset_information))

    @router.put("/shells/{aas_id}/asset-information", dependencies=writer)
    def put_asset_information(aas_id: str, payload: Body_) -> Response:
        info = decode(payload, "AssetInformation")
        with lock:
            shell = shell_or_404(aas_id)
            shell.asset_information = info
            store.changed(shell)
        return no_content()

    @router.get("/shells/{aas_id}/asset-information/thumbnail")
    def get_thumbnail(aas_id: str) -> Response:
        with lock:
            thumb = shell_or_404(aas_id).asset_information.default_thumbnail
            if thumb is None or thumb.path not in store.files:
                raise ApiError(404, "this shell has no thumbnail in werk's file store")
            return Response(_bytes_of(store.files, thumb.path).getvalue(), media_type=thumb.content_type)

    @router.get("/shells/{aas_id}/submodel-refs")
    def get_submodel_refs(aas_id: str, limit: str | None = None, cursor: str | None = None) -> JSONResponse:
        with lock:
            refs = sorted(shell_or_404(aas_id).submodel, key=_ref_value)
            return paged(refs, limit, cursor, aas_io.to_jsonable)

    @router.post("/shells/{aas_id}/submodel-refs", dependencies=writer)
    def post_submodel_ref(aas_id: str, payload: Body_) -> JSONResponse:
        ref = decode(payload, "Reference")
        if not isinstance(ref, model.ModelReference) or ref.key[0].type is not model.KeyTypes.SUBMODEL:
            raise ApiError(
                400, "a submodel reference is a ModelReference whose first key is of type Submodel"
            )
        with lock:
            shell = shell_or_404(aas_id)
            if any(_ref_value(r) == _ref_value(ref) for r in shell.submodel):
                raise ApiError(409, f"shell {shell.id!r} refers to submodel {_ref_value(ref)!r} already")
            shell.submodel.add(ref)
            store.changed(shell)
            return created(aas_io.to_jsonable(ref), f"{prefix}/shells/{aas_id}/submodel-refs")

    @router.delete("/shells/{aas_id}/submodel-refs/{submodel_id}", dependencies=writer)
    def delete_submodel_ref(aas_id: str, submodel_id: str) -> Response:
        ident = b64url_decode(submodel_id)
        with lock:
            shell = shell_or_404(aas_id)
            refs = [r for r in shell.submodel if _ref_value(r) == ident]
            if not refs:
                raise ApiError(404, f"shell {shell.id!r} has no reference to submodel {ident!r}")
            for r in refs:
                shell.submodel.discard(r)
            store.changed(shell)
        return no_content()

    # --- submodel repository (SubmodelRepositoryServiceSpecification) ------------------------------

    def submodels_filtered(request: Request) -> list[model.Submodel]:
        q = request.query_params
        id_short = q.get("idShort")
        semantic = q.get("semanticId")
        wanted: str | None = None
        if semantic is not None:
            try:
                wanted = _ref_value(decode(json.loads(b64url_decode(semantic, "semanticId")), "Reference"))
            except ValueError:
                raise ApiError(400, "semanticId must be a base64url-encoded JSON Reference") from None
        return [
            s
            for s in store.all(model.Submodel)
            if (id_short is None or s.id_short == id_short)
            and (wanted is None or (s.semantic_id is not None and _ref_value(s.semantic_id) == wanted))
        ]

    @router.get("/submodels")
    def get_all_submodels(
        request: Request,
        limit: str | None = None,
        cursor: str | None = None,
        level: str | None = None,
        extent: str | None = None,
    ) -> JSONResponse:
        lv, ex = _level(level), _extent(extent)
        with lock:
            return paged(
                submodels_filtered(request), limit, cursor, lambda s: formats.normal(live(s), lv, ex)
            )

    @router.get("/submodels/$metadata")
    def get_all_submodels_metadata(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(submodels_filtered(request), limit, cursor, formats.metadata)

    @router.get("/submodels/$value")
    def get_all_submodels_value(
        request: Request,
        limit: str | None = None,
        cursor: str | None = None,
        level: str | None = None,
        extent: str | None = None,
    ) -> JSONResponse:
        _level(level)
        ex = _extent(extent)
        with lock:
            return paged(
                submodels_filtered(request),
                limit,
                cursor,
                lambda s: {str(s.id_short): formats.value_only(live(s), ex)},
            )

    @router.get("/submodels/$reference")
    def get_all_submodels_reference(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return paged(submodels_filtered(request), limit, cursor, _identifiable_reference)

    @router.get("/submodels/$path")
    def get_all_submodels_path(
        request: Request, limit: str | None = None, cursor: str | None = None, level: str | None = None
    ) -> JSONResponse:
        _level(level)
        with lock:
            # one path per submodel, its idShort: paths of elements are per submodel ({id}/$path)
            return paged(
                submodels_filtered(request),
                limit,
                cursor,
                lambda s: str(s.id_short),
            )

    @router.post("/submodels", dependencies=writer)
    def post_submodel(payload: Body_) -> JSONResponse:
        sm = decode(payload, "Submodel")
        with lock:
            add_new(sm)
            return created(aas_io.to_jsonable(sm), f"{prefix}/submodels/{b64url_encode(sm.id)}")

    def submodel_routes(base: str, via_shell: bool) -> None:
        """The routes of one submodel, served under ``/submodels/{id}`` and the AAS superpath
        ``/shells/{aas}/submodels/{id}`` (Part 2 superpaths)."""

        def sm_of(request: Request) -> model.Submodel:
            p = request.path_params
            return submodel_or_404(p["submodel_id"], p.get("aas_id") if via_shell else None)

        @router.get(base)
        async def get_submodel(
            request: Request, level: str | None = None, extent: str | None = None
        ) -> Response:
            lv, ex = _level(level), _extent(extent)
            if lv == "deep" and ex == "withoutBlobValue":
                return await read(lambda: _json(cache.submodel_body(sm_of(request))))
            return await read(lambda: JSONResponse(formats.normal(live(sm_of(request)), lv, ex)))

        @router.get(base + "/$metadata")
        def get_submodel_metadata(request: Request, level: str | None = None) -> JSONResponse:
            _level(level)
            with lock:
                return JSONResponse(formats.metadata(sm_of(request)))

        @router.get(base + "/$value")
        async def get_submodel_value(
            request: Request, level: str | None = None, extent: str | None = None
        ) -> Response:
            _level(level)
            ex = _extent(extent)
            return await read(lambda: JSONResponse(formats.value_only(live(sm_of(request)), ex)))

        @router.get(base + "/$reference")
        def get_submodel_reference(request: Request, level: str | None = None) -> JSONResponse:
            _level(level)
            with lock:
                return JSONResponse(formats.reference(sm_of(request)))

        @router.get(base + "/$path")
        def get_submodel_path(request: Request, level: str | None = None) -> JSONResponse:
            lv = _level(level)
            with lock:
                return JSONResponse(list(formats.id_short_paths(sm_of(request), level=lv)))

        @router.put(base, dependencies=writer)
        def put_submodel(request: Request, payload: Body_) -> Response:
            sm = decode(payload, "Submodel")
            with lock:
                replace_same_id(sm, sm_of(request))
            return no_content()

        @router.patch(base, dependencies=writer)
        def patch_submodel(request: Request, payload: Body_) -> Response:
            """Merge the body's attributes into the submodel (RFC 7396 at the top level), then validate."""
            if not isinstance(payload, dict):
                raise ApiError(400, "PATCH of a submodel takes a JSON object of the attributes to change")
            with lock:
                old = sm_of(request)
                merged = decode({**aas_io.to_jsonable(old), **payload}, "Submodel")
                replace_same_id(merged, old, "PATCH cannot change a submodel's id")
            return no_content()

        @router.patch(base + "/$metadata", dependencies=writer)
        def patch_submodel_metadata(request: Request, payload: Body_) -> Response:
            if not isinstance(payload, dict) or "submodelElements" in payload:
                raise ApiError(
                    400, "PATCH $metadata takes the submodel's attributes without submodelElements"
                )
            with lock:
                old = sm_of(request)
                merged = decode({**aas_io.to_jsonable(old), **payload}, "Submodel")
                replace_same_id(merged, old, "PATCH cannot change a submodel's id")
            return no_content()

        @router.patch(base + "/$value", dependencies=writer)
        def patch_submodel_value(request: Request, payload: Body_) -> Response:
            if not isinstance(payload, dict):
                raise ApiError(400, "PATCH $value of a submodel takes an object of values by idShort")
            with lock:
                sm = sm_of(request)
                touched = False
                try:
                    for id_short, value in payload.items():
                        el = element_or_404(sm, str(id_short))
                        touched = True
                        set_value(el, value)
                finally:
                    # values set before one that does not fit stay set: the store must hear of them
                    if touched:
                        store.changed(sm, values_only=True)
            return no_content()

        @router.delete(base, dependencies=writer)
        def delete_submodel(request: Request) -> Response:
            with lock:
                store.delete(sm_of(request).id)
            return no_content()

        # --- submodel elements ---------------------------------------------------------------------------------

        el_base = base + "/submodel-elements"

        @router.get(el_base)
        def get_all_elements(
            request: Request,
            limit: str | None = None,
            cursor: str | None = None,
            level: str | None = None,
            extent: str | None = None,
        ) -> JSONResponse:
            lv, ex = _level(level), _extent(extent)
            with lock:
                sm = live(sm_of(request))
                assert isinstance(sm, model.Submodel)
                return paged(list(sm.submodel_element), limit, cursor, lambda e: formats.normal(e, lv, ex))

        @router.get(el_base + "/$metadata")
        def get_all_elements_metadata(
            request: Request, limit: str | None = None, cursor: str | None = None
        ) -> JSONResponse:
            with lock:
                els = [
                    e
                    for e in sm_of(request).submodel_element
                    if not isinstance(e, model.Capability | model.Operation)
                ]
                return paged(els, limit, cursor, formats.metadata)

        @router.get(el_base + "/$value")
        def get_all_elements_value(
            request: Request,
            limit: str | None = None,
            cursor: str | None = None,
            level: str | None = None,
            extent: str | None = None,
        ) -> JSONResponse:
            _level(level)
            ex = _extent(extent)
            with lock:
                sm = live(sm_of(request))
                assert isinstance(sm, model.Submodel)
                els = [
                    e for e in sm.submodel_element if not isinstance(e, model.Capability | model.Operation)
                ]
                return paged(els, limit, cursor, lambda e: formats.value_only(e, ex))

        @router.get(el_base + "/$reference")
        def get_all_elements_reference(
            request: Request, limit: str | None = None, cursor: str | None = None
        ) -> JSONResponse:
            with lock:
                sm = sm_of(request)
                return paged(
                    list(sm.submodel_element),
                    limit,
                    cursor,
                    lambda e: formats.reference(sm, str(e.id_short)),
                )

        @router.get(el_base + "/$path")
        def get_all_elements_path(
            request: Request, limit: str | None = None, cursor: str | None = None, level: str | None = None
        ) -> JSONResponse:
            lv = _level(level)
            with lock:
                sm = sm_of(request)
                # paged by path, not by top-level element: a page of n holds n paths
                paths = list(formats.id_short_paths(sm, level=lv))
                return paged(paths, limit, cursor, lambda p: p)

        @router.post(el_base, dependencies=writer)
        def post_element(request: Request, payload: Body_) -> JSONResponse:
            el = decode(payload, "SubmodelElement")
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
            lv, ex = _level(level), _extent(extent)
            return await read(
                lambda: JSONResponse(formats.normal(live(element_or_404(sm_of(request), path)), lv, ex))
            )

        @router.get(el_base + "/{path}/$metadata")
        def get_element_metadata(request: Request, path: str) -> JSONResponse:
            with lock:
                return JSONResponse(formats.metadata(element_or_404(sm_of(request), path)))

        @router.get(el_base + "/{path}/$value")
        async def get_element_value(
            request: Request, path: str, level: str | None = None, extent: str | None = None
        ) -> Response:
            _level(level)
            ex = _extent(extent)
            if ex == "withoutBlobValue":
                return await read(lambda: _json(value_body(sm_of(request), path)))
            return await read(
                lambda: JSONResponse(formats.value_only(live(element_or_404(sm_of(request), path)), ex))
            )

        @router.get(el_base + "/{path}/$reference")
        def get_element_reference(request: Request, path: str) -> JSONResponse:
            with lock:
                sm = sm_of(request)
                element_or_404(sm, path)
                return JSONResponse(formats.reference(sm, path))

        @router.get(el_base + "/{path}/$path")
        def get_element_path(request: Request, path: str, level: str | None = None) -> JSONResponse:
            lv = _level(level)
            with lock:
                return JSONResponse(formats.element_paths(element_or_404(sm_of(request), path), path, lv))

        @router.get(el_base + "/{path}/attachment")
        def get_attachment(request: Request, path: str) -> Response:
            with lock:
                el = element_or_404(sm_of(request), path)
                if isinstance(el, model.Blob):
                    return Response(el.value or b"", media_type=el.content_type)
                if not isinstance(el, model.File):
                    raise ApiError(
                        400, f"{path} is a {type(el).__name__}; attachments belong to File elements"
                    )
                if el.value is None or el.value not in store.files:
                    raise ApiError(404, f"{path}: the file {el.value!r} is not in werk's file store")
                return Response(_bytes_of(store.files, el.value).getvalue(), media_type=el.content_type)

        @router.put(el_base + "/{path}/attachment", dependencies=writer, status_code=204)
        async def put_attachment(request: Request, path: str) -> Response:
            """PutFileByPath: ``multipart/form-data`` with ``fileName`` and ``file``. The file is stored under a
            package path of its own element, so two elements never share (and overwrite) one upload."""
            file_name, content_type, data = await _upload(request)
            await run_in_threadpool(store_attachment, request, path, file_name, content_type, data)
            return no_content()

        def store_attachment(
            request: Request, path: str, file_name: str, content_type: str, data: bytes
        ) -> None:
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

        @router.delete(el_base + "/{path}/attachment", dependencies=writer)
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

        @router.post(el_base + "/{path}", dependencies=writer)
        def post_element_at(request: Request, path: str, payload: Body_) -> JSONResponse:
            el = decode(payload, "SubmodelElement")
            with lock:
                sm = sm_of(request)
                parent = element_or_404(sm, path)
                add_child(parent, el)
                store.changed(sm)
                return created(aas_io.to_jsonable(el), request.url.path)

        @router.put(el_base + "/{path}", dependencies=writer)
        def put_element(request: Request, path: str, payload: Body_) -> Response:
            new = decode(payload, "SubmodelElement")
            with lock:
                sm = sm_of(request)
                replace_element(sm, path, new)
                store.changed(sm)
            return no_content()

        @router.patch(el_base + "/{path}", dependencies=writer)
        def patch_element(request: Request, path: str, payload: Body_) -> Response:
            if not isinstance(payload, dict):
                raise ApiError(400, "PATCH of an element takes a JSON object of the attributes to change")
            with lock:
                sm = sm_of(request)
                old = element_or_404(sm, path)
                new = decode({**aas_io.to_jsonable(old), **payload}, "SubmodelElement")
                replace_element(sm, path, new)
                store.changed(sm)
            return no_content()

        @router.patch(el_base + "/{path}/$value", dependencies=writer)
        def patch_element_value(request: Request, path: str, payload: Body_) -> Response:
            with lock:
                sm = sm_of(request)
                el = element_or_404(sm, path)
                value = payload
                if (
                    isinstance(payload, dict)
                    and set(payload) == {el.id_short}
                    and not isinstance(
                        el, model.SubmodelElementCollection | model.Range | model.File | model.Blob
                    )
                ):
                    value = payload[el.id_short]  # the {idShort: value} form of GET $value
                target = machine_target(el, value)
                if target is None:
                    store.release_files(file_names(el))  # a File's new value may point elsewhere
                    try:
                        set_value(el, value)
                    finally:  # a collection's values set before one that does not fit stay set
                        if isinstance(el, model.Property):
                            store.value_changed(sm, path, el)  # stored as that value alone
                        else:
                            store.changed(sm, values_only=True)
                    return no_content()
            # a write to the machine, outside the twin's lock: the connector may take a while
            assert write_signal is not None
            user = getattr(request.state, "user", None)
            try:
                from_thread.run(write_signal, *target, getattr(user, "name", "token holder"))
            except WriteRefused as exc:
                raise ApiError(409, str(exc)) from None
            except ConnectorError as exc:
                raise ApiError(502, f"the machine did not take the value: {exc}") from None
            return no_content()

        @router.delete(el_base + "/{path}", dependencies=writer)
        def delete_element(request: Request, path: str) -> Response:
            with lock:
                sm = sm_of(request)
                el = element_or_404(sm, path)
                parent = el.parent
                container = element_container(parent)
                if container is None:
                    raise ApiError(400, f"{path} cannot be removed from its parent")
                container.remove(el)
                store.release_files(file_names(el))
                store.changed(sm)
            return no_content()

    def machine_target(el: model.SubmodelElement, value: Any) -> tuple[str, Value] | None:
        """(signal, machine value) when PATCH $value of ``el`` is a write to a machine; None for a plain value."""
        b = binding(el)
        if b is None or write_signal is None:
            return None  # set_value refuses bound properties when werk cannot write to machines
        assert isinstance(el, model.Property)
        if b.kind != UNS_QUALIFIER_TYPE or len(b.paths) != 1:
            raise ApiError(
                409, f"{el.id_short!r} is derived from signals ({' '.join(b.paths)}); not writable"
            )
        probe = model.Property("probe", el.value_type)
        try:
            formats.apply_value(probe, value)  # the same checks as any Property's value
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

    def set_value(el: model.SubmodelElement, value: Any) -> None:
        bound = [p for _, p in bound_properties(el)]
        if bound:
            raise ApiError(
                409, f"{el.id_short!r} shows live signal values ({bound[0]}); werk does not write to machines"
            )
        formats.apply_value(el, value)

    def add_child(parent: model.SubmodelElement, el: model.SubmodelElement) -> None:
        container = element_container(parent)
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

    def replace_element(sm: model.Submodel, path: str, new: model.SubmodelElement) -> None:
        """Put ``new`` where the element at ``path`` is; the files the old one pointed at are released."""
        old = element_or_404(sm, path)
        store.release_files(file_names(old))  # kept if the replacement fails or still points at them
        if bound_path(old) is not None:
            raise ApiError(409, f"{path} is bound to a live signal; change the plant file instead")
        container = element_container(old.parent)
        if container is None:
            raise ApiError(400, f"{path} cannot be replaced in its parent")
        if not isinstance(old.parent, model.SubmodelElementList) and new.id_short != old.id_short:
            raise ApiError(
                400, f"the body's idShort {new.id_short!r} differs from the path's {old.id_short!r}"
            )
        items = list(container)
        try:
            if isinstance(old.parent, model.SubmodelElementList):
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

    # --- concept descriptions (ConceptDescriptionRepositoryServiceSpecification) ----------------------------------

    @router.get("/concept-descriptions")
    def get_all_cds(
        request: Request, limit: str | None = None, cursor: str | None = None, idShort: str | None = None
    ) -> JSONResponse:
        with lock:
            cds = [c for c in store.all(ConceptDescription) if idShort is None or c.id_short == idShort]
            return paged(cds, limit, cursor, jsonable)

    @router.post("/concept-descriptions", dependencies=writer)
    def post_cd(payload: Body_) -> JSONResponse:
        cd = decode(payload, "ConceptDescription")
        with lock:
            add_new(cd)
            return created(aas_io.to_jsonable(cd), f"{prefix}/concept-descriptions/{b64url_encode(cd.id)}")

    @router.get("/concept-descriptions/{cd_id}")
    def get_cd(cd_id: str) -> JSONResponse:
        with lock:
            return JSONResponse(jsonable(cd_or_404(cd_id)))

    @router.put("/concept-descriptions/{cd_id}", dependencies=writer)
    def put_cd(cd_id: str, payload: Body_) -> Response:
        cd = decode(payload, "ConceptDescription")
        with lock:
            replace_same_id(cd, cd_or_404(cd_id))
        return no_content()

    @router.delete("/concept-descriptions/{cd_id}", dependencies=writer)
    def delete_cd(cd_id: str) -> Response:
        with lock:
            store.delete(cd_or_404(cd_id).id)
        return no_content()

    # the submodel repository first: its reads are the busiest, and route matching is a linear scan
    submodel_routes("/submodels/{submodel_id}", via_shell=False)
    submodel_routes("/shells/{aas_id}/submodels/{submodel_id}", via_shell=True)
    operations = list(router.routes)

    @router.api_route(
        "/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def no_such_operation(request: Request, rest: str) -> Response:
        """Unknown paths and methods under the prefix answer in the spec's Result shape too (registered last)."""
        scope = {**request.scope, "method": "GET"}
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            scope["method"] = method
            if any(r.matches(scope)[0] is Match.FULL for r in operations):
                raise ApiError(405, f"{request.method} is not an operation on {request.url.path}")
        raise ApiError(404, f"no AAS API operation at {request.url.path} (IDTA-01002-3-0, API v3.0)")

    declare_path_parameters(router)
    return router


_PATH_PARAMETER_TEXT = {
    "aas_id": "The shell's identifier, base64url-encoded (no padding)",
    "submodel_id": "The submodel's identifier, base64url-encoded (no padding)",
}


def _path_parameters(dependant: Dependant) -> set[str]:
    """The path parameters a route's signature and its dependencies declare."""
    names = {p.alias for p in dependant.path_params}
    for sub in dependant.dependencies:
        names |= _path_parameters(sub)
    return names


def declare_path_parameters(router: APIRouter) -> None:
    """Declare in the OpenAPI document the path parameters a route reads from the request rather than from its
    signature (the submodel routes are shared between /submodels/{id} and the shell's superpath, so they take the
    ids through ``request.path_params``). Without this the document names ``{submodel_id}`` in a path and no
    parameter for it, which code generators and schema-driven clients get wrong. Only the document changes: the
    routes run as before, with no extra dependency per request."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        declared = _path_parameters(route.dependant)
        missing = [n for n in route.param_convertors if n not in declared]
        if not missing:
            continue
        extra = dict(route.openapi_extra or {})
        extra["parameters"] = [
            *extra.get("parameters", []),
            *(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": _PATH_PARAMETER_TEXT.get(name, name),
                }
                for name in missing
            ),
        ]
        route.openapi_extra = extra


# --- helpers ------------------------------------------------------------------------------------------------------


def _json(body: bytes) -> Response:
    """A JSON answer rendered already (:mod:`werk.api.aas_views`): the headers ``JSONResponse`` would send."""
    return Response(body, media_type="application/json")


def _ref_value(ref: model.Reference) -> str:
    return str(ref.key[0].value) if ref.key else ""


def _identifiable_reference(obj: model.Identifiable) -> Any:
    return aas_io.to_jsonable(model.ModelReference.from_referable(obj))


MAX_ATTACHMENT = 64 * 1024 * 1024
"""The largest file PUT .../attachment takes (a manual, a drawing; not a video archive)."""


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


def _bytes_of(files: Any, name: str) -> io.BytesIO:
    buf = io.BytesIO()
    files.write_file(name, buf)
    buf.seek(0)
    return buf
