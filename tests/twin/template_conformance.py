"""Compare a werk submodel with the official IDTA submodel template it claims by its semanticId: every element the
template requires (cardinality One or OneToMany, qualifier ``SMT/Cardinality``) is there; every element werk
builds exists in the template at the same place, with the template's idShort, modelType, semanticId and valueType.

Where a template leaves the content open, werk's is not matched element by element: a drop-in collection
(supplementalSemanticId ``smt-dropin-use``: its content is another template's), a collection of ``Arbitrary...``
elements, and a time series Record, whose variables are the user's (the template shows ``sample...`` ones) and
whose time may be any of IDTA 02008's. An element the template allows many of (ZeroToMany, OneToMany) is matched by
its semanticId, as each instance has an idShort of its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from basyx.aas import model

from tests.conftest import shared_data
from werk.aas.adapter import io as aas_io

TEMPLATES = {
    "https://admin-shell.io/idta/nameplate/3/0/Nameplate": "IDTA_02006-3-0-1_Template_Digital_Nameplate.json",
    "0173-1#01-AHX837#002": "IDTA_02003_2-0-1_Template_TechnicalData.json",
    "https://admin-shell.io/idta/TimeSeries/1/1": "IDTA_02008-1-1-1_Template_TimeSeriesData.json",
    "https://admin-shell.io/idta/CarbonFootprint/CarbonFootprint/1/0": "IDTA_02023-1-0-1_Template_CarbonFootprint.json",
    "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0": "IDTA_02048_Template_PredictiveMaintenance.json",
}
"""The template file of each semanticId werk's submodels claim (from ../shared/data/aas/templates)."""

# IDTA 02008-1-1's kinds of time in a Record, and their valueTypes
_TIMES = {
    "https://admin-shell.io/idta/TimeSeries/UtcTime/1/1": "xs:dateTime",
    "https://admin-shell.io/idta/TimeSeries/TaiTime/1/1": "xs:dateTime",
    "https://admin-shell.io/idta/TimeSeries/RelativePointInTime/1/1": "xs:long",
    "https://admin-shell.io/idta/TimeSeries/RelativeTimeDuration/1/1": "xs:long",
}
_DROP_IN = "https://admin-shell.io/smt-dropin/smt-dropin-use/1/0"
_REQUIRED = ("One", "OneToMany")


def template(file_name: str) -> dict[str, Any]:
    """The template file's JSON (from ../shared/data/aas/templates)."""
    data: dict[str, Any] = json.loads(shared_data("aas", "templates", file_name).read_text())
    return data


def semantic(element: dict[str, Any]) -> str | None:
    keys = (element.get("semanticId") or {}).get("keys") or [{}]
    value = keys[0].get("value")
    return str(value) if value is not None else None


def _children(element: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("submodelElements", "statements"):
        if key in element:
            return list(element[key])
    value = element.get("value")
    if element.get("modelType") in ("SubmodelElementCollection", "SubmodelElementList") and isinstance(
        value, list
    ):
        return value
    return []


def _qualifier(element: dict[str, Any], name: str) -> list[str]:
    return [
        str(q.get("value")) for q in element.get("qualifiers", []) if str(q.get("type", "")).endswith(name)
    ]


def _cardinality(element: dict[str, Any]) -> str:
    found = _qualifier(element, "Cardinality")
    return found[0] if found else "One"


def _names(element: dict[str, Any]) -> re.Pattern[str]:
    """The idShorts a template element stands for: its own, or those its AllowedIdShort pattern allows."""
    allowed = _qualifier(element, "AllowedIdShort")
    base = re.escape(str(element.get("idShort")))
    return re.compile(base + "|" + "|".join(allowed) if allowed else base)


def _open(element: dict[str, Any]) -> bool:
    supplemental = [semantic({"semanticId": s}) for s in element.get("supplementalSemanticIds", [])]
    return _DROP_IN in supplemental or any(
        str(c.get("idShort", "")).startswith(("sample", "Arbitrary")) for c in _children(element)
    )


def problems(mine: dict[str, Any], theirs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, paths checked) of the submodel ``mine`` against the template submodel ``theirs`` (JSON)."""
    found: list[str] = []
    checked: list[str] = []
    if semantic(mine) != semantic(theirs):
        found.append(f"semanticId {semantic(mine)} != {semantic(theirs)}")

    def time(el: dict[str, Any], path: str) -> None:
        kind = _TIMES.get(semantic(el) or "")
        if kind is None:
            found.append(f"{path}: {semantic(el)} is not a time of IDTA 02008")
        elif el.get("valueType") != kind:
            found.append(f"{path}: valueType {el.get('valueType')} != {kind}")

    def element(el: dict[str, Any], template_el: dict[str, Any], path: str) -> None:
        checked.append(path)
        if el.get("modelType") != template_el.get("modelType"):
            found.append(f"{path}: modelType {el.get('modelType')} != {template_el.get('modelType')}")
            return
        if semantic(template_el) in _TIMES:
            time(el, path)
            return
        if semantic(el) != semantic(template_el):
            found.append(f"{path}: semanticId {semantic(el)} != {semantic(template_el)}")
        for attr in ("valueType", "typeValueListElement", "valueTypeListElement"):
            if attr in template_el and el.get(attr) != template_el[attr]:
                found.append(f"{path}: {attr} {el.get(attr)} != {template_el[attr]}")
        container(el, template_el, path)

    def container(el: dict[str, Any], template_el: dict[str, Any], path: str) -> None:
        ours, theirs_ = _children(el), _children(template_el)
        if el.get("modelType") == "SubmodelElementList":
            for i, item in enumerate(ours):
                element(item, theirs_[0], f"{path}[{i}]")
            return
        prefix = f"{path}." if path else ""
        for t in theirs_:
            names = _names(t)
            if _cardinality(t) in _REQUIRED and not any(names.fullmatch(str(c.get("idShort"))) for c in ours):
                found.append(
                    f"{prefix}{t.get('idShort')} is required by the template (cardinality {_cardinality(t)})"
                )
        for child in ours:
            child_path = f"{prefix}{child.get('idShort')}"
            match = [t for t in theirs_ if _names(t).fullmatch(str(child.get("idShort")))]
            # an element the template allows many of has an idShort of its own per instance: found by semanticId
            match = match or [
                t for t in theirs_ if _cardinality(t).endswith("ToMany") and semantic(t) == semantic(child)
            ]
            if match:
                element(child, match[0], child_path)
            elif _open(template_el):
                checked.append(child_path)
            else:
                found.append(f"{child_path} is not in the template")

    container(mine, theirs, "")
    return found, checked


def assert_conforms(ours: model.Submodel, official: dict[str, Any]) -> list[str]:
    """Assert ``ours`` conforms to the template ``official`` (a submodel's JSON); returns the paths checked."""
    found, checked = problems(aas_io.to_jsonable(ours), official)
    assert not found, found
    return checked


def value_list(official_file: dict[str, Any], concept_id: str) -> list[str]:
    """The allowed values of a concept description (IEC 61360 valueList) in a template file."""
    for cd in official_file["conceptDescriptions"]:
        if cd["id"] != concept_id:
            continue
        for spec in cd.get("embeddedDataSpecifications", []):
            pairs = (spec["dataSpecificationContent"].get("valueList") or {}).get("valueReferencePairs", [])
            if pairs:
                return [str(p["value"]) for p in pairs]
    return []
