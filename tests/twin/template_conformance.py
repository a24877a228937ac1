"""Compare a werk submodel with an official IDTA submodel template: every element werk builds exists in the template
at the same place, with the template's idShort, modelType, semanticId and valueType."""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model

from tests.conftest import shared_data
from werk.aas.adapter import io as aas_io


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


def assert_conforms(ours: model.Submodel, official: dict[str, Any]) -> list[str]:
    """Assert ``ours`` is a subset of the template ``official`` (a submodel's JSON); returns the paths checked."""
    checked: list[str] = []

    def walk(mine: dict[str, Any], theirs: dict[str, Any], path: str) -> None:
        assert mine.get("modelType") == theirs.get("modelType"), path
        assert semantic(mine) == semantic(theirs), f"{path}: {semantic(mine)} != {semantic(theirs)}"
        for attr in ("valueType", "typeValueListElement", "valueTypeListElement"):
            if attr in theirs:
                assert mine.get(attr) == theirs[attr], f"{path}: {attr}"
        if "semanticIdListElement" in theirs:
            assert semantic({"semanticId": mine.get("semanticIdListElement")}) == semantic(
                {"semanticId": theirs["semanticIdListElement"]}
            ), path
        checked.append(path)
        is_list = mine.get("modelType") == "SubmodelElementList"
        template_children = _children(theirs)
        for i, child in enumerate(_children(mine)):
            if is_list:
                assert "idShort" not in child, f"{path}[{i}]: list items have no idShort (AASd-120)"
                walk(child, template_children[0], f"{path}[{i}]")
            else:
                match = [t for t in template_children if t.get("idShort") == child["idShort"]]
                assert match, f"{path}.{child['idShort']} is not in the template"
                walk(child, match[0], f"{path}.{child['idShort']}" if path else child["idShort"])

    mine = aas_io.to_jsonable(ours)
    assert semantic(mine) == semantic(official)
    for child in _children(mine):
        match = [t for t in _children(official) if t.get("idShort") == child["idShort"]]
        assert match, f"{child['idShort']} is not in the template"
        walk(child, match[0], child["idShort"])
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
