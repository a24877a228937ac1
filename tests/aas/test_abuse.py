"""A bounded fuzz and abuse run against the AAS server in a process of its own: oversized, deeply nested, malformed
and unauthenticated bodies on every AAS write route the OpenAPI document lists, and hostile AAS files (zip bomb,
zip slip, billion laughs, external entities, deep JSON) through the API and the CLI.

Stated bounds: every answer is a 4xx with a message, within ``ANSWER_S`` seconds; the server's peak resident memory
(VmHWM in /proc/<pid>/status) grows by less than ``RSS_GROWTH_MB`` over the whole run; the CLI refuses each file
with an error line and no traceback. The server caps bodies at 1 MiB (4 MiB for uploads)."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.aas.http.aas_stack import aasx, environment
from tests.aas.http.test_limits import zip_bomb
from tests.conftest import free_port

ANSWER_S = 15.0
RSS_GROWTH_MB = 200
TOKEN = "abuse-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v3.0"
REPO = Path(__file__).resolve().parents[2]

SERVER = """
import sys
from functools import partial
from fastapi import FastAPI
from werk.aas import ServiceStore, TwinStore
from werk.aas.http import WRITER_ROLE, build_aas_api
from werk.api.auth import Authenticator, token_digest
from werk.api.http_server import add_front, allow_uploads, http_server
from werk.config import demo_config_path, load_config
from werk.config.model import ServerConfig, UserConfig
from werk.twin import build_environment
from werk.twin.binding import UnsBinding

port, db = int(sys.argv[1]), sys.argv[2]
users = [UserConfig(name="a", role="admin", token_sha256=token_digest({token!r}))]
server = ServerConfig(port=port, users=users, max_body_bytes=1 << 20, max_upload_bytes=4 << 20)
auth = Authenticator(server)
store = TwinStore(build_environment(load_config(demo_config_path())))
api = build_aas_api(store, ServiceStore(db), UnsBinding(lambda _: None),
                    authorize=partial(auth.authorize, role=WRITER_ROLE))
app = FastAPI()
for router in api.routers:
    app.include_router(router)
add_front(app, api.fast_path)
allow_uploads(app, api.uploads)
http_server(app, server).run()
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    db = tmp_path_factory.mktemp("abuse") / "services.db"
    code = textwrap.dedent(SERVER.format(token=TOKEN))
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), str(db)], cwd=REPO)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}{API}/description", timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("the server did not start") from None
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def message(r: httpx.Response) -> str:
    body = r.json()
    return str(body["messages"][0]["text"] if "messages" in body else body["detail"])


def refused(r: httpx.Response, what: str) -> None:
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    assert message(r), what


def write_operations(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, concrete path) of every AAS write route in the OpenAPI document."""
    spec = client.get("/openapi.json").json()
    shell, sm = "urn:werk:abuse:shell", "urn:werk:abuse:shell/submodels/Nameplate"
    values = {"aas_id": b64(shell), "submodel_id": b64(sm), "cd_id": b64("urn:x"), "path": "SerialNumber"}
    out = []
    for path, ops in spec["paths"].items():
        if not path.startswith(API):
            continue
        concrete = re.sub(r"{([^}]+)}", lambda m: values.get(m.group(1), b64("urn:werk:abuse:x")), path)
        out += [(method.upper(), concrete) for method in ops if method in ("post", "put", "patch")]
    return out


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_every_write_route_refuses_hostile_bodies_promptly_and_in_bounded_memory(
    server: tuple[str, int],
) -> None:
    url, pid = server
    with httpx.Client(base_url=url, timeout=ANSWER_S) as client:
        r = client.post(f"{API}/werk/import", json=environment("urn:werk:abuse:shell"), headers=AUTH)
        assert r.status_code == 201, r.text
        baseline = peak_rss_mb(pid)
        operations = write_operations(client)
        assert len(operations) >= 20, operations
        deep = b"[" * 200_000 + b"]" * 200_000
        huge = b'"' + b"x" * (5 << 20) + b'"'
        json_type = {"Content-Type": "application/json"}
        for method, path in operations:
            what = f"{method} {path}"
            refused(client.request(method, path, content=b"{broken", headers=json_type), what + " no token")
            refused(client.request(method, path, content=b"{broken", headers={**AUTH, **json_type}), what)
            refused(client.request(method, path, content=deep, headers={**AUTH, **json_type}), what + " deep")
            r = client.request(method, path, content=huge, headers={**AUTH, **json_type})
            assert r.status_code == 413 and "server.max_" in message(r), (what, r.text[:200])
            # chunked: no length to refuse it by; a route refuses it when it reads past the cap, or before (by type)
            refused(client.request(method, path, content=chunked(huge), headers={**AUTH, **json_type}), what)
        assert peak_rss_mb(pid) - baseline < RSS_GROWTH_MB


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, content type) of files no AAS reader may load."""
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><environment xmlns="https://admin-shell.io/aas/3/0">&lol9;</environment>'
    )
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<environment xmlns="https://admin-shell.io/aas/3/0"><assetAdministrationShells>&x;'
        b"</assetAdministrationShells></environment>"
    )
    slip = io.BytesIO(aasx("urn:werk:abuse:slip"))
    with zipfile.ZipFile(slip, "a") as z:
        z.writestr("../../evil.txt", b"outside")
    deep = b'{"submodels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return {
        "bomb.aasx": (zip_bomb(), "application/octet-stream"),
        "slip.aasx": (slip.getvalue(), "application/octet-stream"),
        "laughs.xml": (laughs, "application/xml"),
        "xxe.xml": (xxe, "application/xml"),
        "deep.json": (deep, "application/json"),
    }


def test_hostile_files_are_refused_by_the_api_and_the_cli(server: tuple[str, int], tmp_path: Path) -> None:
    url, pid = server
    files = hostile_files()
    with httpx.Client(base_url=url + API, timeout=ANSWER_S) as client:
        baseline = peak_rss_mb(pid)
        for name, (data, ctype) in files.items():
            r = client.post("/werk/import", content=data, headers={**AUTH, "Content-Type": ctype})
            refused(r, f"import {name}")
            if name.endswith(".aasx"):
                r = client.post("/packages", files={"file": (name, data)}, headers=AUTH)
                refused(r, f"package {name}")
        assert peak_rss_mb(pid) - baseline < RSS_GROWTH_MB
    plant = tmp_path / "plant.yaml"
    demo = (REPO / "werk" / "sim" / "demo.yaml").read_text()
    plant.write_text(demo.replace("path: werk-data/demo.db", f"path: {tmp_path / 'werk.db'}"))
    for name, (data, _) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-m", "werk.cli", "aas", "import", str(path), "-c", str(plant)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert name in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)
