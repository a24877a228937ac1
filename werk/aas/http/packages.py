"""The AASX file server of IDTA-01002-3-0 (Part 2, API v3.0): AASX packages stored and served as files.

Profile AasxFileServerServiceSpecification/SSP-001. ``GET /packages`` lists PackageDescriptions (``packageId``,
``aasIds``), optionally those holding the shell ``aasId`` (base64url), paged; ``POST /packages`` stores a package
sent as multipart/form-data (``file``, optional ``aasIds`` repeated, optional ``fileName``); ``/packages/{packageId}``
(base64url) answers its bytes, replaces it or deletes it.

The file server stores files: a package is not merged into the repository (``POST /werk/import`` does that), and
the bytes served are the bytes uploaded. It is read in full before it is stored, with the strict reader of
:mod:`werk.aas.adapter.io`, so the file server never hands out a package werk itself could not open; one that fails is
refused whole (400 naming every finding). ``aasIds`` must name shells the package holds and default to all of them.
Packages live in werk's SQLite file and survive a restart; each is at most :data:`MAX_PACKAGE_BYTES`.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote

from basyx.aas import model
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from werk.aas.adapter import io as aas_io
from werk.aas.backend.service_store import PackageInfo, ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.http import common

PACKAGE_MEDIA_TYPE = "application/asset-administration-shell-package"
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
"""Largest package accepted (413 beyond): it is held in memory while it is read and checked."""
MAX_FILE_NAME = 255


def _description(info: PackageInfo) -> dict[str, Any]:
    """A PackageDescription (Part 2 API schemas)."""
    return {"packageId": info.package_id, "aasIds": list(info.aas_ids)}


def build_package_router(
    twin: TwinStore,
    services: ServiceStore,
    route: type[common.AasRoute],
    prefix: str,
) -> APIRouter:
    """The AASX file server over ``services``; ``twin`` only lends the metamodel JSON parts are read as."""
    router = common.resource_router(route, prefix, "AASX file server (IDTA-01002-3-0)")

    async def upload(request: Request, default_name: str | None = None) -> tuple[str, list[str], bytes]:
        """The package of a multipart request, read in full by werk's strict reader: (file name, aasIds, bytes)."""
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise common.ApiError(
                400,
                f"send the package as multipart/form-data with a 'file' part, not {ctype or 'no content type'!r}",
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_PACKAGE_BYTES + 64 * 1024:
            raise common.ApiError(413, f"the package is larger than {MAX_PACKAGE_BYTES} bytes")
        async with request.form() as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise common.ApiError(400, "the multipart body has no 'file' part holding the .aasx package")
            named = form.get("fileName")
            aas_ids = [str(v) for v in form.getlist("aasIds")]
            name = _file_name(
                named if isinstance(named, str) and named else (part.filename or default_name or "")
            )
            # read from the part's temporary file (on disk beyond 1 MiB), bounded in what it may inflate to
            loaded = await run_in_threadpool(
                aas_io.read_aasx, part.file, source=name, metamodel=twin.metamodel
            )
            part.file.seek(0)
            data = await part.read(MAX_PACKAGE_BYTES + 1)
            if len(data) > MAX_PACKAGE_BYTES:
                raise common.ApiError(413, f"the package is larger than {MAX_PACKAGE_BYTES} bytes")
        held = [o.id for o in loaded.objects if isinstance(o, model.AssetAdministrationShell)]
        foreign = [a for a in aas_ids if a not in held]
        if foreign:
            raise common.ApiError(
                400, f"aasIds names shells the package does not hold: {foreign} (it holds {held})"
            )
        return name, aas_ids or held, data

    def package_id(encoded: str) -> str:
        return common.b64url_decode(encoded, "packageId")

    @router.get("/packages")
    def get_all_aasx_package_ids(
        limit: str | None = None, cursor: str | None = None, aasId: str | None = None
    ) -> JSONResponse:
        wanted = common.b64url_decode(aasId, "aasId") if aasId is not None else None
        infos = [p for p in services.packages() if wanted is None or wanted in p.aas_ids]
        return common.paged(infos, limit, cursor, _description)

    @router.post("/packages")
    async def post_aasx_package(request: Request) -> JSONResponse:
        name, aas_ids, data = await upload(request)
        info = await run_in_threadpool(services.add_package, name, aas_ids, data)
        return common.created(
            _description(info), f"{prefix}/packages/{common.b64url_encode(info.package_id)}"
        )

    @router.get("/packages/{package}")
    def get_aasx_by_package_id(package: str) -> Response:
        ident = package_id(package)
        found = services.package(ident)
        if found is None:
            raise common.ApiError(404, f"no AASX package with id {ident!r}")
        info, data = found
        quoted = quote(info.file_name)
        return Response(
            data,
            media_type=PACKAGE_MEDIA_TYPE,
            headers={
                "X-FileName": info.file_name if info.file_name.isascii() else quoted,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            },
        )

    @router.put("/packages/{package}")
    async def put_aasx_by_package_id(request: Request, package: str) -> Response:
        ident = package_id(package)
        old = await run_in_threadpool(services.package_info, ident)
        if old is None:
            raise common.ApiError(404, f"no AASX package with id {ident!r}")
        name, aas_ids, data = await upload(request, default_name=old.file_name)
        if not await run_in_threadpool(services.replace_package, ident, name, aas_ids, data):
            raise common.ApiError(404, f"no AASX package with id {ident!r}")  # deleted meanwhile
        return common.no_content()

    @router.delete("/packages/{package}")
    def delete_aasx_by_package_id(package: str) -> Response:
        ident = package_id(package)
        if not services.delete_package(ident):
            raise common.ApiError(404, f"no AASX package with id {ident!r}")
        return common.no_content()

    return router


def _file_name(name: str) -> str:
    """The last segment of a client's file name; refused when empty or when it would break a header line."""
    base = posixpath.basename(name.replace("\\", "/")).strip()
    if not base:
        raise common.ApiError(
            400, "the package needs a file name: send 'fileName', or a filename with the 'file' part"
        )
    if len(base) > MAX_FILE_NAME or any(ord(c) < 0x20 or ord(c) == 0x7F for c in base):
        raise common.ApiError(
            400,
            f"file name {base[:80]!r} is longer than {MAX_FILE_NAME} characters or holds control characters",
        )
    return base
