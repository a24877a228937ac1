"""Every submodel werk builds for the demo plant conforms to the IDTA template its semanticId claims: the
template's required elements are there, and werk's elements have the template's idShorts, modelTypes, semanticIds
and valueTypes (template_conformance.py says how open parts are treated)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from basyx.aas import model

from tests.twin.template_conformance import TEMPLATES, problems, semantic, template
from werk.aas.adapter import io as aas_io
from werk.cli import main
from werk.config import demo_config_path, load_config, parse_config
from werk.config.model import AssetConfig
from werk.twin.environment import build_environment, nameplate, template_gaps, time_series


def test_every_submodel_of_the_demo_conforms_to_its_template() -> None:
    checked: dict[str, int] = {}
    found: list[str] = []
    for obj in build_environment(load_config(demo_config_path())):
        if not isinstance(obj, model.Submodel):
            continue
        mine = aas_io.to_jsonable(obj)
        name = TEMPLATES.get(semantic(mine) or "")
        if name is None:
            assert obj.id_short == "OperationalData", f"{obj.id}: no template for {semantic(mine)}"
            continue  # werk's own submodel, no IDTA template
        wrong, paths = problems(mine, template(name)["submodels"][0])
        found += [f"{obj.id}: {w}" for w in wrong]
        checked[name] = checked.get(name, 0) + len(paths)
    assert not found, found[:20]
    assert set(checked) == set(TEMPLATES.values())
    assert all(n > 0 for n in checked.values()), checked


def test_required_elements_are_there_even_when_the_plant_file_says_nothing_and_check_names_the_gaps() -> None:
    config = load_config(demo_config_path())
    ref = next(iter(config.assets()))
    bare = ref.config.model_copy(
        update={
            "manufacturer": "",
            "uri_of_product": "",
            "order_code": "",
            "article_number": "",
            "address": None,
        }
    )
    assert isinstance(bare, AssetConfig)
    official = template(TEMPLATES["https://admin-shell.io/idta/nameplate/3/0/Nameplate"])["submodels"][0]
    sm = nameplate(dataclasses.replace(ref, config=bare))
    found, _ = problems(aas_io.to_jsonable(sm), official)
    assert not found, found
    assert template_gaps(config) == []
    text = re.sub(r"\n\s*uri_of_product: .*", "", demo_config_path().read_text())
    blank = parse_config(text, "plant.yaml")
    gaps = template_gaps(blank)
    assert len(gaps) == len(list(config.assets())) and all("uri_of_product" in g for g in gaps)


def test_the_time_series_record_types_text_signals_as_strings() -> None:
    ref = next(iter(load_config(demo_config_path()).assets()))
    record = aas_io.to_jsonable(time_series(ref, "http://w"))["submodelElements"][0]["value"][1]["value"]
    types = {e["idShort"]: e["valueType"] for e in record}
    assert types["state"] == types["product"] == types["operation_mode"] == "xs:string"
    assert types["cycle_count"] == "xs:long" and types["temperature"] == "xs:double"
    assert types["Time"] == "xs:dateTime"


def test_werk_check_warns_about_what_the_templates_require_and_the_plant_file_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(re.sub(r"\n\s*order_code: .*", "", demo_config_path().read_text()))
    assert main(["check", str(plant)]) == 0
    out = capsys.readouterr().out
    assert out.count("warning:") == len(list(load_config(demo_config_path()).assets()))
    assert "order_code (OrderCodeOfManufacturer" in out
    assert main(["check", str(demo_config_path())]) == 0
    assert "warning:" not in capsys.readouterr().out
