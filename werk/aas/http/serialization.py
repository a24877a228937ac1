"""``GET /serialization`` (Part 2 SerializationServiceSpecification's GenerateSerializationByIds): shells,
submodels and concept descriptions as one environment, in JSON, XML or AASX by the ``Accept`` header."""

from __future__ import annotations

from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from werk.aas.adapter import io as aas_io
from werk.aas.http.common import (
    AASX_MEDIA_TYPE,
    AasRoute,
    ApiError,
    Repository,
    b64url_decode,
    bool_of,
    ref_value,
    resource_router,
)


def build_serialization_router(repo: Repository, route: type[AasRoute]) -> APIRouter:
    router = resource_router(route, repo.prefix, "Serialization (IDTA-01002-3-0)")
    store = repo.store

    @router.get("/serialization")
    def generate_serialization(request: Request) -> Response:
        q = request.query_params
        aas_ids = {b64url_decode(v) for v in q.getlist("aasIds")}
        sm_ids = {b64url_decode(v) for v in q.getlist("submodelIds")}
        with_cds = bool_of(q.get("includeConceptDescriptions"), "includeConceptDescriptions", True)
        with store.lock:
            shells = [s for s in store.all(model.AssetAdministrationShell) if not aas_ids or s.id in aas_ids]
            if aas_ids and not sm_ids:  # the chosen shells come with their own submodels
                sm_ids = {ref_value(r) for s in shells for r in s.submodel}
                submodels = [s for s in store.all(model.Submodel) if s.id in sm_ids]
                sm_ids = {s.id for s in submodels}
            else:
                submodels = [s for s in store.all(model.Submodel) if not sm_ids or s.id in sm_ids]
            missing = (aas_ids - {s.id for s in shells}) | (sm_ids - {s.id for s in submodels})
            if missing:
                raise ApiError(404, f"unknown identifiers {sorted(missing)}")
            for sm in submodels:
                repo.refreshed(sm)
            objs: list[model.Identifiable] = [*shells, *submodels]
            if with_cds:
                objs += store.all(ConceptDescription)
            accept = request.headers.get("accept", "application/json")
            if "xml" in accept and AASX_MEDIA_TYPE not in accept:
                return Response(aas_io.write_xml(objs, validate=False), media_type="application/xml")
            if AASX_MEDIA_TYPE in accept:
                files = store.files_of(objs)  # what these objects point at, not every file of the twin
                return Response(aas_io.write_aasx(objs, files, validate=False), media_type=AASX_MEDIA_TYPE)
            return JSONResponse(aas_io.environment_jsonable(objs) or {})

    return router
