"""Hands a request to the primary werk process and streams its answer back.

``werk serve`` with several worker processes: a worker answers the AAS API's hot operations itself and hands every
other request to the primary process, which runs the platform (connectors, apps, live values), over a Unix socket
that only werk's processes reach. The answer is streamed, not buffered, so Server-Sent Events pass through live, and
a client that goes away closes the upstream request too, so the primary's event generator ends with it.
"""

from __future__ import annotations

import asyncio
import logging
import string
from collections.abc import AsyncIterator
from urllib.parse import quote_from_bytes

import httpx
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from werk.aas.http.common import error_response

log = logging.getLogger(__name__)

# "expect" too: this side's server has already answered a 100-continue, the body comes whether upstream wants it or not
HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization te trailers transfer-encoding upgrade expect".split()
)


class _ClientGone(Exception):
    """Aborts the upstream request when the client leaves in the middle of its body."""


class UpstreamProxy:
    """ASGI app forwarding every HTTP request to the ASGI server on ``socket_path``."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._client: httpx.AsyncClient | None = None

    def _upstream(self) -> httpx.AsyncClient:
        """Made on first use: the client's connection pool belongs to the loop that serves the requests."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.socket_path),
                base_url="http://werk-primary",
                timeout=httpx.Timeout(None, connect=5.0),  # an event stream has no end to wait for
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await self.aclose()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "websocket":  # werk serves none
            await receive()
            await send({"type": "websocket.close", "code": 1011})
        else:
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self._upstream()
        raw = scope.get("raw_path") or scope["path"].encode()
        target = quote_from_bytes(raw, safe=string.punctuation).encode()  # only spaces and non-ASCII change
        if scope["query_string"]:
            target += b"?" + quote_from_bytes(scope["query_string"], safe=string.punctuation).encode()
        request = httpx.Request(
            scope["method"],
            client.base_url.copy_with(raw_path=target),
            headers=forwarded_headers(scope),
            content=_body(receive) if _has_body(scope) else None,
        )
        try:
            # client.send, not client.request: httpx's default headers (Accept-Encoding!) must not be added
            response = await client.send(request, stream=True)
        except _ClientGone:
            return
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("the primary werk process at %s is not answering: %s", self.socket_path, reason)
            answer = error_response(502, f"the primary werk process is not answering ({reason})")
            await answer(scope, receive, send)
            return
        pump = asyncio.create_task(_pump(response, send))
        watch = asyncio.create_task(_disconnected(receive))
        try:
            await asyncio.wait([pump, watch], return_when=asyncio.FIRST_COMPLETED)
        finally:
            pump.cancel()
            watch.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            # a stream left unread closes its connection, and so the primary sees the client go
            await response.aclose()


def forwarded_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The request's headers for the primary: Host unchanged, as it builds absolute URLs from it.

    X-Forwarded-For and -Proto say what this worker's server made of the client, replacing what the client sent:
    the primary sees a Unix socket peer with no address, which uvicorn's proxy-header handling trusts only with
    ``forwarded_allow_ips="*"``, and then it believes the leftmost X-Forwarded-For entry. A client's own entry
    passed on would be that one, and the worker's ``forwarded_allow_ips`` decision would count for nothing.
    """
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    drop = HOP_BY_HOP | {b"x-forwarded-for", b"x-forwarded-proto"}
    drop |= {name.strip().lower() for n, v in headers if n.lower() == b"connection" for name in v.split(b",")}
    out = [(n, v) for n, v in headers if n.lower() not in drop]
    if scope.get("client"):
        out.append((b"x-forwarded-for", scope["client"][0].encode()))
    out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    return out


def _has_body(scope: Scope) -> bool:
    """Without these a request has no body (RFC 9112 6.3); an empty one would go upstream as a chunked body."""
    return any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in scope["headers"])


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pump(response: httpx.Response, send: Send) -> None:
    headers = [(n.lower(), v) for n, v in response.headers.raw if n.lower() not in HOP_BY_HOP]
    try:
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        try:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:
            # not ended as if complete: returning without the last message makes the server drop the connection,
            # so the client sees a cut body as cut, not as a shorter answer
            log.warning("the primary werk process broke off an answer: %s", str(exc) or type(exc).__name__)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    # some servers' send raises once the client has gone (uvicorn's returns silently): no one left to answer
    except (OSError, ClientDisconnect):
        return
