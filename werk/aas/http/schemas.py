"""The AAS API's request and response bodies in its OpenAPI document, by name: what IDTA-01002-3-0 (Part 2) and
Part 1's JSON schema call them (AssetAdministrationShell, Submodel, SubmodelElement, Reference, Result, ...).

The routes read and write these objects through basyx and aas-core, which check them against the full Part 1
schema, so FastAPI knows none of them and would document every body as ``{}``. Here each route gets a named object
schema for its bodies and answers: the attributes Part 1 requires and their JSON types, more allowed (the full
checks are aas-core's). Every error, 4xx and 5xx alike, is a ``Result``, so a schema-driven client (a code
generator, schemathesis) finds what the server answers; FastAPI's own 422 is never answered here (a malformed
request is a 400 Result) and is not declared.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Response
from fastapi.routing import APIRoute

_STRING = {"type": "string"}
_LANG_STRINGS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["language", "text"],
        "properties": {"language": _STRING, "text": _STRING},
    },
}
_KEYS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["type", "value"],
        "properties": {"type": _STRING, "value": _STRING},
    },
}


def _object(title: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {"title": title, "type": "object", "required": required, "properties": properties}


REFERENCE = _object(
    "Reference", ["type", "keys"], type={"enum": ["ExternalReference", "ModelReference"]}, keys=_KEYS
)
SPECIFIC_ASSET_ID = _object("SpecificAssetId", ["name", "value"], name=_STRING, value=_STRING)
ASSET_INFORMATION = _object(
    "AssetInformation",
    ["assetKind"],
    assetKind={"enum": ["Instance", "Type", "Role", "NotApplicable"]},
    globalAssetId=_STRING,
    specificAssetIds={"type": "array", "items": SPECIFIC_ASSET_ID},
)
_REFERABLE = {"idShort": _STRING, "displayName": _LANG_STRINGS, "description": _LANG_STRINGS}


def _identifiable(kind: str, *required: str, **properties: Any) -> dict[str, Any]:
    """An Identifiable of ``kind``: its modelType, id and Referable's attributes, and ``properties``."""
    return _object(
        kind,
        ["modelType", "id", *required],
        modelType={"const": kind},
        id=_STRING,
        **_REFERABLE,
        **properties,
    )


SHELL = _identifiable(
    "AssetAdministrationShell",
    "assetInformation",
    assetInformation=ASSET_INFORMATION,
    submodels={"type": "array", "items": REFERENCE},
)
SUBMODEL_ELEMENT = _object(
    "SubmodelElement",
    ["modelType"],
    modelType={
        "enum": [
            "AnnotatedRelationshipElement",
            "BasicEventElement",
            "Blob",
            "Capability",
            "Entity",
            "File",
            "MultiLanguageProperty",
            "Operation",
            "Property",
            "Range",
            "ReferenceElement",
            "RelationshipElement",
            "SubmodelElementCollection",
            "SubmodelElementList",
        ]
    },
    semanticId=REFERENCE,
    **_REFERABLE,
)
SUBMODEL = _identifiable(
    "Submodel", semanticId=REFERENCE, submodelElements={"type": "array", "items": SUBMODEL_ELEMENT}
)
CONCEPT_DESCRIPTION = _identifiable("ConceptDescription")
ENDPOINT = _object(
    "Endpoint",
    ["interface", "protocolInformation"],
    interface=_STRING,
    protocolInformation=_object("ProtocolInformation", ["href"], href=_STRING),
)
SUBMODEL_DESCRIPTOR = _object(
    "SubmodelDescriptor",
    ["id", "endpoints"],
    id=_STRING,
    idShort=_STRING,
    semanticId=REFERENCE,
    endpoints={"type": "array", "items": ENDPOINT},
)
SHELL_DESCRIPTOR = _object(
    "AssetAdministrationShellDescriptor",
    ["id"],
    id=_STRING,
    idShort=_STRING,
    assetKind={"enum": ["Instance", "Type", "Role", "NotApplicable"]},
    globalAssetId=_STRING,
    endpoints={"type": "array", "items": ENDPOINT},
    submodelDescriptors={"type": "array", "items": SUBMODEL_DESCRIPTOR},
)
PACKAGE_DESCRIPTION = _object(
    "PackageDescription",
    ["packageId", "aasIds"],
    packageId=_STRING,
    aasIds={"type": "array", "items": _STRING},
)
SERVICE_DESCRIPTION = _object(
    "ServiceDescription", ["profiles"], profiles={"type": "array", "items": _STRING}
)
ENVIRONMENT = _object(
    "Environment",
    [],
    assetAdministrationShells={"type": "array", "items": SHELL},
    submodels={"type": "array", "items": SUBMODEL},
    conceptDescriptions={"type": "array", "items": CONCEPT_DESCRIPTION},
)
IMPORT_REPORT = _object(
    "ImportReport",
    ["counts", "loaded", "elements", "warnings"],
    counts={"type": "object"},
    loaded={"type": "object"},
    elements={"type": "integer"},
    warnings={"type": "array", "items": _STRING},
)
VALUE_ONLY: dict[str, Any] = {
    "title": "ValueOnly",
    "description": "Part 2 ValueOnly serialization (any JSON)",
}
PATH_LIST = {"title": "IdShortPaths", "type": "array", "items": _STRING}
RESULT = _object(
    "Result",
    ["messages"],
    messages={
        "type": "array",
        "items": _object(
            "Message",
            ["code", "messageType", "text", "timestamp"],
            code=_STRING,
            messageType={"enum": ["Undefined", "Info", "Warning", "Error", "Exception"]},
            text=_STRING,
            timestamp=_STRING,
        ),
    },
)


def paged(item: dict[str, Any]) -> dict[str, Any]:
    """Part 2's paged result of ``item``s."""
    return _object(
        f"PagedResult of {item.get('title', 'items')}",
        ["paging_metadata", "result"],
        paging_metadata=_object("PagedResultPagingMetadata", [], cursor=_STRING),
        result={"type": "array", "items": item},
    )


_ID = r"/\{[a-z_]+\}"
_SM = rf"(/shells{_ID})?/submodels{_ID}"
_EL = rf"{_SM}/submodel-elements{_ID}"
# (path pattern below the prefix, what one object there is); the first that matches names the route's bodies
_KINDS: list[tuple[str, dict[str, Any]]] = [
    (r"/description", SERVICE_DESCRIPTION),
    (r"/serialization", ENVIRONMENT),
    (r"/werk/import", ENVIRONMENT),
    (r"/shells/\$reference", REFERENCE),
    (rf"/shells({_ID})?(/\$reference)?", SHELL),
    (rf"/shells{_ID}/\$reference", REFERENCE),
    (rf"/shells{_ID}/asset-information", ASSET_INFORMATION),
    (rf"/shells{_ID}/submodel-refs({_ID})?", REFERENCE),
    (r"/submodels/\$reference", REFERENCE),
    (r"/submodels/\$value", VALUE_ONLY),
    (r"/submodels/\$path", _STRING),
    (rf"({_SM}|/submodels)(/submodel-elements)?(/\$reference)", REFERENCE),
    (rf"({_SM}|{_EL}|{_SM}/submodel-elements)/\$value", VALUE_ONLY),
    (rf"{_SM}/submodel-elements/\$path", _STRING),
    (rf"({_SM}|{_EL})/\$path", PATH_LIST),
    (rf"{_EL}/\$reference", REFERENCE),
    (rf"({_EL}|{_SM}/submodel-elements)(/\$metadata)?", SUBMODEL_ELEMENT),
    (rf"(/submodels|{_SM})(/\$metadata)?", SUBMODEL),
    (rf"/concept-descriptions({_ID})?", CONCEPT_DESCRIPTION),
    (rf"/shell-descriptors({_ID})?", SHELL_DESCRIPTOR),
    (rf"(/shell-descriptors{_ID})?/submodel-descriptors({_ID})?", SUBMODEL_DESCRIPTOR),
    (r"/lookup/shells", _STRING),
    (rf"/lookup/shells{_ID}", {"title": "SpecificAssetIds", "type": "array", "items": SPECIFIC_ASSET_ID}),
    (rf"/packages({_ID})?", PACKAGE_DESCRIPTION),
]
# the routes that answer a page of what their path names
_PAGED = re.compile(
    rf"/shells(/\$reference)?|/shells{_ID}/submodel-refs|/submodels(/\$(metadata|value|reference|path))?"
    rf"|{_SM}/submodel-elements(/\$(metadata|value|reference|path))?|/concept-descriptions|/shell-descriptors"
    rf"|/shell-descriptors{_ID}/submodel-descriptors|/submodel-descriptors|/lookup/shells|/packages"
)
_FILES = re.compile(rf"{_EL}/attachment|/packages{_ID}|/shells{_ID}/asset-information/thumbnail")
_UPLOAD = _object(
    "FileUpload", ["file"], file={"type": "string", "format": "binary"}, fileName=_STRING, aasIds=_STRING
)
_BINARY = {"type": "string", "format": "binary"}


def _kind(path: str) -> dict[str, Any] | None:
    for pattern, kind in _KINDS:
        if re.fullmatch(pattern, path):
            return kind
    return None


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def declare_schemas(router: APIRouter) -> None:
    """Name the bodies of every route of ``router`` in the OpenAPI document (the module docstring says how). Only
    the document changes: the routes answer as before."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path.removeprefix(router.prefix)
        method = next(iter(route.methods or {"GET"}))
        kind = _kind(path)
        responses: dict[int | str, dict[str, Any]] = {
            "4XX": {"description": "A Part 2 Result naming what is wrong with the request", **_json(RESULT)},
            "5XX": {"description": "A Part 2 Result: the server failed (see its log)", **_json(RESULT)},
        }
        extra = dict(route.openapi_extra or {})
        files = _FILES.fullmatch(path) is not None or path == "/packages"
        if files and method in ("POST", "PUT"):
            extra["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _UPLOAD}}}
        elif kind is not None and method in ("POST", "PUT", "PATCH"):
            extra["requestBody"] = {"required": True, **_json(kind)}
        if method == "GET" and files and path != "/packages":
            route.response_class = Response  # in the document only: not JSON (the handler answers as it did)
            responses[200] = {
                "description": "The file",
                "content": {"application/octet-stream": {"schema": _BINARY}},
            }
        elif method == "GET" and kind is not None:
            responses[200] = _json(paged(kind) if _PAGED.fullmatch(path) else kind)
        elif method == "POST":
            route.status_code = 201
            created = IMPORT_REPORT if path == "/werk/import" else kind or {}
            responses[201] = {"description": "Created", **_json(created)}
        elif method in ("PUT", "PATCH", "DELETE"):
            route.status_code = 204
        route.responses = {**route.responses, **responses}
        route.openapi_extra = extra
