"""The concept description repository: ConceptDescriptionRepositoryServiceSpecification of IDTA-01002-3-0,
SSP-001."""

from __future__ import annotations

from basyx.aas.model.concept import ConceptDescription
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from werk.aas.http.common import AasRoute, Repository, identifiable_routes, paged, resource_router

TAG = "Concept description repository (IDTA-01002-3-0)"


def build_concept_description_router(repo: Repository, route: type[AasRoute]) -> APIRouter:
    router = resource_router(route, repo.prefix, TAG)

    @router.get("/concept-descriptions")
    def get_all_concept_descriptions(
        request: Request, limit: str | None = None, cursor: str | None = None, idShort: str | None = None
    ) -> JSONResponse:
        with repo.store.lock:
            cds = [c for c in repo.store.all(ConceptDescription) if idShort is None or c.id_short == idShort]
            return paged(cds, limit, cursor, repo.cache.jsonable)

    identifiable_routes(
        router, repo, "/concept-descriptions", "cd_id", ConceptDescription, "ConceptDescription"
    )
    return router
