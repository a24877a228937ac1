"""``POST {prefix}/werk/import``, werk's one extension to the Part 2 paths: a whole JSON, XML or AASX environment
loaded into the repository all or nothing (the standard has no such operation outside the AASX file server, which
stores packages without merging them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from werk.aas.adapter import io as aas_io
from werk.aas.http import common


def build_import_router(repo: common.Repository, route: type[common.AasRoute]) -> APIRouter:
    router = common.resource_router(route, repo.prefix, "werk extension")
    store = repo.store

    @router.post("/werk/import")
    async def import_environment(request: Request) -> JSONResponse:
        """Load a JSON, XML or AASX environment completely, or nothing (400 with every finding, 409 if an id is
        taken). Content-Type chooses the reader; ``?metamodel=3.1`` for 3.1 JSON."""
        body = await common.spooled_body(request)
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        mm_param = request.query_params.get("metamodel", "3.0")
        if mm_param not in ("3.0", "3.1"):
            raise common.ApiError(400, f"metamodel {mm_param!r} must be '3.0' or '3.1'")
        mm: aas_io.Metamodel = "3.1" if mm_param == "3.1" else "3.0"

        def load() -> aas_io.Loaded:  # parsing and checking take CPU time: off the event loop
            with body:
                if ctype in ("application/xml", "text/xml"):
                    loaded = aas_io.read_xml(body.read(), source="request body")
                elif ctype in (common.AASX_MEDIA_TYPE, "application/zip", "application/octet-stream"):
                    loaded = aas_io.read_aasx(body, source="request body", metamodel=mm)
                else:
                    loaded = aas_io.read_json(body.read(), source="request body", metamodel=mm)
            with store.lock:
                taken = [o.id for o in loaded.objects if store.objects.get(o.id) is not None]
                if taken:
                    raise common.ApiError(
                        409, f"{len(taken)} identifiers exist already, nothing imported: {taken[:10]}"
                    )
                try:
                    store.add_files(loaded.files)  # stored before the objects that point at them
                except KeyError as exc:  # names held with other content: nothing was added
                    raise common.ApiError(
                        409,
                        f"files with these names hold other content already, nothing imported: {exc.args[0][:10]}",
                    ) from None
                store.add_all(list(loaded.objects))  # one transaction where the twin is on PostgreSQL
            return loaded

        r = (await run_in_threadpool(load)).report
        report = {
            "counts": r.counts,
            "loaded": r.loaded,
            "elements": r.elements,
            "warnings": list(r.warnings),
        }
        return JSONResponse(report, status_code=201)

    return router
