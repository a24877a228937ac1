"""The AAS API's busiest operations answered in front of FastAPI, with the bytes its routes would send.

Why: on the 2-core benchmark machine FastAPI spends 70-100 us on every request before and after a route runs:
it matches the path against the app's routes by regular expression (twice, in FastAPI 0.165), solves the
route's dependencies, validates query parameters and wraps request and response. An empty FastAPI route
answers about 10k requests/s where a plain ASGI answer does about 35k, and the AAS API's cached reads
(:mod:`werk.api.aas_views`) cost less than that machinery. This middleware recognises a few operations by
splitting the path and serves them from the same :class:`~werk.api.aas_views.ReadCache` the routes use:

- ``GET {prefix}/shells``, ``GET {prefix}/shells/{aasId}``, ``GET {prefix}/submodels/{submodelId}`` and
  ``GET {prefix}/submodels/{submodelId}/submodel-elements/{idShortPath}/$value``, without query parameters;
- ``PATCH {prefix}/submodels/{submodelId}/submodel-elements/{idShortPath}/$value`` of a Property that is not
  bound to a live signal, with a JSON body (``Content-Type: application/json``), when the router's write guard
  is a coroutine taking only the request (werk's bearer and role guards) and the app does not override it.

Everything else goes to the app untouched, and so does every request that would not succeed: a query string,
an id that is not base64url or not in the store, a malformed or unknown idShortPath, a refused token, a value
that does not fit, the store's lock held by a writer. The routes answer those, so errors, validation and every
other operation keep one implementation, and the fast path only ever says what a route would have said. A
PATCH is answered only once the change is durable (``store.synced()``), as the routes do it.

Use :func:`mount` with the router of :func:`werk.api.aas.build_aas_router`, included without extra
dependencies (the fast path runs none but the write guard): into a :class:`FastPathApp` (werk's app) the fast
path goes in front of FastAPI, into any other FastAPI app as its innermost middleware.
"""

from __future__ import annotations

import inspect
import logging
import typing
from functools import partial
from typing import Any, TypeVar

import orjson
from basyx.aas import model
from fastapi import FastAPI, Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.api.aas import AasRouter, ApiError, b64url_decode, error_response
from werk.errors import AasError
from werk.twin import formats
from werk.twin.live import binding

log = logging.getLogger(__name__)

_JSON_HEADERS = [(b"content-type", b"application/json")]
_MAX_BODY = 64 * 1024  # a value, not an environment: bigger bodies are the routes' business
_MAX_IDS = 10_000

T = TypeVar("T", bound=model.Identifiable)


class AasFastPath:
    """ASGI middleware serving the AAS API's hot operations (see the module docstring) and passing on the rest."""

    def __init__(self, app: ASGIApp, router: AasRouter, *, owner: FastAPI | None = None) -> None:
        self.app = app
        self.router = router
        self.owner = owner  # the FastAPI app, when this runs in front of it (scope["app"] is not set yet)
        self.cache = router.cache
        self.store = router.cache.store
        self.prefix = router.prefix + "/"
        self.guard = router.write_guard if _request_only(router.write_guard) else None
        self._ids: dict[str, str | None] = {}  # base64url path segment -> identifier (None: not base64url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["query_string"] or scope.get("root_path"):
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if not path.startswith(self.prefix):
            return await self.app(scope, receive, send)
        parts = path[len(self.prefix) :].split("/")
        method = scope["method"]
        if method == "GET":
            body = self._get(parts)
            if body is None:
                return await self.app(scope, receive, send)
            await send({"type": "http.response.start", "status": 200, "headers": _headers(body)})
            await send({"type": "http.response.body", "body": body})
            return None
        if (
            method == "PATCH"
            and self.guard is not None
            and len(parts) == 5
            and parts[0] == "submodels"
            and parts[2] == "submodel-elements"
            and parts[4] == "$value"
        ):
            return await self._patch_value(scope, receive, send, parts[1], parts[3])
        return await self.app(scope, receive, send)

    # --- reads ------------------------------------------------------------------------------------------------------

    def _get(self, parts: list[str]) -> bytes | None:
        """The body of a hot read, or None to let the app answer."""
        n = len(parts)
        kind = parts[0]
        if not (
            (kind == "shells" and n <= 2)
            or (
                kind == "submodels"
                and (n == 2 or (n == 5 and parts[2] == "submodel-elements" and parts[4] == "$value"))
            )
        ):
            return None
        lock = self.store.lock
        if not lock.acquire(blocking=False):
            return None  # a writer holds it: the route waits for it off the event loop
        try:
            if kind == "shells":
                if n == 1:
                    return self.cache.all_shells_body()
                shell = self._object(parts[1], model.AssetAdministrationShell)
                return None if shell is None else self.cache.identifiable_body(shell)
            sm = self._object(parts[1], model.Submodel)
            if sm is None:
                return None
            if n == 2:
                return self.cache.submodel_body(sm)
            return self.cache.element_value_body(sm, parts[3])
        except (KeyError, ValueError, AasError):
            return None  # an unknown or malformed path, a view that cannot be made: the route says why
        except Exception:  # a bug here must not cost the answer: the route gives it
            log.exception("aas.fast.error path=%s", "/".join(parts))
            return None
        finally:
            lock.release()

    def _object(self, encoded: str, kind: type[T]) -> T | None:
        ident = self._ids.get(encoded, "")
        if ident == "":
            try:
                ident = b64url_decode(encoded)
            except ApiError:
                ident = None
            if len(self._ids) > _MAX_IDS:
                self._ids.clear()
            self._ids[encoded] = ident
        return None if ident is None else self.store.get(ident, kind)

    # --- PATCH $value ---------------------------------------------------------------------------------------------

    async def _patch_value(self, scope: Scope, receive: Receive, send: Send, sm_id: str, path: str) -> None:
        content_type = authorization = b""
        for name, value in scope["headers"]:  # one pass over the headers for both
            if name == b"content-type":
                content_type = value
            elif name == b"authorization" and not authorization:
                authorization = value  # the first, as Starlette's Headers.get
        if content_type != b"application/json":
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False) or size > _MAX_BODY:
                break
        body = b"".join(chunks)
        more = size > _MAX_BODY
        replay = _replay(body, more, receive)
        if more or not body or not await self._may_write(scope, replay, authorization):
            return await self.app(scope, replay, send)
        try:  # orjson: a tenth of json.loads here; what it refuses (NaN, integers past 64 bits) the route parses
            payload = orjson.loads(body)
        except ValueError:
            return await self.app(scope, replay, send)
        try:
            if not self._set_value(sm_id, path, payload):
                return await self.app(scope, replay, send)
            await self.store.synced()
        except (
            Exception
        ) as exc:  # changed in memory, not stored (the route answers so too): no acknowledgement
            log.exception("aas.fast.store path=%s", scope["path"])
            response = error_response(500, f"internal error ({type(exc).__name__}); see the server log")
            return await response(scope, replay, send)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return None

    async def _may_write(self, scope: Scope, receive: Receive, authorization: bytes) -> bool:
        """The router's write guard says yes. A refusal is the route's to answer, in its words."""
        guard = self.guard
        app = self.owner or scope.get("app")
        if guard is None or guard in getattr(app, "dependency_overrides", {}):
            return False
        authorizes = getattr(guard, "authorizes", None)
        if authorizes is not None:  # werk's guards answer from the header alone, without building a Request
            return bool(authorizes(authorization.decode("latin-1")))
        try:
            await guard(Request(scope, receive))
        except Exception:
            return False
        return True

    def _set_value(self, sm_id: str, path: str, payload: Any) -> bool:
        """PATCH ``$value`` of an unbound Property, as the route does it; False (and nothing changed) if the route
        should answer instead."""
        lock = self.store.lock
        if not lock.acquire(blocking=False):
            return False
        try:
            sm = self._object(sm_id, model.Submodel)
            if sm is None:
                return False
            try:
                el = self.cache.element(sm, path)
            except (KeyError, ValueError):
                return False
            if not isinstance(el, model.Property) or binding(el) is not None:
                return False
            value = payload
            if isinstance(payload, dict) and set(payload) == {el.id_short}:
                value = payload[el.id_short]  # the {idShort: value} form of GET $value
            try:
                formats.apply_value(el, value)  # a Property is set whole or not at all
            except (
                Exception
            ):  # AasError, or an error the route answers with 500: either way, the route's answer
                return False
            self.store.value_changed(sm, path, el)
            return True
        finally:
            lock.release()


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` for the app after the fast path read (part of) the body: that first, then the rest."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again


def _request_only(guard: Any) -> bool:
    """Whether the write guard can be called outside FastAPI: a coroutine function of the request alone."""
    if not inspect.iscoroutinefunction(guard):
        return False
    try:
        params = list(inspect.signature(guard).parameters.values())
        hints = typing.get_type_hints(guard)
    except (TypeError, ValueError, NameError):
        return False
    return len(params) == 1 and hints.get(params[0].name) is Request


class FastPathApp(FastAPI):
    """A FastAPI app that runs the AAS fast path in front of itself, not inside its middleware stack.

    Why: before the first user middleware, FastAPI's ``__call__`` looks up OpenTelemetry's providers and runs its
    error, telemetry and body-limit middlewares, about 13 us a request on the benchmark machine: more than the fast
    path's answer, a third of a ``$value`` read. In front of all that, the fast path's answers are not seen by those
    layers (FastAPI's native telemetry, its 500 handler: the fast path answers its own errors in the spec's shape),
    which is why only an app without middleware of its own gets it there: if the app has any (CORS, say) when it
    serves its first request, the fast path goes inside the stack, behind that middleware, as :func:`mount` puts it
    into a plain FastAPI app. So does an app with a ``root_path``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aas_router: AasRouter | None = None
        self._front: AasFastPath | None = None
        self._placed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._placed:
            self._place()
        if self._front is not None:
            await self._front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def _place(self) -> None:
        """Put the fast path in front, or into the middleware stack (once, before the stack is built)."""
        self._placed = True
        router = self.aas_router
        if router is None:
            return
        if self.user_middleware or self.root_path or self.middleware_stack is not None:
            if self.middleware_stack is None:
                _innermost(self, router)
            return
        self._front = AasFastPath(partial(FastAPI.__call__, self), router, owner=self)


def mount(app: FastAPI, router: AasRouter) -> None:
    """Serve ``router`` in ``app``, its busiest operations through :class:`AasFastPath`: in front of the app if it
    is a :class:`FastPathApp`, else as its middleware."""
    app.include_router(router)
    if isinstance(app, FastPathApp):
        app.aas_router = router
    else:
        _innermost(app, router)


def _innermost(app: FastAPI, router: AasRouter) -> None:
    """The fast path as the app's innermost middleware: every middleware of the app (CORS, say) wraps its answers,
    whether added before or after."""
    if app.middleware_stack is not None:
        raise RuntimeError("the AAS fast path must be mounted before the app serves")
    app.user_middleware.append(Middleware(AasFastPath, router=router))
