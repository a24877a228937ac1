"""Import and export: every official template with counts checked independently, strict refusal, round trips."""

from __future__ import annotations

import json
import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import SHARED_DATA, shared_data
from werk.aas.adapter import io as aas_io
from werk.config import demo_config_path, load_config
from werk.errors import AasError
from werk.twin.environment import build_environment

LISTS = ("assetAdministrationShells", "submodels", "conceptDescriptions")
TEMPLATES = sorted((SHARED_DATA / "aas" / "templates").glob("*")) if (SHARED_DATA / "aas").exists() else []
# IDTA_02048 holds one concept description twice with different content; see test_duplicate_identifier_*
DUPLICATE_ID_TEMPLATE = "IDTA_02048_Template_PredictiveMaintenance.json"


def _count_json(path: Path) -> tuple[dict[str, int], int]:
    """Per-list counts and the number of objects with a modelType, by plain json (independent of the readers)."""
    data = json.loads(path.read_text(encoding="utf-8-sig"))

    def model_objects(x: object) -> int:
        if isinstance(x, dict):
            return int("modelType" in x) + sum(model_objects(v) for v in x.values())
        if isinstance(x, list):
            return sum(model_objects(v) for v in x)
        return 0

    return {k: len(data.get(k, [])) for k in LISTS}, model_objects(data)


def _count_aasx(path: Path) -> tuple[dict[str, int], int]:
    """Per-list counts summed over the package's .aas.xml parts, and the number of parts under aasx/files/."""
    counts = dict.fromkeys(LISTS, 0)
    with zipfile.ZipFile(path) as z:
        files = sum(1 for n in z.namelist() if n.startswith("aasx/files/") and not n.endswith("/"))
        for name in z.namelist():
            if name.endswith(".aas.xml"):
                root = ET.fromstring(z.read(name))
                for key in LISTS:
                    lst = next((c for c in root if c.tag.endswith("}" + key)), None)
                    counts[key] += 0 if lst is None else len(lst)
    return counts, files


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_every_official_template_imports_with_the_right_counts(path: Path) -> None:
    duplicates: aas_io.Duplicates = "keep-first" if path.name == DUPLICATE_ID_TEMPLATE else "refuse"
    loaded = aas_io.read_file(path, duplicates=duplicates)
    report = loaded.report
    if path.suffix == ".json":
        counts, model_objects = _count_json(path)
        assert report.counts == counts
        if duplicates == "refuse":
            assert report.loaded == counts
            assert report.elements == model_objects
    else:
        counts, files = _count_aasx(path)
        assert report.counts == counts
        assert report.loaded == counts
        assert report.supplementary_files == files
    assert report.metamodel == ("3.1" if "MetamodelV3.1" in path.name else "3.0")
    # and what was loaded can be written and read back unchanged, in the template's own metamodel
    again = aas_io.read_json(
        aas_io.write_json(loaded.objects, metamodel=report.metamodel), metamodel=report.metamodel
    )  # type: ignore[arg-type]
    assert again.report.loaded == report.loaded
    assert again.report.elements == report.elements


def test_duplicate_identifier_with_different_content_is_refused_unless_asked() -> None:
    path = shared_data("aas", "templates", DUPLICATE_ID_TEMPLATE)
    with pytest.raises(AasError) as err:
        aas_io.read_file(path)
    assert "RULCondition" in str(err.value) and "duplicates='keep-first'" in str(err.value)
    loaded = aas_io.read_file(path, duplicates="keep-first")
    counts, _ = _count_json(path)
    assert loaded.report.loaded["conceptDescriptions"] == counts["conceptDescriptions"] - 1
    assert any("kept the first" in w for w in loaded.report.warnings)


def test_duplicate_languages_in_templates_are_joined_and_reported() -> None:
    loaded = aas_io.read_file(
        shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json")
    )
    # six descriptions with three English texts each: two joins per place
    assert len(loaded.report.warnings) == 12
    assert len({w.split(":")[0] for w in loaded.report.warnings}) == 6
    assert all("language 'en' repeated" in w for w in loaded.report.warnings)
    text = json.dumps(json.loads(aas_io.write_json(loaded.objects)))
    assert "Note: Every property can be used.\\nNote: The idShort is arbitrary" in text


def _env() -> dict[str, object]:
    return {
        "submodels": [
            {
                "modelType": "Submodel",
                "id": "urn:test:sm",
                "submodelElements": [
                    {"modelType": "Property", "idShort": "ok", "valueType": "xs:int", "value": "1"},
                    {
                        "modelType": "SubmodelElementCollection",
                        "idShort": "deep",
                        "value": [
                            {"modelType": "Property", "idShort": "bad", "valueType": "xs:int", "value": "x"}
                        ],
                    },
                ],
            }
        ]
    }


def test_an_invalid_nested_element_refuses_the_whole_document_with_its_path() -> None:
    with pytest.raises(AasError) as err:
        aas_io.read_json(json.dumps(_env()), source="plant.json")
    assert "plant.json" in str(err.value) and "nothing was loaded" in str(err.value)
    assert any("submodel_elements[1].value[0]" in p for p in err.value.problems)


def test_unknown_model_type_nested_is_refused_not_skipped() -> None:
    # basyx's failsafe reader logs and drops such an element; werk refuses the file
    env = _env()
    sm = env["submodels"][0]  # type: ignore[index]
    sm["submodelElements"][1]["value"][0] = {"modelType": "Gizmo", "idShort": "g"}
    with pytest.raises(AasError):
        aas_io.read_json(json.dumps(env))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not a JSON document"),
        (b"[]", "is a JSON object"),
        (b'{"submodels": [], "extra": 1}', "invalid AAS"),
    ],
)
def test_malformed_json_is_refused_with_a_message(data: bytes, message: str) -> None:
    with pytest.raises(AasError, match=message):
        aas_io.read_json(data)


def test_malformed_xml_and_aasx_are_refused() -> None:
    with pytest.raises(AasError, match="not an XML document"):
        aas_io.read_xml(b"<environment")
    with pytest.raises(AasError, match="not an AAS environment"):
        aas_io.read_xml(b"<html/>")
    with pytest.raises(AasError, match="not an AASX package"):
        aas_io.read_aasx(b"PK nonsense")


@pytest.mark.parametrize("metamodel", ["3.0", "3.1"])
def test_demo_environment_round_trips_through_json_xml_and_aasx(metamodel: aas_io.Metamodel) -> None:
    store = build_environment(load_config(demo_config_path()))
    reference = aas_io.write_json(store, metamodel=metamodel)
    xml = aas_io.write_xml(store, metamodel=metamodel)
    assert f'xmlns="https://admin-shell.io/aas/{metamodel.replace(".", "/")}"'.encode() in xml
    via_xml = aas_io.read_xml(xml)
    assert via_xml.report.metamodel == metamodel
    via_aasx = aas_io.read_aasx(aas_io.write_aasx(store, metamodel=metamodel), metamodel=metamodel)
    for loaded in (aas_io.read_json(reference, metamodel=metamodel), via_xml, via_aasx):
        assert aas_io.write_json(loaded.objects, metamodel=metamodel) == reference


def test_aasx_keeps_supplementary_files() -> None:
    path = shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.aasx")
    loaded = aas_io.read_aasx(path.read_bytes())
    again = aas_io.read_aasx(aas_io.write_aasx(loaded.objects, loaded.files))
    assert sorted(again.files) == sorted(loaded.files)
    with zipfile.ZipFile(path) as z:
        for name in loaded.files:
            assert name.lstrip("/") in z.namelist()
            assert posixpath.basename(name)
