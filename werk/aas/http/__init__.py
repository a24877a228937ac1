"""The AAS server's HTTP API, IDTA-01002-3-0 (Part 2, API v3.0): one router per resource, assembled here.

- :mod:`~werk.aas.http.shells` (AAS repository), :mod:`~werk.aas.http.submodels` (submodel repository and submodel
  elements), :mod:`~werk.aas.http.concept_descriptions`, :mod:`~werk.aas.http.serialization`,
  :mod:`~werk.aas.http.description`;
- :mod:`~werk.aas.http.registry` (AAS and submodel registry), :mod:`~werk.aas.http.discovery`,
  :mod:`~werk.aas.http.packages` (AASX file server);
- :mod:`~werk.aas.http.werk_import` (werk's one extension: a whole environment in);
- :mod:`~werk.aas.http.views` (the read cache) and :mod:`~werk.aas.http.fast` (the fast path in front of the app);
- :mod:`~werk.aas.http.schemas` (the bodies' names in the OpenAPI document).

Serving it from several processes on one port (``werk.api.workers``, ``werk.api.worker``, ``werk.api.upstream``)
is the HTTP server's business, above this package: a worker runs :meth:`AasApi.fast_path` over its own copy of the
twin and hands everything else to the primary.

:func:`build_aas_api` is what the rest of werk calls: include its :attr:`AasApi.routers` in the app, put its
:meth:`AasApi.fast_path` in front of it (``werk.api.http_server.add_front``) and let its :attr:`AasApi.uploads` take
files (``werk.api.http_server.allow_uploads``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp

from werk.aas.backend.service_store import ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.http.access_front import AccessFront, AccessRules
from werk.aas.http.common import (
    API_PREFIX,
    METHODS,
    WRITER_ROLE,
    AasRoute,
    ApiError,
    Authorize,
    Repository,
    VisibleIds,
    _all_visible,
    declare_path_parameters,
    encoding_hint,
    refuse_other_methods,
    route_class,
)
from werk.aas.http.concept_descriptions import build_concept_description_router
from werk.aas.http.description import PROFILES, build_description_router
from werk.aas.http.discovery import build_discovery_router
from werk.aas.http.fast import AasFastPath
from werk.aas.http.packages import build_package_router
from werk.aas.http.registry import build_registry_router
from werk.aas.http.schemas import declare_schemas
from werk.aas.http.serialization import build_serialization_router
from werk.aas.http.shells import build_shell_router
from werk.aas.http.submodels import WriteSignal, build_submodel_router
from werk.aas.http.views import ReadCache
from werk.aas.http.werk_import import build_import_router
from werk.aas.model.bound import LiveBinding

__all__ = ["API_PREFIX", "PROFILES", "WRITER_ROLE", "AasApi", "build_aas_api", "upload_paths"]


def upload_paths(prefix: str = API_PREFIX) -> list[str]:
    """The paths (regular expressions) of the routes that take files: AASX packages, attachments, environments to
    import. Their bodies may be as large as ``server.max_upload_bytes`` (``werk.api.http_server.allow_uploads``)."""
    p = re.escape(prefix)
    return [
        p + r"/packages(/[^/]+)?",
        p + r"/werk/import",
        p + r"(/shells/[^/]+)?/submodels/[^/]+/submodel-elements/[^/]+/attachment",
    ]


@dataclass
class AasApi:
    """The routers of the AAS server (the last answers unknown paths under the prefix in the spec's shape), and
    what its fast path needs."""

    repo: Repository
    authorize: Authorize
    routers: list[APIRouter] = field(default_factory=list)
    access: AccessRules | None = None

    @property
    def uploads(self) -> list[str]:
        return upload_paths(self.repo.prefix)

    def fast_path(self, app: ASGIApp) -> ASGIApp:
        """``app`` with the AAS fast path in front of it (:mod:`werk.aas.http.fast`) and, when access rules are
        set, their enforcement in front of both (:mod:`werk.aas.http.access_front`)."""
        fast = AasFastPath(app, self.repo, self.authorize)
        return fast if self.access is None else AccessFront(fast, self.repo, self.access)


def build_aas_api(
    store: TwinStore,
    services: ServiceStore | None,
    live: LiveBinding,
    *,
    authorize: Authorize,
    write_signal: WriteSignal | None = None,
    prefix: str = API_PREFIX,
    profiles: Collection[str] = PROFILES,
    visible: VisibleIds | None = None,
    access: AccessRules | None = None,
) -> AasApi:
    """The Part 2 API over ``store``, bound Properties read through ``live``; registry, discovery and file server
    over ``services`` (None: the repository alone). ``access``: AAS access rules enforced on every request besides
    ``authorize`` (None: off).

    Every write is authorized by ``authorize`` (the ``Authorization`` header to a user, or
    :class:`~werk.errors.Unauthorized`) before its body is read, and answered once durable (``store.synced``).
    ``write_signal`` writes a Property's value to the machine it is ``direct``ly bound to; without it, bound
    Properties refuse writes. ``visible`` narrows the lists of shells, submodels and their descriptors to what
    the caller may see (None: every caller sees all).
    """
    route = route_class(authorize, store.synced)
    repo = Repository(store, live, ReadCache(store, live), prefix, visible or _all_visible)
    routers = [
        build_submodel_router(repo, route, write_signal),
        build_shell_router(repo, route),
        build_concept_description_router(repo, route),
        build_serialization_router(repo, route),
        build_description_router(prefix, route, profiles),
        build_import_router(repo, route),
    ]
    if services is not None:
        routers += [
            build_registry_router(store, services, route, prefix, repo.visible),
            build_discovery_router(store, services, route, prefix),
            build_package_router(store, services, route, prefix),
        ]
    for router in routers:
        declare_path_parameters(router)
        declare_schemas(router)
        refuse_other_methods(router)
    routers.append(_unknown_paths(prefix, routers))
    return AasApi(repo, authorize, routers, access)


_COLLECTIONS = frozenset(
    [
        "shells",
        "submodels",
        "concept-descriptions",
        "shell-descriptors",
        "submodel-descriptors",
        "lookup",
        "packages",
    ]
)


def _unknown_paths(prefix: str, routers: list[APIRouter]) -> APIRouter:
    """Unknown paths under the prefix answer in the spec's Result shape too (included last)."""
    router = APIRouter(prefix=prefix, route_class=AasRoute)
    operations = [r for rt in routers for r in rt.routes if isinstance(r, APIRoute)]

    @router.api_route("/{rest:path}", methods=list(METHODS), include_in_schema=False)
    def no_such_operation(request: Request, rest: str) -> Response:
        scope = dict(request.scope)
        allowed = []
        for method in METHODS:
            scope["method"] = method
            if any(r.matches(scope)[0] is Match.FULL for r in operations):
                allowed.append(method)
        if allowed:
            raise ApiError(
                405,
                f"{request.method} is not an operation on {request.url.path}",
                {"Allow": ", ".join(allowed)},
            )
        text = f"no AAS API operation at {request.url.path} (IDTA-01002-3-0, API v3.0)"
        first, _, rest = rest.partition("/")
        if first in _COLLECTIONS and rest:
            # a raw identifier holds slashes and colons: it lands here rather than at its resource's route
            text += f"; if {rest!r} is an identifier, {encoding_hint('it')}"
        raise ApiError(404, text)

    return router
