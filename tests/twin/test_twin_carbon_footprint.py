"""Carbon Footprint (IDTA 02023-1-0) per asset: the template's structure and semantics, and the use-phase
footprint per part computed live from the energy meter and the good-part counter, read over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from basyx.aas import model
from fastapi import FastAPI

from tests.aas.aas_app import aas_api, mount
from tests.aas.http.test_repository import AUTH, TOKEN, b64, serve
from tests.twin.template_conformance import assert_conforms, template, value_list
from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.config import WerkConfig, demo_config_path, load_config
from werk.config.model import AssetRef
from werk.core.model import Sample
from werk.twin.binding import refresh
from werk.twin.environment import (
    PCF_CALCULATION_METHOD,
    PCF_LIFE_CYCLE_PHASE,
    PCF_REFERENCE_UNIT,
    build_environment,
    carbon_footprint,
)

TEMPLATE = "IDTA_02023-1-0-1_Template_CarbonFootprint.json"
T = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
PCF = "ProductCarbonFootprints[0]"


def demo_with_factor(factor: float) -> tuple[WerkConfig, AssetRef]:
    config = load_config(demo_config_path())
    config = config.model_copy(
        update={"plant": config.plant.model_copy(update={"grid_co2_kg_per_kwh": factor})}
    )
    return config, next(iter(config.assets()))


def test_structure_and_semantic_ids_are_those_of_the_template() -> None:
    official = template(TEMPLATE)
    _, ref = demo_with_factor(0.38)
    checked = assert_conforms(carbon_footprint(ref, 0.38), official["submodels"][0])
    assert f"{PCF}.PcfCO2eq" in checked and f"{PCF}.PublicationDate" in checked
    assert f"{PCF}.LifeCyclePhases[0]" in checked and f"{PCF}.PcfCalculationMethods[0]" in checked
    # the fixed values come from the value lists of the template's concept descriptions
    assert PCF_CALCULATION_METHOD in value_list(official, "0173-1#02-ABG854#003")
    assert PCF_REFERENCE_UNIT in value_list(official, "0173-1#02-ABG856#003")
    assert PCF_LIFE_CYCLE_PHASE in value_list(official, "0173-1#02-ABG858#003")
    assert PCF_LIFE_CYCLE_PHASE.startswith("B6")  # the use phase, energy consumption


def test_assets_with_a_meter_and_a_counter_get_one_and_the_environment_stays_valid() -> None:
    config = load_config(demo_config_path())
    store = build_environment(config)
    with_pcf = {
        ref.name
        for ref in config.assets()
        if store.get(f"{ref.aas_id}/submodels/CarbonFootprint") is not None
    }
    expected = {
        ref.name for ref in config.assets() if {"energy", "good_count"} <= set(ref.config.bound_signals())
    }
    assert with_pcf == expected and "env-hall-1" not in with_pcf and "cnc-1" in with_pcf
    aas_io.write_json(store, metamodel="3.0")  # aas-core verification of the whole environment


def test_refresh_computes_kg_co2e_per_good_part() -> None:
    _, ref = demo_with_factor(0.4)
    sm = carbon_footprint(ref, 0.4)
    energy, parts = ref.signal_path("energy"), ref.signal_path("good_count")
    latest = {energy: Sample(energy, T, 12.5), parts: Sample(parts, T + timedelta(seconds=3), 50)}
    assert refresh(sm, latest.get) == 2
    co2 = next(iter(sm.submodel_element))
    assert isinstance(co2, model.SubmodelElementList)
    values = {e.id_short: e for e in next(iter(co2.value)).value}
    assert values["PcfCO2eq"].value == Decimal("0.1")  # 12.5 kWh / 50 parts x 0.4 kg/kWh
    assert values["PublicationDate"].value == T + timedelta(seconds=3)
    latest[parts] = Sample(parts, T, 0)  # no good part yet: no figure, not a division by zero
    assert refresh(sm, latest.get) == 1
    assert values["PcfCO2eq"].value is None
    aas_io.write_json([sm], metamodel="3.0")


async def test_http_reads_return_the_live_figure_and_writes_are_refused() -> None:
    config, ref = demo_with_factor(0.38)
    latest: dict[str, Sample] = {}
    app = FastAPI()
    mount(app, aas_api(TwinStore(build_environment(config)), latest.get, tokens={TOKEN}))
    sm = f"/submodels/{b64(ref.aas_id + '/submodels/CarbonFootprint')}"
    co2 = f"{sm}/submodel-elements/{PCF}.PcfCO2eq"
    energy, parts = ref.signal_path("energy"), ref.signal_path("good_count")
    async with serve(app) as client:
        assert (await client.get(co2 + "/$value")).json() == {"PcfCO2eq": None}
        latest[energy] = Sample(energy, T, 20.0)
        latest[parts] = Sample(parts, T, 80)
        assert (await client.get(co2 + "/$value")).json() == {"PcfCO2eq": 0.095}  # 20 / 80 x 0.38
        latest[energy] = Sample(energy, T + timedelta(minutes=1), 30.0)
        latest[parts] = Sample(parts, T + timedelta(minutes=1), 100)
        full = (await client.get(co2)).json()
        assert full["value"] == "0.114" and full["valueType"] == "xs:decimal"
        value = (await client.get(sm + "/$value")).json()["ProductCarbonFootprints"][0]
        assert value["PcfCO2eq"] == 0.114
        assert value["PublicationDate"] == "2026-03-29T08:01:00+00:00"
        assert value["ReferenceImpactUnitForCalculation"] == "piece"
        assert value["LifeCyclePhases"] == ["B6 - usage energy consumption"]
        r = await client.patch(co2 + "/$value", json=0.0, headers=AUTH)
        assert r.status_code == 409 and energy in r.json()["messages"][0]["text"]


async def test_repeated_full_reads_match_a_fresh_serialisation() -> None:
    """The API keeps a submodel's JSON between reads and rewrites only its live values: every read must still equal
    a fresh serialisation, whether values appear, change or vanish, and after a write elsewhere in it."""
    config, ref = demo_with_factor(0.38)
    latest: dict[str, Sample] = {}
    store = TwinStore(build_environment(config))
    app = FastAPI()
    mount(app, aas_api(store, latest.get, tokens={TOKEN}))
    sm_id = ref.aas_id + "/submodels/CarbonFootprint"
    energy, parts = ref.signal_path("energy"), ref.signal_path("good_count")

    def fresh() -> object:
        sm = store.get(sm_id, model.Submodel)
        assert sm is not None
        refresh(sm, latest.get)
        return aas_io.to_jsonable(sm)

    async with serve(app) as client:
        url = f"/submodels/{b64(sm_id)}"
        for e, n in ((None, None), (10.0, 40), (11.0, 41), (None, 41), (12.0, 42)):
            latest.pop(energy, None)
            if e is not None:
                latest[energy] = Sample(energy, T, e)
            if n is not None:
                latest[parts] = Sample(parts, T, n)
            assert (await client.get(url)).json() == fresh()
        quantity = f"{url}/submodel-elements/{PCF}.QuantityOfMeasureForCalculation/$value"
        assert (await client.patch(quantity, json=2.0, headers=AUTH)).status_code == 204
        body = (await client.get(url)).json()
        assert body == fresh()
        assert body["submodelElements"][0]["value"][0]["value"][3]["value"] == "2.0"
