"""The AAS API's busiest operations answered in front of FastAPI, with the bytes its routes would send.

Why: on the 2-core benchmark machine FastAPI spends 70-100 us on every request before and after a route runs:
its outer middlewares and telemetry lookup, matching the path against the app's routes by regular expression,
solving the route's dependencies, validating query parameters and wrapping request and response. An empty FastAPI
route answers about 10k requests/s where a plain ASGI answer does about 35k, and the AAS API's cached reads
(:mod:`werk.aas.http.views`) cost less than that machinery. :class:`AasFastPath` is a plain ASGI middleware that
the HTTP server puts in front of the whole app (``werk.api.http_server.assemble``); it recognises a few operations by
splitting the path and serves them from the same :class:`~werk.aas.http.views.ReadCache` the routes use:

- ``GET {prefix}/shells``, ``GET {prefix}/shells/{aasId}``, ``GET {prefix}/submodels/{submodelId}`` and
  ``GET {prefix}/submodels/{submodelId}/submodel-elements/{idShortPath}/$value``, without query parameters;
- ``PATCH {prefix}/submodels/{submodelId}/submodel-elements/{idShortPath}/$value`` of a Property that is not
  bound to a live value, with a JSON body of at most 64 KiB, authorized by the same ``authorize`` as the routes
  and set by the same :func:`werk.aas.http.submodels.set_value`, after the same
  :func:`~werk.aas.http.submodels.json_value`: a policy added there holds here too, and the two cannot disagree on
  what a body means.

Everything else goes to the app untouched, and so does every request that would not succeed: a query string,
an id that is not base64url or not in the store, a malformed or unknown idShortPath, a refused token, a value
that does not fit, the store's lock held by a writer. The routes answer those, so errors and every other
operation keep one implementation, and the fast path only ever says what a route would have said. A PATCH is
answered only once the change is durable (``store.synced()``), as the routes do it.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from basyx.aas import model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.aas.http.common import ApiError, Authorize, Repository, b64url_decode, error_response
from werk.aas.http.submodels import json_value, set_value, value_of
from werk.core.access import Caller
from werk.errors import AasError, Unauthorized

log = logging.getLogger(__name__)

_JSON_HEADERS = [(b"content-type", b"application/json")]
_MAX_BODY = 64 * 1024  # a value, not an environment: bigger bodies are the routes' business
_MAX_IDS = 10_000

T = TypeVar("T", bound=model.Identifiable)


class AasFastPath:
    """ASGI middleware serving the AAS API's hot operations (see the module docstring) and passing on the rest."""

    def __init__(self, app: ASGIApp, repo: Repository, authorize: Authorize) -> None:
        self.app = app
        self.repo = repo
        self.authorize = authorize
        self.cache = repo.cache
        self.store = repo.store
        self.prefix = repo.prefix + "/"
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
            # the list of shells is the caller's part of the plant when its reads are scoped: the route filters it
            body = None if parts == ["shells"] and self.repo.visible(scope) is not None else self._get(parts)
            if body is None:
                return await self.app(scope, receive, send)
            await send({"type": "http.response.start", "status": 200, "headers": _headers(body)})
            await send({"type": "http.response.body", "body": body})
            return None
        if (
            method == "PATCH"
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
        content_type: bytes = dict(scope["headers"]).get(
            b"content-type", b""
        )  # the last, as the routes read it
        try:
            self.authorize(Caller.of(scope))
        except Unauthorized:
            return await self.app(scope, receive, send)  # the route refuses it, in its words, before the body
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if more:  # the rest of a body that did not come whole, up to what the fast path takes
            chunks = [body]
            size = len(body)
            while more and size <= _MAX_BODY:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        if more or len(body) > _MAX_BODY or not body:
            return await self.app(scope, _replay(body, more, receive), send)
        try:
            payload = json_value(body, content_type.decode("latin-1"))
            if not self._set_value(sm_id, path, payload):
                return await self.app(scope, _replay(body, more, receive), send)
        except ApiError:
            return await self.app(scope, _replay(body, more, receive), send)
        try:
            await self.store.synced()
        # changed in memory, not stored (the route answers so too): no acknowledgement
        except Exception as exc:
            log.exception("aas.fast.store path=%s", scope["path"])
            response = error_response(500, f"internal error ({type(exc).__name__}); see the server log")
            return await response(scope, _replay(body, more, receive), send)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return None

    def _set_value(self, sm_id: str, path: str, payload: Any) -> bool:
        """PATCH ``$value`` of an unbound Property through the routes' :func:`set_value`; False (and nothing
        changed) if the route should answer instead."""
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
            if not isinstance(el, model.Property):
                return False
            try:  # set whole or not at all: a bound one, or a value that does not fit, is the route's to refuse
                set_value(self.repo, sm, path, el, value_of(el, payload))
            except (ApiError, AasError):
                return False
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
