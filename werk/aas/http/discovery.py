"""The discovery service of IDTA-01002-3-0 (Part 2, API v3.0): which shells belong to an asset.

Profile DiscoveryServiceSpecification/SSP-001. ``GET /lookup/shells?assetIds=...`` answers the ids of the shells
linked to every given asset id (each a base64url-encoded SpecificAssetId JSON, matched by name and value), paged;
``/lookup/shells/{aasIdentifier}`` reads (GET), adds (POST) and removes (DELETE) a shell's asset links.

werk's own shells are found without anyone posting links: their globalAssetId (under the name ``globalAssetId``) and
specificAssetIds are read from the repository on every lookup, so they follow the shell's asset information. Links
clients post, for any shell id (discovery also indexes shells on other servers), are kept in werk's SQLite file. A
DELETE removes the posted links; the links werk derives from one of its shells stay as long as the shell says so
(change them with ``PUT /shells/{id}/asset-information``), and a DELETE that has nothing else to remove says that.
"""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from werk.aas.adapter import io as aas_io
from werk.aas.backend.service_store import ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.http.common import (
    AasRoute,
    ApiError,
    Body_,
    b64url_decode,
    created,
    no_content,
    paged,
    resource_router,
)
from werk.aas.model.descriptors import (
    asset_links,
    check_specific_asset_id,
    check_specific_asset_ids,
    link_key,
)
from werk.errors import AasError


def build_discovery_router(
    twin: TwinStore,
    services: ServiceStore,
    route: type[AasRoute],
    prefix: str,
) -> APIRouter:
    """Discovery over ``twin`` (werk's own shells) and ``services`` (posted links)."""
    router = resource_router(route, prefix, "AAS discovery (IDTA-01002-3-0)")

    def own_links(ident: str) -> list[dict[str, Any]] | None:
        """The links werk derives from its shell ``ident``, None when werk has no such shell."""
        with twin.lock:
            shell = twin.get(ident, model.AssetAdministrationShell)
            return None if shell is None else asset_links(shell)

    def wanted(request: Request) -> list[tuple[str, str]]:
        keys = []
        for encoded in request.query_params.getlist("assetIds"):
            text = b64url_decode(encoded, "assetIds")
            try:
                data = json.loads(text)
            except ValueError:
                raise ApiError(400, f"assetIds {encoded!r} is not base64url-encoded JSON") from None
            problems = check_specific_asset_id(data, twin.metamodel)
            if problems:
                raise AasError("assetIds holds an invalid SpecificAssetId", tuple(problems))
            keys.append(link_key(data))
        return keys

    @router.get("/lookup/shells")
    def get_all_aas_ids_by_asset_link(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        keys = wanted(request)
        posted = services.link_keys()
        with twin.lock:
            own = [
                (s.id, {link_key(x) for x in asset_links(s)})
                for s in twin.all(model.AssetAdministrationShell)
            ]
        ids = []
        for aas_id, linked in own:
            linked |= posted.pop(aas_id, set())
            if all(k in linked for k in keys):
                ids.append(aas_id)
        ids += [aas_id for aas_id, linked in posted.items() if all(k in linked for k in keys)]
        return paged(ids, limit, cursor, lambda i: i)

    @router.get("/lookup/shells/{aas_id}")
    def get_all_asset_links_by_id(aas_id: str) -> JSONResponse:
        ident = b64url_decode(aas_id)
        own = own_links(ident)
        posted = services.asset_links(ident)
        if own is None and not posted:
            raise ApiError(404, f"no asset links for shell {ident!r}")
        links = list(own or [])
        seen = {link_key(x) for x in links}
        links += [x for x in posted if link_key(x) not in seen]
        return JSONResponse(links)

    @router.post("/lookup/shells/{aas_id}")
    def post_all_asset_links_by_id(aas_id: str, payload: Body_) -> JSONResponse:
        ident = b64url_decode(aas_id)
        problems = check_specific_asset_ids(payload, twin.metamodel)
        if problems:
            raise AasError(
                "invalid asset links (a JSON array of SpecificAssetId)",
                tuple(problems[: aas_io.MAX_PROBLEMS]),
            )
        keys = [link_key(x) for x in payload]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ApiError(400, f"the body names these asset ids more than once: {twice}")
        derived = {link_key(x) for x in own_links(ident) or []}
        taken = [k for k in keys if k in derived]
        try:
            if not taken:
                services.add_asset_links(ident, list(zip(keys, payload, strict=True)))
        except KeyError as exc:
            taken = list(exc.args[0])
        if taken:
            raise ApiError(
                409, f"shell {ident!r} is linked to these asset ids already, nothing added: {taken}"
            )
        return created(payload, f"{prefix}/lookup/shells/{aas_id}")

    @router.delete("/lookup/shells/{aas_id}")
    def delete_all_asset_links_by_id(aas_id: str) -> Response:
        ident = b64url_decode(aas_id)
        removed = services.delete_asset_links(ident)
        if removed == 0:
            if own_links(ident) is not None:
                raise ApiError(
                    409,
                    f"shell {ident!r} is werk's own and has no posted asset links; the links discovery derives from "
                    f"its asset information change with it ({prefix}/shells/{aas_id}/asset-information)",
                )
            raise ApiError(404, f"no asset links for shell {ident!r}")
        return no_content()

    return router
