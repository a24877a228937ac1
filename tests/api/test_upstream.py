"""werk.api.upstream over real sockets: a client, uvicorn serving the proxy on loopback, uvicorn serving a small
upstream app on a Unix socket. In-process transports (httpx.ASGITransport) buffer whole answers and never report a
client going away, which is what the proxy must get right."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.api.upstream import UpstreamProxy

SUBMODEL_VALUE = "/api/v3.0/submodels/aHR0cHM6Ly9leGFtcGxlLmNvbS9zbQ/submodel-elements/a%2Fb/$value"


@dataclass
class Upstream:
    """The primary's stand-in: echoes what reached it, hashes bodies, streams events when the test says so."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    second_sent: bool = False
    stream_ended: asyncio.Event = field(default_factory=asyncio.Event)
    upload_aborted: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: Response
        if scope["path"] == "/events":
            response = StreamingResponse(self.events(), media_type="text/event-stream")
        elif scope["path"] == "/sha256":
            try:
                body = await request.body()
            except ClientDisconnect:
                self.upload_aborted.set()
                return
            response = JSONResponse({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)})
        elif scope["path"] == "/broken":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part of it", "more_body": True})
            raise RuntimeError("the primary fails in the middle of an answer (expected by the test)")
        else:
            seen = {
                "method": scope["method"],
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query": scope["query_string"].decode("latin-1"),
                "headers": {k: request.headers.getlist(k) for k in request.headers},
            }
            response = JSONResponse(seen, status_code=201, headers={"x-upstream": "primary"})
        await response(scope, receive, send)

    async def events(self) -> AsyncIterator[bytes]:
        try:
            yield b"data: one\n\n"
            await self.release.wait()
            self.second_sent = True
            yield b"data: two\n\n"
            await asyncio.Event().wait()  # an endless stream, as the live values' events are
        finally:
            self.stream_ended.set()


@asynccontextmanager
async def serving(app: ASGIApp, uds: Path | None = None) -> AsyncIterator[str]:
    """``app`` on a real uvicorn, on the Unix socket ``uds`` or on a free loopback port; yields the base URL."""
    sockets = None
    if uds is not None:
        config = uvicorn.Config(
            app, uds=str(uds), log_level="warning", lifespan="off", timeout_graceful_shutdown=5
        )
        url = "http://werk-primary"
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets = [sock]
        # no proxy headers, as werk serve runs it unless server.forwarded_allow_ips names a reverse proxy
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", proxy_headers=False, timeout_graceful_shutdown=5
        )
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=sockets))
    async with asyncio.timeout(10):
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        if sockets:
            sockets[0].close()


@dataclass
class Proxied:
    upstream: Upstream
    client: httpx.AsyncClient


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[Proxied]:
    upstream = Upstream()
    proxy = UpstreamProxy(str(tmp_path / "p.sock"))
    async with serving(upstream, uds=tmp_path / "p.sock"), serving(proxy) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Proxied(upstream, client)
        await asyncio.wait_for(proxy.aclose(), 10)


async def test_request_and_answer_pass_unchanged(proxied: Proxied) -> None:
    response = await proxied.client.get(
        "/echo?b=2&a=1&a=%20x+y&path=%2Fz",
        headers={
            "Authorization": "Bearer s3cret",
            "X-Forwarded-For": "10.1.2.3",
            "Accept-Encoding": "identity",
        },
    )
    assert response.status_code == 201
    assert response.headers["x-upstream"] == "primary"
    assert int(response.headers["content-length"]) == len(response.content)
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["raw_path"] == "/echo"
    assert seen["query"] == "b=2&a=1&a=%20x+y&path=%2Fz"
    headers = seen["headers"]
    assert headers["authorization"] == ["Bearer s3cret"]
    assert headers["host"] == [proxied.client.base_url.netloc.decode()]  # the client's, not the socket's
    assert headers["x-forwarded-for"] == [
        "127.0.0.1"
    ]  # the worker's view of the client, not the client's claim
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["accept-encoding"] == ["identity"]
    # nor headers added on the way: httpx's client defaults would ask the primary for gzip a client may not read
    del proxied.client.headers["accept-encoding"]
    assert "accept-encoding" not in (await proxied.client.get("/echo")).json()["headers"]
    assert "user-agent" in headers and headers["user-agent"][0].startswith("python-httpx")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_large_body_arrives_intact(proxied: Proxied, chunked: bool) -> None:
    body = os.urandom(1_000_003)

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 65_536):
            yield body[i : i + 65_536]

    response = await proxied.client.request("PATCH", "/sha256", content=pieces() if chunked else body)
    assert response.status_code == 200
    assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


async def test_percent_encoded_path_arrives_as_sent(proxied: Proxied) -> None:
    response = await proxied.client.get(SUBMODEL_VALUE + "?level=core&q=a%2Fb")
    assert response.status_code == 201
    assert response.json()["raw_path"] == SUBMODEL_VALUE
    assert response.json()["query"] == "level=core&q=a%2Fb"


async def test_event_stream_is_live_and_ends_upstream_when_the_client_leaves(proxied: Proxied) -> None:
    upstream = proxied.upstream
    async with proxied.client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.aiter_raw()
        assert await asyncio.wait_for(anext(chunks), 5) == b"data: one\n\n"
        assert not upstream.second_sent  # the first event came through on its own, not buffered
        upstream.release.set()
        assert await asyncio.wait_for(anext(chunks), 5) == b"data: two\n\n"
        assert not upstream.stream_ended.is_set()
    # the client has closed its connection mid-stream: the proxy must close the upstream one, so the endless
    # generator upstream is cancelled instead of waiting forever
    await asyncio.wait_for(upstream.stream_ended.wait(), 5)
    assert (await proxied.client.get("/echo")).status_code == 201  # and the proxy serves on


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 1000000\r\n\r\n" + b"x" * 1000,
        b"Transfer-Encoding: chunked\r\n\r\n3e8\r\n" + b"x" * 1000 + b"\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_client_leaving_during_upload_aborts_the_upstream_request(
    proxied: Proxied, head: bytes
) -> None:
    """A chunked body cut short must not reach the primary as a complete, shorter one."""
    host, port = proxied.client.base_url.host, proxied.client.base_url.port
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(b"POST /sha256 HTTP/1.1\r\nHost: werk\r\n" + head)
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.wait_for(proxied.upstream.upload_aborted.wait(), 5)


async def test_answer_broken_off_upstream_reaches_the_client_as_broken(proxied: Proxied) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        async with proxied.client.stream("GET", "/broken") as response:
            async for _ in response.aiter_raw():
                pass
    assert (await proxied.client.get("/echo")).status_code == 201


async def test_absent_primary_is_a_502_with_a_result_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = UpstreamProxy(str(tmp_path / "absent.sock"))
    async with serving(proxy) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        with caplog.at_level(logging.WARNING, logger="werk.api.upstream"):
            response = await client.get("/api/v3.0/shells")
    await proxy.aclose()
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    [message] = response.json()["messages"]
    assert message["messageType"] == "Error"
    assert message["code"] == "502"
    assert message["text"].startswith("the primary werk process is not answering (")
    assert "No such file or directory" in message["text"]
    assert datetime.fromisoformat(message["timestamp"]).utcoffset() is not None
    assert "not answering" in caplog.text


async def test_lifespan_completes_and_websockets_are_refused(tmp_path: Path) -> None:
    proxy = UpstreamProxy(str(tmp_path / "p.sock"))
    sent: list[Message] = []
    messages: Iterator[Message] = iter(
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}, {"type": "websocket.connect"}]
    )

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(proxy({"type": "lifespan"}, receive, send), 5)
    await asyncio.wait_for(proxy({"type": "websocket", "path": "/"}, receive, send), 5)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
        {"type": "websocket.close", "code": 1011},
    ]
