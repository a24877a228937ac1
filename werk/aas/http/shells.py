"""The AAS repository: AssetAdministrationShellRepositoryServiceSpecification of IDTA-01002-3-0, SSP-001 (full)
and SSP-002 (read). Shells, their asset information, thumbnail and submodel references; the submodels under the
shell's superpath ``/shells/{aasIdentifier}/submodels/...`` are :mod:`werk.aas.http.submodels`' routes."""

from __future__ import annotations

import json

from basyx.aas import model
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from werk.aas.adapter import io as aas_io
from werk.aas.http import common

TAG = "AAS repository (IDTA-01002-3-0)"


def build_shell_router(repo: common.Repository, route: type[common.AasRoute]) -> APIRouter:
    router = common.resource_router(route, repo.prefix, TAG)
    store, cache, lock = repo.store, repo.cache, repo.store.lock

    def filtered(request: Request) -> list[model.AssetAdministrationShell]:
        q = request.query_params
        id_short = q.get("idShort")
        wanted: list[tuple[str, str]] = []
        for encoded in q.getlist("assetIds"):
            try:
                spec = json.loads(common.b64url_decode(encoded, "assetIds"))
                wanted.append((str(spec["name"]), str(spec["value"])))
            except (ValueError, KeyError, TypeError):
                raise common.ApiError(
                    400, "assetIds must be base64url-encoded JSON {'name': ..., 'value': ...}"
                ) from None
        out = []
        keep = repo.visible(request.scope)
        for s in store.all(model.AssetAdministrationShell):
            if (id_short is not None and s.id_short != id_short) or (keep is not None and not keep(s.id)):
                continue
            ids = {("globalAssetId", s.asset_information.global_asset_id or "")}
            ids |= {(a.name, a.value) for a in s.asset_information.specific_asset_id}
            if wanted and not all(w in ids for w in wanted):
                continue
            out.append(s)
        return out

    @router.get("/shells")
    async def get_all_shells(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> Response:
        if not request.scope["query_string"] and repo.visible(request.scope) is None:
            return await repo.read(lambda: common.json_answer(cache.all_shells_body()))
        return await repo.read(lambda: common.paged(filtered(request), limit, cursor, cache.jsonable))

    @router.get("/shells/$reference")
    def get_all_shells_reference(
        request: Request, limit: str | None = None, cursor: str | None = None
    ) -> JSONResponse:
        with lock:
            return common.paged(filtered(request), limit, cursor, common.identifiable_reference)

    common.identifiable_routes(
        router, repo, "/shells", "aas_id", model.AssetAdministrationShell, "AssetAdministrationShell"
    )

    @router.get("/shells/{aas_id}/$reference")
    def get_shell_reference(aas_id: str) -> JSONResponse:
        with lock:
            return JSONResponse(common.identifiable_reference(repo.shell_or_404(aas_id)))

    @router.get("/shells/{aas_id}/asset-information")
    def get_asset_information(aas_id: str) -> JSONResponse:
        with lock:
            return JSONResponse(aas_io.to_jsonable(repo.shell_or_404(aas_id).asset_information))

    @router.put("/shells/{aas_id}/asset-information")
    def put_asset_information(aas_id: str, payload: common.Body_) -> Response:
        info = repo.decode(payload, "AssetInformation")
        with lock:
            shell = repo.shell_or_404(aas_id)
            shell.asset_information = info
            store.changed(shell)
        return common.no_content()

    @router.get("/shells/{aas_id}/asset-information/thumbnail")
    def get_thumbnail(aas_id: str) -> Response:
        with lock:
            thumb = repo.shell_or_404(aas_id).asset_information.default_thumbnail
            if thumb is None or thumb.path not in store.files:
                raise common.ApiError(404, "this shell has no thumbnail in werk's file store")
            return Response(store.file_bytes(thumb.path), media_type=thumb.content_type)

    @router.get("/shells/{aas_id}/submodel-refs")
    def get_submodel_refs(aas_id: str, limit: str | None = None, cursor: str | None = None) -> JSONResponse:
        with lock:
            refs = sorted(repo.shell_or_404(aas_id).submodel, key=common.ref_value)
            return common.paged(refs, limit, cursor, aas_io.to_jsonable)

    @router.post("/shells/{aas_id}/submodel-refs")
    def post_submodel_ref(aas_id: str, payload: common.Body_) -> JSONResponse:
        ref = repo.decode(payload, "Reference")
        if not isinstance(ref, model.ModelReference) or ref.key[0].type is not model.KeyTypes.SUBMODEL:
            raise common.ApiError(
                400, "a submodel reference is a ModelReference whose first key is of type Submodel"
            )
        with lock:
            shell = repo.shell_or_404(aas_id)
            if any(common.ref_value(r) == common.ref_value(ref) for r in shell.submodel):
                raise common.ApiError(
                    409, f"shell {shell.id!r} refers to submodel {common.ref_value(ref)!r} already"
                )
            shell.submodel.add(ref)
            store.changed(shell)
            return common.created(aas_io.to_jsonable(ref), f"{repo.prefix}/shells/{aas_id}/submodel-refs")

    @router.delete("/shells/{aas_id}/submodel-refs/{submodel_id}")
    def delete_submodel_ref(aas_id: str, submodel_id: str) -> Response:
        ident = common.b64url_decode(submodel_id)
        with lock:
            shell = repo.shell_or_404(aas_id)
            refs = [r for r in shell.submodel if common.ref_value(r) == ident]
            if not refs:
                raise common.ApiError(404, f"shell {shell.id!r} has no reference to submodel {ident!r}")
            for r in refs:
                shell.submodel.discard(r)
            store.changed(shell)
        return common.no_content()

    return router
