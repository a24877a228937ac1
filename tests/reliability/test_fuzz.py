"""Every route of ``werk serve``'s OpenAPI document (the AAS API, werk's own, every app's), fuzzed with hostile
requests against a real ``werk serve`` process: malformed, deeply nested, oversized, mistyped and unauthenticated
bodies on every operation that takes one; hostile path segments and query values on every read.

Stated bounds: every write is answered with a 4xx and a message (413 naming the setting for a body past
``server.max_body_bytes``), every read with no 5xx; each answer within ``ANSWER_S``; the server's peak resident
memory (VmHWM in /proc/<pid>/status) grows by less than ``RSS_GROWTH_MB`` over the run. tests/aas/test_abuse.py
sends hostile AAS files (bombs, zip slip, entities) through the API and the CLI."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import plant_config

ANSWER_S = 15.0
RSS_GROWTH_MB = 200
MAX_BODY = 1 << 20  # server.max_body_bytes of the server under test
BODY_TIMEOUT_S = 2.0  # server.body_timeout_s of the server under test
TOKEN = "fuzz-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def werk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = plant_config(tmp, users={"fuzz": ("admin", TOKEN)})
    server = config.server.model_copy(
        update={
            "max_body_bytes": MAX_BODY,
            "max_upload_bytes": 4 * MAX_BODY,
            "body_timeout_s": BODY_TIMEOUT_S,
        }
    )
    config = config.model_copy(update={"server": server})
    plant = tmp / "plant.yaml"
    plant.write_text(yaml.safe_dump(config.model_dump(mode="json", by_alias=True)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "werk.cli", "serve", "-c", str(plant), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{config.server.port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "werk serve did not answer within 60 s"
        time.sleep(0.1)
    try:
        yield base, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, errors = proc.communicate(timeout=30)
        # no request above made werk log a traceback (a 4xx is not an error of werk's)
        assert "Traceback" not in errors.decode(), errors.decode()[-4000:]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _concrete(path: str, value: str | None = None) -> str:
    """``path`` with every parameter filled: ids base64url-encoded as the AAS API wants them, or ``value``."""

    def fill(m: re.Match[str]) -> str:
        if value is not None:
            return value
        name = m.group(1)
        return {"name": "cnc-1", "path": "SerialNumber"}.get(name, _b64(f"urn:werk:fuzz:{name}"))

    return re.sub(r"{([^}:]+)(?::[^}]*)?}", fill, path)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _message(r: httpx.Response) -> str:
    body = r.json()
    if "messages" in body:  # the AAS API's Result
        return str(body["messages"][0]["text"])
    return str(body["detail"])


def _refused(r: httpx.Response, what: str) -> None:
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    assert _message(r), what


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _streams(op: dict[str, Any]) -> bool:
    return any("text/event-stream" in (answer.get("content") or {}) for answer in op["responses"].values())


DEEP = b"[" * 200_000 + b"]" * 200_000
HUGE = b'"' + b"x" * (5 * MAX_BODY) + b'"'  # past both caps (bodies, uploads)
MALFORMED = [b"{broken", b"\xff\xfe\x00", b'{"a": 1e999999}', b"[]", b'"x"', b"null", b'{"a": "\\ud800"}']


def test_every_write_operation_refuses_hostile_bodies_with_a_4xx_and_a_message_in_bounded_time_and_memory(
    werk: tuple[str, int],
) -> None:
    base, pid = werk
    with httpx.Client(base_url=base, timeout=ANSWER_S) as http:
        spec = http.get("/openapi.json").json()
        baseline = peak_rss_mb(pid)
        writes = [(m, p, op) for m, p, op in _operations(spec) if m != "GET"]
        assert len(writes) >= 40, writes  # the AAS API's and werk's own
        assert any(not p.startswith("/api/v3.0") for _, p, _ in writes)
        answered = 0
        for method, path, op in writes:
            url = _concrete(path)
            what = f"{method} {path}"
            # no token: refused before the body is read, whatever it is
            for body in (b"{broken", DEEP):
                _refused(http.request(method, url, content=body, headers=JSON), what + " (no token)")
                answered += 1
            if "requestBody" not in op:
                continue  # an action (a reload, a delete): with a token, it would be done
            for body in [*MALFORMED, DEEP]:
                _refused(
                    http.request(method, url, content=body, headers={**AUTH, **JSON}), f"{what} {body[:12]!r}"
                )
                answered += 1
            r = http.request(
                method, url, content=b"<a>&x;</a>", headers={**AUTH, "Content-Type": "text/plain"}
            )
            _refused(r, what + " (text/plain)")
            r = http.request(method, url, content=HUGE, headers={**AUTH, **JSON})
            if "application/json" in op["requestBody"]["content"]:
                assert r.status_code == 413 and "server.max_" in _message(r), (
                    what,
                    r.status_code,
                    r.text[:200],
                )
            else:  # an upload (multipart, up to server.max_upload_bytes): refused by its type first
                _refused(r, what + " (huge)")
            # chunked: no length to refuse it by; refused once past the cap, or before (by its type)
            _refused(
                http.request(method, url, content=_chunks(HUGE), headers={**AUTH, **JSON}), what + " chunked"
            )
            answered += 1
            answered += 2
        grown = peak_rss_mb(pid) - baseline
    assert grown < RSS_GROWTH_MB, grown
    print(f"\n{answered} hostile writes on {len(writes)} operations refused; peak RSS grew {grown:.0f} MB")


HOSTILE_SEGMENTS = ["x" * 8000, "%00", "%ff%fe", "..%2f..%2fetc%2fpasswd", "%5B" * 2000, "%F0%9F%92%A9"]
HOSTILE_QUERY = [
    "x" * 8000,
    "\x00",
    "[" * 5000,
    "-1e999999",
    "9" * 400,
    "2026-13-45T99:99:99Z",
    _b64("[" * 3000 + "]" * 3000),  # deep JSON where the AAS API wants base64url JSON (assetIds, semanticId)
    _b64('{"name": "x", "value": ' * 1500 + "1" + "}" * 1500),
]


def test_every_read_answers_hostile_paths_and_queries_without_a_server_error(werk: tuple[str, int]) -> None:
    base, pid = werk
    with httpx.Client(base_url=base, timeout=ANSWER_S) as http:
        spec = http.get("/openapi.json").json()
        baseline = peak_rss_mb(pid)
        reads = [(p, op) for m, p, op in _operations(spec) if m == "GET" and not _streams(op)]
        assert len(reads) >= 40, reads
        answered = 0
        for path, op in reads:
            urls = [_concrete(path, seg) for seg in HOSTILE_SEGMENTS] if "{" in path else []
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            urls += [
                str(httpx.URL(_concrete(path), params={name: value}))
                for name in names
                for value in HOSTILE_QUERY
            ]
            for url in urls:
                started = time.monotonic()
                r = http.get(url, headers=AUTH)
                assert r.status_code < 500, (url[:200], r.status_code, r.text[:300])
                assert time.monotonic() - started < ANSWER_S
                answered += 1
        grown = peak_rss_mb(pid) - baseline
    assert grown < RSS_GROWTH_MB, grown
    print(f"\n{answered} hostile reads on {len(reads)} operations answered without a 5xx")


def _stalled(base: str, head: bytes, first: bytes) -> tuple[bytes, float, bytes]:
    """Send a request's head and the first bytes of its body, then nothing: what came back (status line and
    headers), after how long, and what the server sent after that before it closed the connection."""
    url = httpx.URL(base)
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(head + b"\r\n" + first)
        sock.settimeout(BODY_TIMEOUT_S + ANSWER_S)
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - started
        rest = b""
        while chunk := sock.recv(65536):  # until the server closes: the stalled request is over
            rest += chunk
    return answer, took, rest


def test_a_body_that_stops_arriving_is_answered_408_and_its_connection_closed(werk: tuple[str, int]) -> None:
    base, _ = werk
    sm = _b64("urn:werk:fuzz:none")
    auth = f"Authorization: {AUTH['Authorization']}\r\n".encode()
    for method, path in [
        ("PATCH", f"/api/v3.0/submodels/{sm}/submodel-elements/SerialNumber/$value"),  # the AAS fast path
        ("POST", "/api/v3.0/werk/import"),  # an AAS route that takes uploads
        ("POST", "/api/v3.0/submodels"),
        ("POST", "/api/workorders"),  # an app's route
    ]:
        for framing, first in [
            (b"Content-Length: 1000\r\n", b'{"a": '),
            (b"Transfer-Encoding: chunked\r\n", b'6\r\n{"a": \r\n'),
        ]:
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n".encode()
            )
            answer, took, _ = _stalled(base, head + auth + framing, first)
            what = (method, path, framing)
            assert answer.startswith(b"HTTP/1.1 408 "), (what, answer[:300])
            assert b"connection: close" in answer.lower(), (what, answer[:300])
            assert BODY_TIMEOUT_S - 0.5 < took < BODY_TIMEOUT_S + ANSWER_S, (what, took)


def test_a_stream_open_longer_than_the_body_timeout_is_not_cut(werk: tuple[str, int]) -> None:
    """The body timeout counts only while a body is read: an event stream (no body, a long answer) is not cut."""
    base, _ = werk
    with httpx.stream("GET", base + "/api/stream", timeout=ANSWER_S) as r:
        assert r.status_code == 200
        started = time.monotonic()
        for _ in r.iter_bytes():
            if time.monotonic() - started > 2 * BODY_TIMEOUT_S:
                break
    assert time.monotonic() - started > 2 * BODY_TIMEOUT_S  # it was still open, and sending


def test_a_client_gone_mid_body_leaves_no_error_behind(werk: tuple[str, int]) -> None:
    """A client that hangs up halfway through its body: werk logs no traceback (the fixture checks its log at the
    end) and goes on answering."""
    base, _ = werk
    url = httpx.URL(base)
    for path in ("/api/v3.0/werk/import", "/api/v3.0/submodels", "/api/workorders"):
        with socket.create_connection((url.host, url.port)) as sock:
            head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            sock.sendall(head.encode() + f"Authorization: {AUTH['Authorization']}\r\n".encode())
            sock.sendall(b'Content-Length: 1000\r\n\r\n{"a": ')
            time.sleep(0.2)  # the route is reading the body
    time.sleep(0.5)
    assert httpx.get(base + "/api/health", timeout=ANSWER_S).status_code == 200
