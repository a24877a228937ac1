"""The AAS registry and submodel registry of IDTA-01002-3-0 (Part 2, API v3.0), beside werk's repository.

Profiles: AssetAdministrationShellRegistryServiceSpecification and SubmodelRegistryServiceSpecification, SSP-001
(full) and SSP-002 (read). Paths: ``/shell-descriptors[/{aasIdentifier}[/submodel-descriptors[/{submodelIdentifier}]]]``
and ``/submodel-descriptors[/{submodelIdentifier}]``, identifiers base64url-encoded, lists paged with ``limit`` and
``cursor``, errors as Result bodies, all as the repository in :mod:`werk.aas.http.common` does.

Two sources, one listing. werk's own shells and submodels are always registered: their descriptors are derived from
the repository on every read (:mod:`werk.aas.model.descriptors`), with endpoints at this server's ``/shells/{id}`` and
``/submodels/{id}`` as the client reached it, so they cannot go stale and nobody has to register them. They change
with the repository and are refused as registry writes (409 naming the repository path that changes them).
Descriptors clients register for twins on other servers are checked against the Part 2 schemas and kept in werk's
SQLite file (:class:`werk.aas.backend.service_store.ServiceStore`), so they survive a restart. A registered descriptor
whose id the repository later takes is shadowed by werk's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from basyx.aas import model
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from werk.aas.adapter import io as aas_io
from werk.aas.backend.service_store import DescriptorKind, ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.http.common import (
    AasRoute,
    ApiError,
    Body_,
    VisibleIds,
    api_base,
    b64url_decode,
    b64url_encode,
    created,
    no_content,
    paged,
    resource_router,
)
from werk.aas.model.descriptors import (
    check_shell_descriptor,
    check_submodel_descriptor,
    shell_descriptor,
    submodel_descriptor,
)
from werk.errors import AasError

_ASSET_KINDS = ("Instance", "Type", "NotApplicable")
_NAMES: dict[DescriptorKind, str] = {
    "shell": "AssetAdministrationShellDescriptor",
    "submodel": "SubmodelDescriptor",
}


def build_registry_router(
    twin: TwinStore,
    services: ServiceStore,
    route: type[AasRoute],
    prefix: str,
    visible: VisibleIds | None = None,
) -> APIRouter:
    """The AAS registry and the submodel registry over ``twin`` (werk's own) and ``services`` (registered);
    ``visible``: what a caller may see of the lists (:data:`~werk.aas.http.common.VisibleIds`)."""
    router = resource_router(route, prefix, "AAS registry, submodel registry (IDTA-01002-3-0)")
    # a shell descriptor's nested submodel descriptors are read, changed and written back: one edit at a time
    edits = threading.Lock()

    # --- werk's own, derived (callers hold twin.lock) --------------------------------------------------------------

    def own_submodel(base: str) -> Callable[[str], dict[str, Any] | None]:
        def describe(ident: str) -> dict[str, Any] | None:
            sm = twin.get(ident, model.Submodel)
            return None if sm is None else submodel_descriptor(sm, base)

        return describe

    def own_shell(shell: model.AssetAdministrationShell, base: str) -> dict[str, Any]:
        return shell_descriptor(shell, base, own_submodel(base))

    def render(base: str, kind: DescriptorKind) -> Callable[[Any], Any]:
        def one(item: Any) -> Any:
            if isinstance(item, dict):
                return item
            if kind == "shell":
                return own_shell(item, base)
            return submodel_descriptor(item, base)

        return one

    def refuse_own(kind: DescriptorKind, ident: str) -> ApiError:
        path = f"{prefix}/{'shells' if kind == 'shell' else 'submodels'}/{b64url_encode(ident)}"
        return ApiError(
            409,
            f"{ident!r} is a {'shell' if kind == 'shell' else 'submodel'} werk serves itself: its descriptor is "
            f"derived from the repository and changes with it ({path})",
        )

    def is_own(kind: DescriptorKind, ident: str) -> bool:
        with twin.lock:
            return (
                twin.get(ident, model.AssetAdministrationShell if kind == "shell" else model.Submodel)
                is not None
            )

    # --- registered, checked ---------------------------------------------------------------------------------------

    def checked(payload: Any, kind: DescriptorKind) -> dict[str, Any]:
        check = check_shell_descriptor if kind == "shell" else check_submodel_descriptor
        problems = check(payload, twin.metamodel)
        if problems:
            raise AasError(f"invalid {_NAMES[kind]} (IDTA-01002-3-0)", tuple(problems[: aas_io.MAX_PROBLEMS]))
        assert isinstance(payload, dict)
        return payload

    def registered_or_404(kind: DescriptorKind, ident: str) -> dict[str, Any]:
        found = services.descriptor(kind, ident)
        if found is None:
            raise ApiError(404, f"no {_NAMES[kind]} with id {ident!r}")
        return found

    def descriptor_or_404(request: Request, kind: DescriptorKind, ident: str) -> dict[str, Any]:
        base = api_base(request, prefix)
        with twin.lock:
            if kind == "shell":
                shell = twin.get(ident, model.AssetAdministrationShell)
                if shell is not None:
                    return own_shell(shell, base)
            else:
                sm = twin.get(ident, model.Submodel)
                if sm is not None:
                    return submodel_descriptor(sm, base)
        return registered_or_404(kind, ident)

    def register(kind: DescriptorKind, payload: Any, location: str) -> JSONResponse:
        data = checked(payload, kind)
        if is_own(kind, data["id"]):
            raise ApiError(409, f"{data['id']!r} is registered already: werk serves it itself")
        try:
            services.add_descriptor(kind, data)
        except KeyError:
            raise ApiError(409, f"a {_NAMES[kind]} with id {data['id']!r} is registered already") from None
        return created(data, f"{location}/{b64url_encode(data['id'])}")

    def replace(kind: DescriptorKind, encoded: str, payload: Any) -> Response:
        ident = b64url_decode(encoded)
        data = checked(payload, kind)
        if is_own(kind, ident):
            raise refuse_own(kind, ident)
        with edits:
            registered_or_404(kind, ident)
            if data["id"] != ident:
                raise ApiError(400, f"the body's id {data['id']!r} differs from the path's {ident!r}")
            services.replace_descriptor(kind, data)
        return no_content()

    def deregister(kind: DescriptorKind, encoded: str) -> Response:
        ident = b64url_decode(encoded)
        if is_own(kind, ident):
            raise refuse_own(kind, ident)
        if not services.delete_descriptor(kind, ident):
            raise ApiError(404, f"no {_NAMES[kind]} with id {ident!r}")
        return no_content()

    def paged_listing(
        request: Request,
        kind: DescriptorKind,
        limit: str | None,
        cursor: str | None,
        keep: Callable[[Any], bool] = lambda _: True,
    ) -> JSONResponse:
        """One page of werk's own (in repository order), then the registered ones (in registration order)."""
        stored = services.descriptors(kind)
        base = api_base(request, prefix)
        seen = visible(request.scope) if visible is not None else None
        with twin.lock:
            own: list[Any] = twin.all(model.AssetAdministrationShell if kind == "shell" else model.Submodel)
            own_ids = {o.id for o in own}
            items = [x for x in own if keep(x) and (seen is None or seen(x.id))]
            items += [
                d
                for d in stored
                if d["id"] not in own_ids and keep(d) and (seen is None or seen(str(d["id"])))
            ]
            return paged(items, limit, cursor, render(base, kind))

    # --- AAS registry (AssetAdministrationShellRegistryServiceSpecification) --------------------------------------

    @router.get("/shell-descriptors")
    def get_all_shell_descriptors(
        request: Request,
        limit: str | None = None,
        cursor: str | None = None,
        assetKind: str | None = None,
        assetType: str | None = None,
    ) -> JSONResponse:
        if assetKind is not None and assetKind not in _ASSET_KINDS:
            raise ApiError(400, f"assetKind {assetKind!r} must be one of {list(_ASSET_KINDS)}")
        asset_type = b64url_decode(assetType, "assetType") if assetType is not None else None

        def keep(item: Any) -> bool:
            if assetKind is None and asset_type is None:
                return True
            if isinstance(item, dict):
                kind, typ = item.get("assetKind"), item.get("assetType")
            else:
                info = aas_io.to_jsonable(item.asset_information)
                kind, typ = info.get("assetKind"), info.get("assetType")
            return (assetKind is None or kind == assetKind) and (asset_type is None or typ == asset_type)

        return paged_listing(request, "shell", limit, cursor, keep)

    # --- submodel descriptors of a shell descriptor (the registry's superpath) ----------------------------------

    def nested(request: Request, aas_id: str) -> list[dict[str, Any]]:
        shell = descriptor_or_404(request, "shell", b64url_decode(aas_id))
        subs = shell.get("submodelDescriptors", [])
        return subs if isinstance(subs, list) else []

    def nested_or_404(request: Request, aas_id: str, submodel_id: str) -> dict[str, Any]:
        subs = nested(request, aas_id)
        return subs[_index_or_404(subs, b64url_decode(submodel_id), aas_id)]

    def edit_nested(aas_id: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
        """Apply ``change`` to a registered shell descriptor's submodel descriptors and store the result."""
        ident = b64url_decode(aas_id)
        if is_own("shell", ident):
            raise ApiError(
                409,
                f"{ident!r} is a shell werk serves itself: its submodel descriptors follow its submodel references "
                f"({prefix}/shells/{aas_id}/submodel-refs)",
            )
        with edits:
            shell = registered_or_404("shell", ident)
            subs = list(shell.get("submodelDescriptors", []))
            change(subs)
            if subs:
                shell["submodelDescriptors"] = subs
            else:
                shell.pop("submodelDescriptors", None)
            services.replace_descriptor("shell", shell)

    @router.get("/shell-descriptors/{aas_id}/submodel-descriptors")
    def get_all_submodel_descriptors_through_superpath(
        request: Request, aas_id: str, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        return paged(nested(request, aas_id), limit, cursor, lambda d: d)

    @router.post("/shell-descriptors/{aas_id}/submodel-descriptors")
    def post_submodel_descriptor_through_superpath(
        request: Request, aas_id: str, payload: Body_
    ) -> JSONResponse:
        data = checked(payload, "submodel")

        def add(subs: list[dict[str, Any]]) -> None:
            if any(s.get("id") == data["id"] for s in subs):
                raise ApiError(
                    409,
                    f"shell descriptor {b64url_decode(aas_id)!r} has a submodel descriptor {data['id']!r}",
                )
            subs.append(data)

        edit_nested(aas_id, add)
        return created(data, f"{request.url.path}/{b64url_encode(data['id'])}")

    @router.get("/shell-descriptors/{aas_id}/submodel-descriptors/{submodel_id}")
    def get_submodel_descriptor_through_superpath(
        request: Request, aas_id: str, submodel_id: str
    ) -> JSONResponse:
        return JSONResponse(nested_or_404(request, aas_id, submodel_id))

    @router.put("/shell-descriptors/{aas_id}/submodel-descriptors/{submodel_id}")
    def put_submodel_descriptor_through_superpath(aas_id: str, submodel_id: str, payload: Body_) -> Response:
        ident = b64url_decode(submodel_id)
        data = checked(payload, "submodel")

        def put(subs: list[dict[str, Any]]) -> None:
            index = _index_or_404(subs, ident, aas_id)
            if data["id"] != ident:
                raise ApiError(400, f"the body's id {data['id']!r} differs from the path's {ident!r}")
            subs[index] = data

        edit_nested(aas_id, put)
        return no_content()

    @router.delete("/shell-descriptors/{aas_id}/submodel-descriptors/{submodel_id}")
    def delete_submodel_descriptor_through_superpath(aas_id: str, submodel_id: str) -> Response:
        ident = b64url_decode(submodel_id)

        def remove(subs: list[dict[str, Any]]) -> None:
            del subs[_index_or_404(subs, ident, aas_id)]

        edit_nested(aas_id, remove)
        return no_content()

    # --- submodel registry (SubmodelRegistryServiceSpecification) -------------------------------------------------

    @router.get("/submodel-descriptors")
    def get_all_submodel_descriptors(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        return paged_listing(request, "submodel", limit, cursor)

    kinds: tuple[tuple[DescriptorKind, str], ...] = (
        ("shell", "/shell-descriptors"),
        ("submodel", "/submodel-descriptors"),
    )
    for kind, collection in kinds:
        _descriptor_routes(router, collection, kind, register, descriptor_or_404, replace, deregister)

    return router


def _descriptor_routes(
    router: APIRouter,
    collection: str,
    kind: DescriptorKind,
    register: Callable[[DescriptorKind, Any, str], JSONResponse],
    descriptor_or_404: Callable[[Request, DescriptorKind, str], dict[str, Any]],
    replace: Callable[[DescriptorKind, str, Any], Response],
    deregister: Callable[[DescriptorKind, str], Response],
) -> None:
    """POST ``collection``, GET, PUT and DELETE ``collection/{id}`` of one kind of descriptor."""
    one = collection + "/{identifier}"
    name = _NAMES[kind]

    def post(payload: Body_) -> JSONResponse:
        return register(kind, payload, router.prefix + collection)

    def get(request: Request, identifier: str) -> JSONResponse:
        return JSONResponse(descriptor_or_404(request, kind, b64url_decode(identifier)))

    def put(identifier: str, payload: Body_) -> Response:
        return replace(kind, identifier, payload)

    def delete(identifier: str) -> Response:
        return deregister(kind, identifier)

    router.add_api_route(collection, post, methods=["POST"], name=f"post_{name}")
    router.add_api_route(one, get, methods=["GET"], name=f"get_{name}")
    router.add_api_route(one, put, methods=["PUT"], name=f"put_{name}")
    router.add_api_route(one, delete, methods=["DELETE"], name=f"delete_{name}")


def _index_or_404(subs: list[dict[str, Any]], ident: str, aas_id: str) -> int:
    for i, sub in enumerate(subs):
        if sub.get("id") == ident:
            return i
    raise ApiError(
        404, f"shell descriptor {b64url_decode(aas_id)!r} has no submodel descriptor with id {ident!r}"
    )
