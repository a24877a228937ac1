"""What the registry, discovery and AASX file server routers share beyond :mod:`werk.api.aas` (whose error bodies,
paging, identifiers and write guard they use as they are).

These services sit under the same ``/api/v3.0`` prefix as the repository, whose router ends with a catch-all that
answers unknown paths in the spec's Result shape; their routers are included before it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from werk.api.aas import ApiError, bearer_writer

_SSP = "https://admin-shell.io/aas/API/3/0/"
PROFILES = [
    _SSP + "AssetAdministrationShellRegistryServiceSpecification/SSP-001",
    _SSP + "AssetAdministrationShellRegistryServiceSpecification/SSP-002",
    _SSP + "SubmodelRegistryServiceSpecification/SSP-001",
    _SSP + "SubmodelRegistryServiceSpecification/SSP-002",
    _SSP + "DiscoveryServiceSpecification/SSP-001",
    _SSP + "AasxFileServerServiceSpecification/SSP-001",
]
"""The Part 2 profiles of these services, for ``GET /description`` (listed there beside the repository's)."""

_METHODS = frozenset(["GET", "POST", "PUT", "PATCH", "DELETE"])


def writer_dependency(tokens: Collection[str], require_writer: Callable[..., Any] | None) -> list[Any]:
    """The write guard, as the repository router chooses it: the caller's dependency, else bearer tokens."""
    return [Depends(require_writer or bearer_writer(tokens))]


def api_base(request: Request, prefix: str) -> str:
    """This server's API root as the client reached it (scheme, host, port, root path): endpoints in descriptors
    must be addresses the client can use, and werk does not know its public name."""
    return str(request.base_url).rstrip("/") + prefix


def created(data: Any, location: str) -> JSONResponse:
    return JSONResponse(data, status_code=201, headers={"Location": location})


def no_content() -> Response:
    return Response(status_code=204)


def refuse_other_methods(router: APIRouter) -> None:
    """Answer a method a path does not have with 405 in the Result shape. Call after the last route: without this
    the repository router's catch-all, which knows only its own operations, would answer 404."""
    methods: dict[str, set[str]] = {}
    for route in router.routes:
        if isinstance(route, APIRoute):
            methods.setdefault(route.path, set()).update(route.methods or ())
    for path, have in methods.items():
        missing = sorted(_METHODS - have)
        if not missing:
            continue

        async def refuse(request: Request) -> Response:
            raise ApiError(405, f"{request.method} is not an operation on {request.url.path}")

        router.add_api_route(
            path.removeprefix(router.prefix), refuse, methods=missing, include_in_schema=False
        )
