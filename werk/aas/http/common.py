"""What every router of the AAS server shares: the Part 2 error body, the route class that authorizes and makes
writes durable, identifiers, paging and modifiers, and :class:`Repository`, the lookups of the twin's objects.

Shape of the interface, all from IDTA-01002-3-0 (Part 2) "HTTP/REST API":

- identifiers in paths and queries are base64url-encoded (RFC 4648 section 5, padding optional), idShortPaths are
  dotted with ``[n]`` for list items;
- lists are paged with ``limit`` and an opaque ``cursor`` ("Pagination"), answered as
  ``{"paging_metadata": {"cursor": ...}, "result": [...]}``;
- every error is a Result body ``{"messages": [{"code", "messageType", "text", "timestamp"}]}`` (class Result):
  400 for a malformed request or an invalid object, 401/403 for writes without a valid token, 404 for an unknown
  id or path, 405 (with ``Allow``) for a method a path does not have, 409 for an id that exists already.

Writes (POST, PUT, PATCH, DELETE) are authorized before a byte of their body is read (:class:`AasRoute`); reads are
decided in front of the app (``werk.api.security.SecurityFront``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Annotated, Any, TypeVar, cast

from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription
from fastapi import APIRouter, Body, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.aas.http.views import ReadCache
from werk.aas.model import formats
from werk.aas.model.bound import LiveBinding, refresh
from werk.core.access import Caller
from werk.errors import AasError, TwinConflict, Unauthorized, WerkError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v3.0"
SSP = "https://admin-shell.io/aas/API/3/0/"
WRITER_ROLE = "supervisor"
"""The role the AAS API's writes need."""
MAX_LIMIT = 10_000
AASX_MEDIA_TYPE = "application/asset-administration-shell-package+xml"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

Authorize = Callable[[Caller], Any]
"""Who may write: the request's :class:`~werk.core.access.Caller` (its credentials, address, method and path) to
the user it names (with a ``name``), or :class:`~werk.errors.Unauthorized`
(``werk.api.auth.Authenticator.authorize`` with the writer's role, on the asset the path names)."""

Body_ = Annotated[Any, Body()]
T = TypeVar("T", bound=model.Identifiable)
R = TypeVar("R", bound=model.Referable)
Out = TypeVar("Out")


class ApiError(WerkError):
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


def authorized(authorize: Authorize, caller: Caller) -> Any:
    """The user ``authorize`` finds for a request, or :class:`ApiError` 401/403/429 saying why."""
    try:
        return authorize(caller)
    except Unauthorized as exc:
        raise ApiError(exc.status, str(exc), exc.headers) from None


class AasRoute(APIRoute):
    """Authorizes every write before its body is read, and turns every failure inside a route (FastAPI's own
    request validation included) into a Part 2 Result body, so clients of this server never see FastAPI's
    ``{"detail": ...}`` shape.

    ``after_write``, if set, is awaited after every write before its answer goes out: the twin's store persists
    changes in batches, and a client must not be told of a change that a crash could still lose. Subclassed per
    server by :func:`route_class`.
    """

    authorize: Authorize | None = None
    after_write: Callable[[], Awaitable[None]] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        after_write, authorize = self.after_write, self.authorize

        async def handler(request: Request) -> Response:
            try:
                write = request.method in WRITES
                if write and authorize is not None:
                    request.state.user = authorized(authorize, Caller.of(request.scope))
                response = await original(request)
                if write and after_write is not None:
                    await after_write()
                return response
            except ApiError as exc:
                return error_response(exc.status, exc.text, headers=exc.headers)
            except Unauthorized as exc:  # a machine write the caller's grants do not name
                return error_response(exc.status, str(exc), headers=exc.headers)
            except AasError as exc:
                return error_response(400, str(exc), exc.problems)
            except TwinConflict as exc:
                return error_response(409, str(exc))
            except RequestValidationError as exc:
                return error_response(400, f"malformed request: {exc.errors()}")
            except RecursionError:
                return error_response(400, "the request is nested too deeply to be read")
            except StarletteHTTPException as exc:
                return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
            except (
                ClientDisconnect
            ):  # gone before its body was read: nobody hears an answer, and werk did no wrong
                return error_response(400, "the client went away before its request body was read")
            # a bug, not a bad request: logged with its traceback, answered in spec shape
            except Exception as exc:
                log.exception("aas.api.error path=%s", request.url.path)
                return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

        return handler


def route_class(authorize: Authorize, after_write: Callable[[], Awaitable[None]] | None) -> type[AasRoute]:
    """The route class of one server: its writes authorized by ``authorize`` and made durable by ``after_write``."""
    return type("Route", (AasRoute,), {"authorize": staticmethod(authorize), "after_write": after_write})


def resource_router(route: type[AasRoute], prefix: str, tag: str) -> APIRouter:
    """The router of one resource of the API (one Part 2 service specification, or werk's extension)."""
    return APIRouter(prefix=prefix, route_class=route, tags=[tag])


# --- identifiers, paging, modifiers -------------------------------------------------------------------------------


EXAMPLE_ID = "urn:example:aas:1"


def encoding_hint(what: str = "an identifier") -> str:
    """How Part 2 wants identifiers in paths and queries, with an example."""
    return (
        f"{what} is sent base64url-encoded without padding (RFC 4648 section 5): {EXAMPLE_ID!r} is "
        f"{b64url_encode(EXAMPLE_ID)!r}"
    )


def b64url_decode(value: str, what: str = "identifier") -> str:
    """A base64url-encoded identifier (RFC 4648 section 5), padding optional; :class:`ApiError` 400 otherwise,
    saying what was received and how to encode it."""
    if (
        not value
        or not all(c.isalnum() or c in "-_" for c in value.rstrip("="))
        or len(value) - len(value.rstrip("=")) > 2
    ):
        raise ApiError(400, f"{what} {value!r} is not base64url-encoded; {encoding_hint('it')}")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(
            400, f"{what} {value!r} does not decode to UTF-8 text as base64url; {encoding_hint('it')}"
        ) from None


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


def level_of(value: str | None) -> formats.Level:
    return cast(formats.Level, _one_of(value, "level", ("deep", "core")))


def extent_of(value: str | None) -> formats.Extent:
    return cast(formats.Extent, _one_of(value, "extent", ("withoutBlobValue", "withBlobValue")))


def _one_of(value: str | None, name: str, allowed: tuple[str, ...]) -> str:
    """A modifier's value, the first of ``allowed`` when absent; :class:`ApiError` 400 naming them otherwise."""
    if value is None:
        return allowed[0]
    if value in allowed:
        return value
    raise ApiError(400, f"{name} {value!r} must be {' or '.join(repr(a) for a in allowed)}")


def bool_of(value: str | None, name: str, default: bool) -> bool:
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


def json_answer(body: bytes) -> Response:
    """A JSON answer rendered already (:mod:`werk.aas.http.views`): the headers ``JSONResponse`` would send."""
    return Response(body, media_type="application/json")


def created(data: Any, location: str) -> JSONResponse:
    return JSONResponse(data, status_code=201, headers={"Location": location})


def no_content() -> Response:
    return Response(status_code=204)


def ref_value(ref: model.Reference) -> str:
    return str(ref.key[0].value) if ref.key else ""


def identifiable_reference(obj: model.Identifiable) -> Any:
    return aas_io.to_jsonable(model.ModelReference.from_referable(obj))


# --- the repository's objects -------------------------------------------------------------------------------------


VisibleIds = Callable[[Any], Callable[[str], bool] | None]
"""What a request (its ASGI scope) may see of the lists across the repository and the registry: None, all of
it; else a test of a shell's or submodel's id (the caller's scope on the plant, decided above the AAS server)."""


def _all_visible(scope: Any) -> Callable[[str], bool] | None:
    return None


@dataclass
class Repository:
    """The twin as the repository routers see it: its store, the values bound into it, the read cache, the
    lookups that answer 400/404 in the spec's words, and what a caller may see of the lists (``visible``)."""

    store: TwinStore
    live: LiveBinding
    cache: ReadCache
    prefix: str
    visible: VisibleIds = _all_visible

    def identifiable_or_404(self, encoded: str, kind: type[T]) -> T:
        ident = b64url_decode(encoded)
        obj = self.store.get(ident, kind)
        if obj is None:
            raise ApiError(404, f"no {_KIND_TEXT[kind]} with id {ident!r}")
        return obj

    def shell_or_404(self, encoded: str) -> model.AssetAdministrationShell:
        return self.identifiable_or_404(encoded, model.AssetAdministrationShell)

    def submodel_or_404(self, encoded: str, via_shell: str | None = None) -> model.Submodel:
        if via_shell is not None:
            ident = b64url_decode(encoded)
            shell = self.shell_or_404(via_shell)
            if not any(ref_value(r) == ident for r in shell.submodel):
                raise ApiError(404, f"shell {shell.id!r} has no reference to submodel {ident!r}")
        return self.identifiable_or_404(encoded, model.Submodel)

    def element_or_404(self, sm: model.Submodel, path: str) -> model.SubmodelElement:
        try:
            return self.cache.element(sm, path)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        except KeyError as exc:
            raise ApiError(404, f"submodel {sm.id!r}: {exc.args[0]}") from None

    def refreshed(self, obj: R) -> R:
        """``obj`` with its bound Properties showing their live values (caller holds the lock)."""
        refresh(self.live, obj)
        return obj

    def decode(self, data: Any, kind: str) -> Any:
        return aas_io.decode(data, kind, metamodel=self.store.metamodel)

    def add_new(self, obj: model.Identifiable) -> None:
        try:
            self.store.add(obj)
        except KeyError:
            raise ApiError(409, f"an object with id {obj.id!r} exists already") from None

    def replace_same_id(self, new: Any, old: Any, refusal: str | None = None) -> None:
        """Put ``new`` where ``old`` is (caller holds the lock); a body whose id is not the path's is refused."""
        if new.id != old.id:
            raise ApiError(400, refusal or f"the body's id {new.id!r} differs from the path's {old.id!r}")
        self.store.replace(new)

    async def read(self, render: Callable[[], Out]) -> Out:
        """Run a short, bounded read under the store's lock. When the lock is free it runs on the event loop: a
        FastAPI sync route costs a hop to the threadpool per request, which was a third of the time of a ``$value``
        read (benchmarks/aas_api.py). When a writer holds the lock it waits in the threadpool instead, so the event
        loop never blocks on a write (an import, a persisted change)."""
        lock = self.store.lock
        if lock.acquire(blocking=False):
            try:
                return render()
            finally:
                lock.release()

        def locked() -> Out:
            with lock:
                return render()

        return await run_in_threadpool(locked)


_KIND_TEXT: dict[type, str] = {
    model.AssetAdministrationShell: "asset administration shell",
    model.Submodel: "submodel",
    ConceptDescription: "concept description",
}


def identifiable_routes(
    router: APIRouter,
    repo: Repository,
    path: str,
    param: str,
    kind: type[T],
    name: str,
    *,
    read_one: bool = True,
) -> Callable[[Request], T]:
    """The create, read, replace and delete operations every kind of Identifiable has in its repository: POST
    ``path``, GET (when ``read_one``), PUT and DELETE ``path/{param}``. Answers the object of a request's id."""
    store, lock = repo.store, repo.store.lock

    def of(request: Request) -> T:
        return repo.identifiable_or_404(request.path_params[param], kind)

    def post(payload: Body_) -> JSONResponse:
        obj = repo.decode(payload, name)
        with lock:
            repo.add_new(obj)
            return created(aas_io.to_jsonable(obj), f"{repo.prefix}{path}/{b64url_encode(obj.id)}")

    async def get(request: Request) -> Response:
        return await repo.read(lambda: json_answer(repo.cache.identifiable_body(of(request))))  # type: ignore[arg-type]

    def put(request: Request, payload: Body_) -> Response:
        new = repo.decode(payload, name)
        with lock:
            repo.replace_same_id(new, of(request))
        return no_content()

    def delete(request: Request) -> Response:
        with lock:
            store.delete(of(request).id)
        return no_content()

    one = f"{path}/{{{param}}}"
    router.add_api_route(path, post, methods=["POST"], name=f"post_{name}")
    if read_one:
        router.add_api_route(one, get, methods=["GET"], name=f"get_{name}")
    router.add_api_route(one, put, methods=["PUT"], name=f"put_{name}")
    router.add_api_route(one, delete, methods=["DELETE"], name=f"delete_{name}")
    return of


# --- the OpenAPI document and unknown methods ---------------------------------------------------------------------

_PATH_PARAMETER_TEXT = {
    "aas_id": "The shell's identifier, base64url-encoded (no padding)",
    "submodel_id": "The submodel's identifier, base64url-encoded (no padding)",
    "concept_description_id": "The concept description's identifier, base64url-encoded (no padding)",
}


def _path_parameters(dependant: Dependant) -> set[str]:
    """The path parameters a route's signature and its dependencies declare."""
    names = {p.alias for p in dependant.path_params}
    for sub in dependant.dependencies:
        names |= _path_parameters(sub)
    return names


def declare_path_parameters(router: APIRouter) -> None:
    """Declare in the OpenAPI document the path parameters a route reads from the request rather than from its
    signature (routes shared between a path and its superpath take the ids through ``request.path_params``).
    Without this the document names ``{submodel_id}`` in a path and no parameter for it, which code generators and
    schema-driven clients get wrong. Only the document changes: the routes run as before."""
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


def refuse_other_methods(router: APIRouter) -> None:
    """Answer a method a path does not have with 405 in the Result shape, with the ``Allow`` header naming those it
    has (RFC 9110 section 15.5.6). Call after the router's last route."""
    methods: dict[str, set[str]] = {}
    for route in router.routes:
        if isinstance(route, APIRoute):
            methods.setdefault(route.path, set()).update(route.methods or ())
    for path, have in methods.items():
        missing = sorted(set(METHODS) - have)
        if not missing:
            continue
        router.add_api_route(
            path.removeprefix(router.prefix),
            _refusal(", ".join(m for m in METHODS if m in have)),
            methods=missing,
            include_in_schema=False,
            route_class_override=AasRoute,  # not authorized: a method a path lacks is 405 for everyone
        )


def _refusal(allow: str) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    async def refuse(request: Request) -> Response:
        raise ApiError(405, f"{request.method} is not an operation on {request.url.path}", {"Allow": allow})

    return refuse


async def spooled_body(request: Request) -> IO[bytes]:
    """The request's body in a temporary file (in memory up to 1 MiB, on disk beyond), read from its start: an
    upload is never held in memory whole. Its size is capped before it gets here (``werk.api.http_server``)."""
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed by the caller
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return spool


def api_base(request: Request, prefix: str) -> str:
    """This server's API root as the client reached it (scheme, host, port, root path): endpoints in descriptors
    must be addresses the client can use, and werk does not know its public name."""
    return str(request.base_url).rstrip("/") + prefix
