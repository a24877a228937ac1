"""The AASX file server (IDTA-01002-3-0) on the real stack: packages are stored and served byte for byte, listed
and filtered by shell, replaced and deleted; a package werk cannot read in full is refused with what failed, and
nothing is stored; the repository is not touched by any of it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.aas.http.aas_stack import OPERATOR, SUPERVISOR, aas_stack, aasx, b64, every_page, result_text
from tests.conftest import shared_data

pytestmark = pytest.mark.e2e

MEDIA = "application/asset-administration-shell-package"
PUMP = "https://other.example/aas/pump-7"
VALVE = "https://other.example/aas/valve-3"


def upload(data: bytes, name: str = "pump.aasx", aas_ids: list[str] | None = None) -> dict[str, Any]:
    """httpx arguments for a multipart body as Part 2 describes it (file, aasIds, fileName)."""
    form: dict[str, Any] = {"fileName": name}
    if aas_ids is not None:
        form["aasIds"] = aas_ids
    return {"files": {"file": (name, data, MEDIA)}, "data": form}


def with_spec_part(package: bytes, change: bytes, to: bytes) -> bytes:
    """The package with a text replaced in its aas-spec part (an XML environment)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "aasx/data.xml":
                assert change in body
                body = body.replace(change, to)
            dst.writestr(item, body)
    return out.getvalue()


async def shells(client: httpx.AsyncClient) -> list[str]:
    return [s["id"] for s in await every_page(client, "/shells", limit=50)]


async def test_a_package_is_stored_listed_and_served_as_uploaded(tmp_path: Path) -> None:
    pump, both = aasx(PUMP), aasx(PUMP, VALVE)
    async with aas_stack(tmp_path) as (_, client):
        repository = await shells(client)
        r = await client.post("/packages", **upload(pump), headers=SUPERVISOR)
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["aasIds"] == [PUMP]  # without aasIds: every shell the package holds
        assert r.headers["location"] == f"/api/v3.0/packages/{b64(first['packageId'])}"
        r = await client.post(
            "/packages",
            **upload(both, "Pumpe und Ventil, Größe 2.aasx", aas_ids=[VALVE]),
            headers=SUPERVISOR,
        )
        assert r.status_code == 201 and r.json()["aasIds"] == [VALVE]
        second = r.json()
        assert await every_page(client, "/packages", limit=1) == [first, second]
        assert await every_page(client, "/packages", aasId=b64(PUMP)) == [first]
        assert await every_page(client, "/packages", aasId=b64(VALVE)) == [second]
        assert await every_page(client, "/packages", aasId=b64("urn:nothing")) == []
        r = await client.get(f"/packages/{b64(first['packageId'])}")
        assert r.status_code == 200 and r.content == pump
        assert r.headers["content-type"] == MEDIA and r.headers["x-filename"] == "pump.aasx"
        r = await client.get(f"/packages/{b64(second['packageId'])}")
        assert r.content == both
        # a name HTTP headers cannot carry as it is comes percent-encoded (RFC 5987 in Content-Disposition)
        quoted = "Pumpe%20und%20Ventil%2C%20Gr%C3%B6%C3%9Fe%202.aasx"
        assert r.headers["x-filename"] == quoted
        assert r.headers["content-disposition"] == f"attachment; filename*=UTF-8''{quoted}"
        # a file server stores files: nothing of the packages entered the repository
        assert await shells(client) == repository
        result_text(await client.get(f"/shells/{b64(PUMP)}"), 404)


async def test_a_template_package_with_supplementary_files_comes_back_byte_for_byte(tmp_path: Path) -> None:
    template = shared_data(
        "aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.aasx"
    ).read_bytes()
    async with aas_stack(tmp_path) as (_, client):
        r = await client.post(
            "/packages",
            **upload(template, "IDTA_02006-3-0-1_Template_Digital_Nameplate.aasx"),
            headers=SUPERVISOR,
        )
        assert r.status_code == 201, r.text
        assert r.json()["aasIds"] == ["https://admin-shell.io/idta/aas/DigitalNameplate/3/0"]
        assert (await client.get(f"/packages/{b64(r.json()['packageId'])}")).content == template


async def test_a_package_that_cannot_be_read_in_full_is_refused_with_what_failed(tmp_path: Path) -> None:
    good = aasx(PUMP)
    broken_id_short = with_spec_part(good, b"<idShort>Pump</idShort>", b"<idShort>1 pump</idShort>")
    truncated = good[: len(good) // 2]
    async with aas_stack(tmp_path) as (_, client):
        text = result_text(
            await client.post("/packages", **upload(b"not a zip file"), headers=SUPERVISOR),
            400,
        )
        assert "pump.aasx" in text and "not an AASX package" in text
        r = await client.post("/packages", **upload(broken_id_short, "bad.aasx"), headers=SUPERVISOR)
        text = result_text(r, 400)
        assert "bad.aasx" in text and "id_short" in text.lower().replace("-", "_")
        assert len(r.json()["messages"]) > 1  # every finding, as its own message
        text = result_text(
            await client.post("/packages", **upload(truncated), headers=SUPERVISOR),
            400,
        )
        assert "pump.aasx" in text
        text = result_text(
            await client.post("/packages", **upload(good, aas_ids=[VALVE]), headers=SUPERVISOR),
            400,
        )
        assert VALVE in text and PUMP in text
        text = result_text(
            await client.post(
                "/packages", data={"fileName": "x.aasx"}, files={"other": ("x", b"x")}, headers=SUPERVISOR
            ),
            400,
        )
        assert "'file'" in text
        text = result_text(
            await client.post("/packages", content=good, headers={**SUPERVISOR, "Content-Type": MEDIA}), 400
        )
        assert "multipart/form-data" in text
        result_text(
            await client.post(
                "/packages",
                files={"file": ("", good, MEDIA)},
                data={"fileName": "a\r\nb.aasx"},
                headers=SUPERVISOR,
            ),
            400,
        )
        assert (await client.get("/packages")).json()["result"] == []


async def test_a_package_is_replaced_and_deleted(tmp_path: Path) -> None:
    pump, valve = aasx(PUMP), aasx(VALVE)
    async with aas_stack(tmp_path) as (_, client):
        r = await client.post("/packages", **upload(pump), headers=SUPERVISOR)
        path = f"/packages/{b64(r.json()['packageId'])}"
        r = await client.put(path, **upload(valve, "valve.aasx"), headers=SUPERVISOR)
        assert r.status_code == 204, r.text
        r = await client.get(path)
        assert r.content == valve and r.headers["x-filename"] == "valve.aasx"
        assert (await client.get("/packages")).json()["result"][0]["aasIds"] == [VALVE]
        broken = with_spec_part(valve, b"<idShort>Pump</idShort>", b"<idShort>1 pump</idShort>")
        result_text(await client.put(path, **upload(broken), headers=SUPERVISOR), 400)
        assert (await client.get(path)).content == valve  # a refused replacement leaves the package as it was
        result_text(await client.put(f"/packages/{b64('nope')}", **upload(pump), headers=SUPERVISOR), 404)
        assert (await client.delete(path, headers=SUPERVISOR)).status_code == 204
        result_text(await client.get(path), 404)
        result_text(await client.delete(path, headers=SUPERVISOR), 404)
        result_text(await client.get("/packages/not*base64"), 400)
        result_text(await client.patch(path, json={}), 405)


async def test_package_writes_need_the_supervisor_role(tmp_path: Path) -> None:
    pump = aasx(PUMP)
    async with aas_stack(tmp_path) as (_, client):
        result_text(await client.post("/packages", **upload(pump)), 401)
        result_text(await client.post("/packages", **upload(pump), headers=OPERATOR), 403)
        assert (await client.get("/packages")).json()["result"] == []
        r = await client.post("/packages", **upload(pump), headers=SUPERVISOR)
        path = f"/packages/{b64(r.json()['packageId'])}"
        result_text(await client.put(path, **upload(aasx(VALVE)), headers=OPERATOR), 403)
        result_text(await client.delete(path, headers=OPERATOR), 403)
        assert (await client.get(path)).content == pump
