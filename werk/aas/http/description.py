"""``GET /description``: the Part 2 profiles (service specifications) this server implements."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from werk.aas.http.common import SSP, AasRoute, resource_router

PROFILES = [
    SSP + "AssetAdministrationShellRepositoryServiceSpecification/SSP-001",
    SSP + "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    SSP + "SubmodelRepositoryServiceSpecification/SSP-001",
    SSP + "SubmodelRepositoryServiceSpecification/SSP-002",
    SSP + "ConceptDescriptionRepositoryServiceSpecification/SSP-001",
    SSP + "AssetAdministrationShellRegistryServiceSpecification/SSP-001",
    SSP + "AssetAdministrationShellRegistryServiceSpecification/SSP-002",
    SSP + "SubmodelRegistryServiceSpecification/SSP-001",
    SSP + "SubmodelRegistryServiceSpecification/SSP-002",
    SSP + "DiscoveryServiceSpecification/SSP-001",
    SSP + "AasxFileServerServiceSpecification/SSP-001",
]
"""Every profile of werk's AAS server: repository, registry, discovery and file server."""


def build_description_router(prefix: str, route: type[AasRoute], profiles: Collection[str]) -> APIRouter:
    router = resource_router(route, prefix, "AAS API description (IDTA-01002-3-0)")

    @router.get("/description")
    def get_description() -> JSONResponse:
        return JSONResponse({"profiles": list(profiles)})

    return router
