"""AASX supplementary files (a shell's thumbnail, a File element's attachment) imported through the API are served
and survive a restart of werk (migration 6's ``aas_file``); a package whose file name is taken by other content is
refused whole."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.api.aas_stack import PDF, PNG, SUPERVISOR, aas_stack, b64, package, result_text
from werk.api.aas import AASX_MEDIA_TYPE
from werk.twin import io as aas_io

pytestmark = pytest.mark.e2e

AAS_ID = "https://example.com/aas/pump-9"
SM_ID = AAS_ID + "/submodels/Nameplate"


async def test_imported_files_are_served_and_survive_a_restart(tmp_path: Path) -> None:
    thumbnail = f"/shells/{b64(AAS_ID)}/asset-information/thumbnail"
    attachment = f"/submodels/{b64(AAS_ID + '/submodels/Nameplate')}/submodel-elements/Manual/attachment"
    headers = {**SUPERVISOR, "Content-Type": AASX_MEDIA_TYPE}
    async with aas_stack(tmp_path) as (_, client):
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

    async with aas_stack(tmp_path) as (_, client):  # werk again, on the same file
        assert (await client.get(thumbnail)).content == PNG
        assert (await client.get(attachment)).content == PDF
        r = await client.get("/serialization", headers={"Accept": AASX_MEDIA_TYPE})
        assert r.status_code == 200
        exported = aas_io.read_aasx(r.content)
        buf = io.BytesIO()
        exported.files.write_file("/aasx/files/manual.pdf", buf)
        assert buf.getvalue() == PDF
