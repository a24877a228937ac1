"""Bodies the AAS server must bound: each answered promptly with a 4xx that says why, over a real uvicorn on
loopback, and the twin left as it was."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest
from basyx.aas import model
from fastapi import FastAPI, Request

from tests.aas.aas_app import AUTH, aas_app
from tests.aas.http.aas_stack import aasx
from tests.conftest import serving
from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.api.http_server import add_front
from werk.config.model import ServerConfig

API = "/api/v3.0"
SM_ID = "urn:werk:test:limits"
JSON = {**AUTH, "Content-Type": "application/json"}
# every request here is answered well within this, or it hangs
ANSWER_S = 10.0


def b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TEXT = f"{API}/submodels/{b64(SM_ID)}/submodel-elements/Text/$value"


def store() -> TwinStore:
    sm = model.Submodel(SM_ID, id_short="Limits")
    sm.submodel_element.add(model.Property("Text", model.datatypes.String, "before"))
    sm.submodel_element.add(model.Property("Number", model.datatypes.Double, 1.0))
    return TwinStore([sm])


def text_value(s: TwinStore) -> object:
    sm = s.get(SM_ID, model.Submodel)
    assert sm is not None
    el = sm.get_referable("Text")
    assert isinstance(el, model.Property)
    return el.value


async def chunks(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """``data`` sent chunked (no Content-Length)."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_value_patch_over_64_kib_is_answered_with_a_token_and_without(chunked: bool) -> None:
    """The fast path read past 64 KiB and then told the routes more body was coming: nothing ever answered."""
    s = store()
    big = json.dumps("x" * (70 * 1024)).encode()
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        body = chunks(big) if chunked else big
        r = await client.patch(TEXT, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 401, r.text
        body = chunks(big) if chunked else big
        r = await client.patch(TEXT, content=body, headers=JSON)
        assert r.status_code == 204, r.text
    assert text_value(s) == "x" * (70 * 1024)


async def test_malformed_json_without_a_token_is_401_not_400() -> None:
    """Credentials are checked before a body is read, on every write route."""
    async with serving(aas_app(store())) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        for method, path in (
            ("POST", f"{API}/submodels"),
            ("PUT", f"{API}/submodels/{b64(SM_ID)}"),
            ("PATCH", TEXT),
            ("POST", f"{API}/werk/import"),
            ("POST", f"{API}/concept-descriptions"),
        ):
            r = await client.request(
                method, path, content=b"{not json", headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 401, (method, path, r.text)


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_limit_is_413_naming_the_setting_on_aas_and_other_routes(chunked: bool) -> None:
    app = aas_app(store())
    reached: list[int] = []

    @app.post("/api/other")
    async def other(request: Request) -> dict[str, int]:
        reached.append(len(await request.body()))
        return {"n": reached[-1]}

    server = ServerConfig(max_body_bytes=64 * 1024, max_upload_bytes=256 * 1024)
    over = b"[" + b"1," * (40 * 1024) + b"1]"  # 80 KiB of JSON
    async with serving(app, server) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        r = await client.post(f"{API}/submodels", content=chunks(over) if chunked else over, headers=JSON)
        assert r.status_code == 413, r.text
        text = r.json()["messages"][0]["text"]
        assert "65,536 bytes" in text and "server.max_body_bytes" in text
        r = await client.post("/api/other", content=chunks(over) if chunked else over)
        assert r.status_code == 413 and "server.max_body_bytes" in r.json()["detail"]
        assert reached == []
        # a route that takes files has the larger limit
        r = await client.post(f"{API}/werk/import", content=over, headers=JSON)
        assert r.status_code == 400, r.text  # read through, and not an environment
        r = await client.post("/api/other", content=b"small")
        assert r.status_code == 200 and reached == [5]


def zip_bomb(inflated: int = 40 * 1024 * 1024) -> bytes:
    """A valid AASX package whose one supplementary file inflates ~1000 times: zeros."""
    package = aasx("urn:werk:test:bomb")
    buf = io.BytesIO(package)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z, z.open("aasx/files/zeros.bin", "w") as f:
        for _ in range(inflated // (1024 * 1024)):
            f.write(bytes(1024 * 1024))
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    with pytest.raises(aas_io.AasError, match="inflates"):
        aas_io.read_aasx(zip_bomb(), source="bomb.aasx")


def test_a_package_beyond_the_total_or_part_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    package = aasx("urn:werk:test:sizes")
    monkeypatch.setattr(aas_io, "MAX_AASX_MEMBER", 100)
    with pytest.raises(aas_io.AasError, match="for one part"):
        aas_io.read_aasx(package, source="p.aasx")
    monkeypatch.setattr(aas_io, "MAX_AASX_MEMBER", 1 << 30)
    monkeypatch.setattr(aas_io, "MAX_AASX_TOTAL", 1000)
    with pytest.raises(aas_io.AasError, match=r"inflates to [0-9,]+ bytes, more than"):
        aas_io.read_aasx(package, source="p.aasx")


async def test_a_zip_bomb_is_a_400_on_import_and_on_the_file_server() -> None:
    s = TwinStore()
    bomb = zip_bomb()
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        r = await client.post(
            f"{API}/werk/import", content=bomb, headers={**AUTH, "Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 400 and "inflates" in r.json()["messages"][0]["text"], r.text
    assert len(s.objects) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"abc", "text/plain", 415),
        (b'"abc"', "text/plain", 415),
        (b"[1, 2]", "application/json", 400),
        (b'{"x": 1}', "application/json", 400),
    ],
)
async def test_a_value_that_is_not_the_elements_form_is_refused_not_stored_as_python_shows_it(
    body: bytes, content_type: str, status: int
) -> None:
    s = store()
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        r = await client.patch(TEXT, content=body, headers={**AUTH, "Content-Type": content_type})
        assert r.status_code == status, r.text
        text = r.json()["messages"][0]["text"]
        assert ("application/json" in text) if status == 415 else ("string, number or boolean" in text)
    assert text_value(s) == "before"


async def test_integers_beyond_64_bits_are_stored_with_their_digits_by_every_path() -> None:
    """The fast path read them as doubles, the routes exactly: now both read them as the routes do."""
    s = store()
    digits = "18446744073709551616"
    async with serving(aas_app(s)) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        assert (await client.patch(TEXT, content=digits, headers=JSON)).status_code == 204
        assert text_value(s) == digits
        assert (await client.get(TEXT)).json() == {"Text": digits}


@pytest.mark.parametrize("path", ["/werk/import", "/submodels", f"/submodels/{b64(SM_ID)}/submodel-elements"])
async def test_deeply_nested_json_is_400_not_500(path: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    # 3000 collections in each other: valid JSON that json reads, and deeper than basyx and aas-core can follow
    opening = b'{"modelType": "SubmodelElementCollection", "idShort": "c", "value": ['
    nested = opening * 3000 + b"]}" * 3000
    async with (
        serving(aas_app(store())) as url,
        httpx.AsyncClient(base_url=url + API, timeout=ANSWER_S) as client,
    ):
        for body in (deep, nested):
            r = await client.post(path, content=body, headers=JSON)
            assert r.status_code == 400, r.text[:300]
            assert r.json()["messages"][0]["text"]


async def test_middleware_in_front_sees_the_body_limit_first() -> None:
    """The cap is outermost: middleware an app puts in front of itself never reads past it."""
    app = FastAPI()
    read: list[int] = []

    def reader(inner: object) -> object:
        async def asgi(scope: dict[str, object], receive: object, send: object) -> None:
            if scope["type"] == "http":
                while True:
                    message = await receive()  # type: ignore[operator]
                    read.append(len(message.get("body", b"")))
                    if not message.get("more_body"):
                        break
            await inner(scope, receive, send)  # type: ignore[operator]

        return asgi

    add_front(app, reader)  # type: ignore[arg-type]
    server = ServerConfig(max_body_bytes=4096)
    async with serving(app, server) as url, httpx.AsyncClient(base_url=url, timeout=ANSWER_S) as client:
        r = await client.post("/x", content=chunks(bytes(8 * 1024), 1024))
    assert r.status_code == 413
    assert sum(read) <= 4096 + 1024
