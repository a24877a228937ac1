"""AASX supplementary files (a shell's thumbnail, a File element's attachment) imported through the API are served
and survive a restart of werk (migration 6's ``aas_file``); a package whose file name is taken by other content is
refused whole."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from tests.aas.http.aas_stack import OPERATOR, PDF, PNG, SUPERVISOR, aas_stack, b64, package, result_text
from tests.app_databases import PlantStore
from werk.aas.adapter import io as aas_io
from werk.aas.http.common import AASX_MEDIA_TYPE

pytestmark = pytest.mark.e2e

AAS_ID = "https://example.com/aas/pump-9"
SM_ID = AAS_ID + "/submodels/Nameplate"


async def test_imported_files_are_served_and_survive_a_restart(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    thumbnail = f"/shells/{b64(AAS_ID)}/asset-information/thumbnail"
    attachment = f"/submodels/{b64(AAS_ID + '/submodels/Nameplate')}/submodel-elements/Manual/attachment"
    headers = {**SUPERVISOR, "Content-Type": AASX_MEDIA_TYPE}
    async with aas_stack(tmp_path, plant_store) as (_, client):
        r = await client.post("/werk/import", content=package(AAS_ID, PDF), headers=headers)
        assert r.status_code == 201, r.text
        for path, body, ctype in [(thumbnail, PNG, "image/png"), (attachment, PDF, "application/pdf")]:
            r = await client.get(path)
            assert r.status_code == 200, r.text
            assert r.content == body and r.headers["content-type"] == ctype

        # another package naming the same file with other content: refused whole
        other = "https://example.com/aas/pump-10"
        r = await client.post("/werk/import", content=package(other, PDF + b"v2"), headers=headers)
        assert "manual.pdf" in result_text(r, 409)
        assert (await client.get(f"/shells/{b64(other)}")).status_code == 404
        assert (await client.get(attachment)).content == PDF

    async with aas_stack(tmp_path, plant_store) as (_, client):  # werk again, on the same store
        assert (await client.get(thumbnail)).content == PNG
        assert (await client.get(attachment)).content == PDF
        r = await client.get("/serialization", headers={"Accept": AASX_MEDIA_TYPE})
        assert r.status_code == 200
        exported = aas_io.read_aasx(r.content)
        buf = io.BytesIO()
        exported.files.write_file("/aasx/files/manual.pdf", buf)
        assert buf.getvalue() == PDF


def stored_files(tmp_path: Path) -> set[str]:
    """The supplementary files in werk's store, read from its SQLite file."""
    with sqlite3.connect(tmp_path / "werk.db") as db:
        return {str(r[0]) for r in db.execute("SELECT name FROM aas_file")}


async def test_attachments_are_uploaded_replaced_and_deleted_and_unused_files_go(tmp_path: Path) -> None:
    sm = f"/submodels/{b64(SM_ID)}/submodel-elements"
    attachment = f"{sm}/Manual/attachment"
    v2 = b"%PDF-1.7\n" + b"revised " * 40
    upload = {"fileName": (None, "manual-rev2.pdf"), "file": ("manual-rev2.pdf", v2, "application/pdf")}
    async with aas_stack(tmp_path) as (_, client):
        r = await client.post(
            "/werk/import",
            content=package(AAS_ID, PDF),
            headers={**SUPERVISOR, "Content-Type": AASX_MEDIA_TYPE},
        )
        assert r.status_code == 201, r.text
        assert stored_files(tmp_path) == {"/aasx/files/manual.pdf", "/aasx/files/pump.png"}

        # refused: no token, the wrong role, no multipart body, no file part, an element that holds no file
        assert (await client.put(attachment, files=upload)).status_code == 401
        assert (await client.put(attachment, files=upload, headers=OPERATOR)).status_code == 403
        r = await client.put(
            attachment, content=v2, headers={**SUPERVISOR, "Content-Type": "application/pdf"}
        )
        assert "multipart/form-data" in result_text(r, 400)
        r = await client.put(attachment, files={"fileName": (None, "x.pdf")}, headers=SUPERVISOR)
        assert "'file'" in result_text(r, 400)
        bad_name = {**upload, "fileName": (None, "..")}
        assert "not a usable file name" in result_text(
            await client.put(attachment, files=bad_name, headers=SUPERVISOR), 400
        )
        r = await client.put(f"{sm}/SerialNumber/attachment", files=upload, headers=SUPERVISOR)
        assert "attachments belong to File elements" in result_text(r, 400)
        assert (await client.get(attachment)).content == PDF  # nothing changed by any of them

        r = await client.put(attachment, files=upload, headers=SUPERVISOR)
        assert r.status_code == 204, r.text
        r = await client.get(attachment)
        assert r.content == v2 and r.headers["content-type"] == "application/pdf"
        value = (await client.get(f"{sm}/Manual/$value")).json()["Manual"]["value"]
        assert value.endswith("/Manual/manual-rev2.pdf")
        # the imported manual.pdf is no longer pointed at: it went once the change was stored
        assert stored_files(tmp_path) == {value, "/aasx/files/pump.png"}

        # a second File element pointing at the shell's thumbnail keeps it when the shell goes
        photo = {
            "modelType": "File",
            "idShort": "Photo",
            "contentType": "image/png",
            "value": "/aasx/files/pump.png",
        }
        assert (await client.post(sm, json=photo, headers=SUPERVISOR)).status_code == 201
        assert (await client.delete(f"/shells/{b64(AAS_ID)}", headers=SUPERVISOR)).status_code == 204
        assert (await client.get(f"{sm}/Photo/attachment")).content == PNG

    async with aas_stack(tmp_path) as (_, client):  # werk again: the upload was stored
        assert (await client.get(attachment)).content == v2
        r = await client.delete(attachment, headers=SUPERVISOR)
        assert r.status_code == 200, r.text
        assert "no file" in result_text(await client.delete(attachment, headers=SUPERVISOR), 404)
        assert "value" not in (await client.get(f"{sm}/Manual/$value")).json()["Manual"]
        assert stored_files(tmp_path) == {"/aasx/files/pump.png"}
        assert (await client.delete(f"/submodels/{b64(SM_ID)}", headers=SUPERVISOR)).status_code == 204
        assert stored_files(tmp_path) == set()  # the last File element pointing at the thumbnail went with it
