"""The plant file as an AAS environment, and live values of bound Properties."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from basyx.aas import model

from tests.conftest import shared_data
from werk.aas.adapter import io as aas_io
from werk.config import demo_config_path, load_config
from werk.core.model import Sample
from werk.twin.binding import bound_properties, refresh
from werk.twin.environment import (
    NAMEPLATE_SEMANTIC_ID,
    TECHNICAL_DATA_SEMANTIC_ID,
    build_environment,
    id_short,
)
from werk.twin.environment import nameplate as nameplate_submodel

T = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_one_shell_per_asset_with_its_aas_id_and_resolvable_submodels() -> None:
    config = load_config(demo_config_path())
    store = build_environment(config)
    refs = list(config.assets())
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    assert sorted(s.id for s in shells) == sorted(r.aas_id for r in refs)
    for shell in shells:
        assert shell.asset_information.global_asset_id == shell.id
        ids = {ref.key[0].value for ref in shell.submodel}
        assert {"Nameplate", "TechnicalData", "OperationalData", "TimeSeries"} <= {
            i.rsplit("/", 1)[1] for i in ids
        }
        assert all(isinstance(store.get(i), model.Submodel) for i in ids)
    # the whole environment is valid AAS 3.0 (aas-core verification inside write_json)
    aas_io.write_json(store, metamodel="3.0")


def test_operational_data_binds_one_property_per_signal_to_its_uns_path() -> None:
    config = load_config(demo_config_path())
    store = build_environment(config)
    for ref in config.assets():
        sm = store.get(f"{ref.aas_id}/submodels/OperationalData")
        assert isinstance(sm, model.Submodel)
        bound = dict((p.id_short, path) for p, path in bound_properties(sm))
        assert ref.config.source is not None
        assert bound == {id_short(s): ref.signal_path(s) for s in ref.config.bound_signals()}


def test_semantic_ids_are_those_of_the_official_templates() -> None:
    nameplate = json.loads(
        shared_data("aas", "templates", "IDTA_02006-3-0-1_Template_Digital_Nameplate.json").read_text()
    )
    technical = json.loads(
        shared_data("aas", "templates", "IDTA_02003_2-0-1_Template_TechnicalData.json").read_text()
    )
    assert nameplate["submodels"][0]["semanticId"]["keys"][0]["value"] == NAMEPLATE_SEMANTIC_ID
    assert technical["submodels"][0]["semanticId"]["keys"][0]["value"] == TECHNICAL_DATA_SEMANTIC_ID
    template_ids = {
        e["idShort"]: e["semanticId"]["keys"][0]["value"]
        for e in nameplate["submodels"][0]["submodelElements"]
    }
    config = load_config(demo_config_path())
    ref = next(iter(config.assets()))
    ref = replace(
        ref,
        config=ref.config.model_copy(
            update={"manufacturer": "ACME", "model_name": "V-500", "serial_number": "S-1"}
        ),
    )
    sm = nameplate_submodel(ref)
    assert {e.id_short for e in sm.submodel_element} == {
        "URIOfTheProduct",
        "ManufacturerName",
        "ManufacturerProductDesignation",
        "AddressInformation",
        "OrderCodeOfManufacturer",
        "ProductArticleNumberOfManufacturer",
        "ManufacturerProductType",
        "SerialNumber",
    }
    for el in sm.submodel_element:
        assert el.semantic_id is not None
        assert el.semantic_id.key[0].value == template_ids[str(el.id_short)]


def test_refresh_sets_typed_live_values_and_clears_missing_ones() -> None:
    config = load_config(demo_config_path())
    store = build_environment(config)
    ref = next(iter(config.assets()))
    sm = store.get(f"{ref.aas_id}/submodels/OperationalData")
    assert isinstance(sm, model.Submodel)
    latest = {
        ref.signal_path("temperature"): Sample(ref.signal_path("temperature"), T, 41.5),
        ref.signal_path("cycle_count"): Sample(ref.signal_path("cycle_count"), T, 17),
        ref.signal_path("state"): Sample(ref.signal_path("state"), T, "PROCESSING"),
    }
    assert refresh(sm, latest.get) == 3
    props = {p.id_short: p for p, _ in bound_properties(sm)}
    assert props["temperature"].value == 41.5 and props["temperature"].value_type is model.datatypes.Double
    assert props["cycle_count"].value == 17 and props["cycle_count"].value_type is model.datatypes.Long
    assert props["state"].value == "PROCESSING" and props["state"].value_type is model.datatypes.String
    assert props["load"].value is None
    latest.pop(ref.signal_path("state"))
    refresh(sm, latest.get)
    assert props["state"].value is None
    aas_io.write_json([sm], metamodel="3.0")  # typed values stay valid AAS


def test_time_series_links_each_signal_to_the_history_endpoint_with_template_semantics() -> None:
    template = json.loads(
        shared_data("aas", "templates", "IDTA_02008-1-1-1_Template_TimeSeriesData.json").read_text()
    )
    template_ids = {cd["id"] for cd in template["conceptDescriptions"]}
    config = load_config(demo_config_path())
    ref = next(iter(config.assets()))
    sm = build_environment(config).get(f"{ref.aas_id}/submodels/TimeSeries")
    assert isinstance(sm, model.Submodel)
    data = aas_io.to_jsonable(sm)
    assert (
        data["semanticId"]["keys"][0]["value"] == template["submodels"][0]["semanticId"]["keys"][0]["value"]
    )
    used = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            if "semanticId" in x:
                used.add(x["semanticId"]["keys"][0]["value"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data["submodelElements"])
    ours = {u for u in used if u.startswith("https://admin-shell.io/idta/TimeSeries/")}
    assert ours - template_ids == {"https://admin-shell.io/idta/TimeSeries/UtcTime/1/1"}  # 02008 defines it
    segments = next(e for e in data["submodelElements"] if e["idShort"] == "Segments")["value"]
    assert ref.config.source is not None
    assert len(segments) == len(ref.config.bound_signals())
    query = {p["idShort"]: p.get("value") for p in segments[0]["value"]}
    assert query["Endpoint"] == f"http://{config.server.host}:{config.server.port}/api/series"
    assert query["Query"].startswith(f"path={ref.path}/")
