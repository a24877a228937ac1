"""Descriptors and asset links of the AAS registry and discovery services (IDTA-01002-3-0 Part 2).

Two jobs, both pure:

- **derive** the AssetAdministrationShellDescriptor, SubmodelDescriptor and asset links of werk's own shells and
  submodels from the basyx objects, with endpoints (interface ``AAS-3.0`` / ``SUBMODEL-3.0``) that point at this
  server's repository, so a registry client finds werk's twins without anyone registering them;
- **check** descriptors and SpecificAssetIds that clients send, against the Part 2 API schemas
  (``AssetAdministrationShellDescriptor``, ``SubmodelDescriptor``, ``Endpoint``, ``ProtocolInformation``), with the
  Part 1 types inside them (AdministrativeInformation, LangStrings, Extension, SpecificAssetId, Reference) checked by
  aas-core, as every other body werk accepts. Unknown attributes are findings: the schemas define every attribute a
  descriptor has, and a misspelt one silently dropped is an endpoint nobody can find later.

Descriptors are kept as their JSON (a registry stores what it was given; basyx-python-sdk has no descriptor classes).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from typing import Any

import aas_core3.jsonization as j30
import aas_core3.verification as v30
import aas_core3_1.jsonization as j31
import aas_core3_1.verification as v31
from basyx.aas import model

from werk.aas.adapter.io import Metamodel, to_jsonable

INTERFACE_AAS = "AAS-3.0"
INTERFACE_SUBMODEL = "SUBMODEL-3.0"
GLOBAL_ASSET_ID = "globalAssetId"
"""The name under which discovery lists a shell's globalAssetId (Part 2, Discovery: an asset link like any other)."""

_XML_CHARS = re.compile("^[\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")
_DESCRIPTOR_KEYS = ("description", "displayName", "extensions", "administration", "idShort", "id")
_SHELL_KEYS = frozenset(
    [
        *_DESCRIPTOR_KEYS,
        "assetKind",
        "assetType",
        "endpoints",
        "globalAssetId",
        "specificAssetIds",
        "submodelDescriptors",
    ]
)
_SUBMODEL_KEYS = frozenset([*_DESCRIPTOR_KEYS, "endpoints", "semanticId", "supplementalSemanticId"])
_PROTOCOL_KEYS = frozenset(
    [
        "href",
        "endpointProtocol",
        "endpointProtocolVersion",
        "subprotocol",
        "subprotocolBody",
        "subprotocolBodyEncoding",
        "securityAttributes",
    ]
)
_SECURITY_TYPES = frozenset(["NONE", "RFC_TLSA", "W3C_DID"])


# --- derived from werk's own objects ------------------------------------------------------------------------------


def b64url(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def endpoint(interface: str, href: str) -> dict[str, Any]:
    """An Endpoint over plain HTTP/1.1 (the scheme of ``href`` names the protocol)."""
    scheme = href.split(":", 1)[0].upper()
    return {
        "interface": interface,
        "protocolInformation": {"href": href, "endpointProtocol": scheme, "endpointProtocolVersion": ["1.1"]},
    }


def _common(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in _DESCRIPTOR_KEYS if k in data}


def submodel_descriptor(submodel: model.Submodel, api_base: str) -> dict[str, Any]:
    """The SubmodelDescriptor of a submodel werk serves at ``{api_base}/submodels/{id}``."""
    data = to_jsonable(submodel)
    out = _common(data)
    for key in ("semanticId", "supplementalSemanticId"):
        if key in data:
            out[key] = data[key]
    out["endpoints"] = [endpoint(INTERFACE_SUBMODEL, f"{api_base}/submodels/{b64url(submodel.id)}")]
    return out


def shell_descriptor(
    shell: model.AssetAdministrationShell,
    api_base: str,
    submodel: Callable[[str], dict[str, Any] | None],
) -> dict[str, Any]:
    """The AssetAdministrationShellDescriptor of a shell werk serves at ``{api_base}/shells/{id}``, with the
    descriptor ``submodel(id)`` of each submodel it refers to that werk holds (a reference to a submodel werk does
    not hold has no endpoint to describe)."""
    data = to_jsonable(shell)
    out = _common(data)
    info = data.get("assetInformation", {})
    for key in ("assetKind", "assetType", "globalAssetId", "specificAssetIds"):
        if key in info:
            out[key] = info[key]
    out["endpoints"] = [endpoint(INTERFACE_AAS, f"{api_base}/shells/{b64url(shell.id)}")]
    subs = [d for d in (submodel(submodel_id(r)) for r in shell.submodel) if d is not None]
    if subs:
        out["submodelDescriptors"] = sorted(subs, key=lambda d: str(d["id"]))
    return out


def submodel_id(ref: model.Reference) -> str:
    return str(ref.key[0].value) if ref.key else ""


def asset_links(shell: model.AssetAdministrationShell) -> list[dict[str, Any]]:
    """The SpecificAssetIds discovery finds a shell by: its globalAssetId (named ``globalAssetId``) and its
    specificAssetIds."""
    info = shell.asset_information
    links: list[dict[str, Any]] = []
    if info.global_asset_id:
        links.append({"name": GLOBAL_ASSET_ID, "value": info.global_asset_id})
    links += [to_jsonable(a) for a in info.specific_asset_id]
    return links


def link_key(link: dict[str, Any]) -> tuple[str, str]:
    """What makes two asset links the same for discovery: name and value (externalSubjectId only qualifies)."""
    return str(link["name"]), str(link["value"])


# --- checks of what clients send ----------------------------------------------------------------------------------


def check_shell_descriptor(data: Any, metamodel: Metamodel = "3.0") -> list[str]:
    """Findings against the Part 2 schema AssetAdministrationShellDescriptor; empty when valid."""
    c = _Checker(metamodel)
    if c.mapping(data, "", _SHELL_KEYS, required=("id",)):
        c.descriptor(data, "")
        c.enum(data, "assetKind", "", lambda v: c.j.asset_kind_from_jsonable(v))
        for key in ("assetType", "globalAssetId"):
            c.text(data, key, "", 2000, min_length=1)
        c.part1_list(data, "specificAssetIds", "", "specific_asset_id")
        c.endpoints(data, "")
        subs = data.get("submodelDescriptors")
        if subs is not None and c.array(subs, ".submodelDescriptors"):
            seen: set[str] = set()
            for i, sub in enumerate(subs):
                where = f".submodelDescriptors[{i}]"
                c.submodel(sub, where)
                if isinstance(sub, dict) and isinstance(sub.get("id"), str):
                    if sub["id"] in seen:
                        c.problems.append(f"{where}.id: {sub['id']!r} appears twice in this descriptor")
                    seen.add(sub["id"])
    return c.problems


def check_submodel_descriptor(data: Any, metamodel: Metamodel = "3.0") -> list[str]:
    """Findings against the Part 2 schema SubmodelDescriptor; empty when valid."""
    c = _Checker(metamodel)
    c.submodel(data, "")
    return c.problems


def check_specific_asset_ids(data: Any, metamodel: Metamodel = "3.0") -> list[str]:
    """Findings for a JSON array of Part 1 SpecificAssetIds (the body of PostAllAssetLinksById)."""
    c = _Checker(metamodel)
    if not isinstance(data, list) or not data:
        return ["the body must be a non-empty JSON array of SpecificAssetId objects"]
    for i, item in enumerate(data):
        c.part1(item, f"[{i}]", "specific_asset_id")
    return c.problems


def check_specific_asset_id(data: Any, metamodel: Metamodel = "3.0") -> list[str]:
    c = _Checker(metamodel)
    c.part1(data, "", "specific_asset_id")
    return c.problems


class _Checker:
    """Collects findings as ``path: cause`` (the form aas-core uses), so a client can fix a body in one pass."""

    def __init__(self, metamodel: Metamodel) -> None:
        self.metamodel = metamodel
        self.j: Any = j30 if metamodel == "3.0" else j31
        self.v: Any = v30 if metamodel == "3.0" else v31
        self.problems: list[str] = []

    def mapping(self, data: Any, where: str, allowed: Iterable[str], required: Iterable[str] = ()) -> bool:
        if not isinstance(data, dict):
            self.problems.append(f"{where or '.'}: expected a JSON object, got {type(data).__name__}")
            return False
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            self.problems.append(f"{where or '.'}: unknown attributes {unknown}")
        for key in required:
            if key not in data:
                self.problems.append(f"{where}.{key}: required")
        return True

    def array(self, data: Any, where: str, min_items: int = 0) -> bool:
        if not isinstance(data, list):
            self.problems.append(f"{where}: expected a JSON array, got {type(data).__name__}")
            return False
        if len(data) < min_items:
            self.problems.append(f"{where}: needs at least {min_items} item(s)")
            return False
        return True

    def text(self, data: dict[str, Any], key: str, where: str, max_length: int, min_length: int = 0) -> None:
        if key in data:
            self.string(data[key], f"{where}.{key}", max_length, min_length)

    def string(self, value: Any, at: str, max_length: int, min_length: int = 0) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{at}: expected a string, got {type(value).__name__}")
        elif not min_length <= len(value) <= max_length:
            self.problems.append(f"{at}: length {len(value)} is outside {min_length}..{max_length}")
        elif not _XML_CHARS.match(value):
            self.problems.append(f"{at}: contains characters XML cannot carry")

    def enum(self, data: dict[str, Any], key: str, where: str, parse: Callable[[Any], object]) -> None:
        if key not in data:
            return
        try:
            parse(data[key])
        except self.j.DeserializationException as exc:
            self.problems.append(f"{where}.{key}: {exc.cause}")

    def part1(self, data: Any, where: str, kind: str) -> None:
        """One Part 1 object (``kind`` as aas-core names its reader), checked by aas-core."""
        reader = getattr(self.j, f"{kind}_from_jsonable")
        try:
            obj = reader(data)
        except self.j.DeserializationException as exc:
            self.problems.append(f"{where}{exc.path}: {exc.cause}")
            return
        self.problems += [f"{where}{e.path}: {e.cause}" for e in self.v.verify(obj)]

    def part1_list(self, data: dict[str, Any], key: str, where: str, kind: str, min_items: int = 1) -> None:
        if key not in data:
            return
        at = f"{where}.{key}"
        if self.array(data[key], at, min_items):
            for i, item in enumerate(data[key]):
                self.part1(item, f"{at}[{i}]", kind)

    def descriptor(self, data: dict[str, Any], where: str) -> None:
        """The attributes every descriptor has (Part 2 schema Descriptor, plus id, idShort, administration)."""
        self.text(data, "id", where, 2000, min_length=1)
        self.text(data, "idShort", where, 128)
        self.part1_list(data, "description", where, "lang_string_text_type")
        self.part1_list(data, "displayName", where, "lang_string_name_type")
        self.part1_list(data, "extensions", where, "extension")
        if "administration" in data:
            self.part1(data["administration"], f"{where}.administration", "administrative_information")
        for key in ("description", "displayName"):
            items = data.get(key)
            if isinstance(items, list):
                langs = [i.get("language") for i in items if isinstance(i, dict)]
                if len(langs) != len(set(langs)):
                    self.problems.append(f"{where}.{key}: a language appears more than once")

    def submodel(self, data: Any, where: str) -> None:
        if not self.mapping(data, where, _SUBMODEL_KEYS, required=("id", "endpoints")):
            return
        self.descriptor(data, where)
        if "semanticId" in data:
            self.part1(data["semanticId"], f"{where}.semanticId", "reference")
        self.part1_list(data, "supplementalSemanticId", where, "reference")
        self.endpoints(data, where)

    def endpoints(self, data: dict[str, Any], where: str) -> None:
        """Required of submodel descriptors only; :meth:`mapping` reports a missing one."""
        if "endpoints" not in data:
            return
        at = f"{where}.endpoints"
        if not self.array(data["endpoints"], at, min_items=1):
            return
        for i, ep in enumerate(data["endpoints"]):
            here = f"{at}[{i}]"
            if not self.mapping(
                ep, here, ("interface", "protocolInformation"), ("interface", "protocolInformation")
            ):
                continue
            self.text(ep, "interface", here, 128, min_length=1)
            info = ep.get("protocolInformation")
            pi = f"{here}.protocolInformation"
            if "protocolInformation" not in ep or not self.mapping(info, pi, _PROTOCOL_KEYS, ("href",)):
                continue
            self.text(info, "href", pi, 2048, min_length=1)
            for key in ("endpointProtocol", "subprotocol", "subprotocolBody", "subprotocolBodyEncoding"):
                self.text(info, key, pi, 128)
            versions = info.get("endpointProtocolVersion")
            if versions is not None and self.array(versions, f"{pi}.endpointProtocolVersion"):
                for n, version in enumerate(versions):
                    self.string(version, f"{pi}.endpointProtocolVersion[{n}]", 128)
            attrs = info.get("securityAttributes")
            if attrs is not None and self.array(attrs, f"{pi}.securityAttributes", min_items=1):
                for n, attr in enumerate(attrs):
                    sa = f"{pi}.securityAttributes[{n}]"
                    if self.mapping(attr, sa, ("type", "key", "value"), ("type", "key", "value")):
                        if attr.get("type") not in _SECURITY_TYPES:
                            self.problems.append(f"{sa}.type: must be one of {sorted(_SECURITY_TYPES)}")
                        for key in ("key", "value"):
                            if key in attr and not isinstance(attr[key], str):
                                self.problems.append(f"{sa}.{key}: expected a string")
