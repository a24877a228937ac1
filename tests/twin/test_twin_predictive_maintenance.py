"""Predictive Maintenance (IDTA 02048-1-0) per asset: the template's structure and semantics, and its RUL and health
elements bound to the maintenance app's signals, read over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from tests.aas.aas_app import aas_api, mount
from tests.aas.http.test_repository import AUTH, TOKEN, b64, serve
from tests.conftest import shared_data
from tests.twin.template_conformance import assert_conforms, template, value_list
from werk.aas.adapter import io as aas_io
from werk.aas.backend.store import TwinStore
from werk.apps.maintenance.twin import PM_MODEL_TYPE, predictive_maintenance
from werk.config import demo_config_path, load_config
from werk.core.model import Sample
from werk.twin.environment import build_environment

TEMPLATE = "IDTA_02048_Template_PredictiveMaintenance.json"
T = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
RUL = "RemainingUsefulLifePrediction.RemainingUsefulLifetime"
CONDITION = "RemainingUsefulLifePrediction.ListRULBoundaryConditions[0]"


def test_structure_and_semantic_ids_are_those_of_the_template() -> None:
    official = template(TEMPLATE)
    config = load_config(demo_config_path())
    ref = next(iter(config.assets()))
    checked = assert_conforms(
        predictive_maintenance(ref, config.app("maintenance")), official["submodels"][0]
    )
    for path in (
        f"{RUL}.DurationValue",
        f"{RUL}.StartValue",
        f"{RUL}.StartDateTime",
        f"{CONDITION}.MeanValue",
        f"{CONDITION}.BoundaryValueRange",
        "RemainingUsefulLifePrediction.ConfidenceInterval",
        "RemainingUsefulLifePrediction.PredictionModelInformation.ModelType",
        "RemainingUsefulLifePrediction.ListPreAlerts[0].PreAlertValue",
    ):
        assert path in checked
    # every element with cardinality One in the template's prediction is there
    prediction = official["submodels"][0]["submodelElements"][0]
    mandatory = {
        e["idShort"]
        for e in prediction["value"]
        if any(q["type"] == "SMT/Cardinality" and q["value"] == "One" for q in e.get("qualifiers", []))
    }
    assert {p.split(".")[1] for p in checked if p.count(".") == 1 and p.startswith("Remaining")} >= mandatory
    all_values = {v for cd in official["conceptDescriptions"] for v in value_list(official, cd["id"])}
    assert PM_MODEL_TYPE in all_values


def test_the_template_file_has_the_duplicate_concept_description_io_reports() -> None:
    """02048's ConditionName concept description repeats RULCondition's id; werk's reader refuses the file unless
    asked to keep the first, and werk's elements use the template elements' own semantic ids."""
    loaded = aas_io.read_file(shared_data("aas", "templates", TEMPLATE), duplicates="keep-first")
    assert any("RULCondition" in w for w in loaded.report.warnings)


async def test_http_reads_return_rul_and_health_from_the_live_signals() -> None:
    config = load_config(demo_config_path())
    ref = next(iter(config.assets()))
    latest: dict[str, Sample] = {}
    app = FastAPI()
    mount(app, aas_api(TwinStore(build_environment(config)), latest.get, tokens={TOKEN}))
    sm = f"/submodels/{b64(ref.aas_id + '/submodels/PredictiveMaintenance')}"
    el = f"{sm}/submodel-elements/"
    signals = {
        s: ref.signal_path(s) for s in ("rul.cycles", "health.score", "health.threshold", "cycle_count")
    }
    async with serve(app) as client:
        assert (await client.get(el + f"{RUL}.DurationValue/$value")).json() == {"DurationValue": None}
        latest[signals["rul.cycles"]] = Sample(signals["rul.cycles"], T, 87.5)
        latest[signals["health.score"]] = Sample(signals["health.score"], T, 3.25)
        latest[signals["health.threshold"]] = Sample(signals["health.threshold"], T, 9.5)
        latest[signals["cycle_count"]] = Sample(signals["cycle_count"], T, 1234)
        assert (await client.get(el + f"{RUL}.DurationValue/$value")).json() == {"DurationValue": 87.5}
        lifetime = (await client.get(el + f"{RUL}/$value")).json()["RemainingUsefulLifetime"]
        statements = lifetime["statements"]
        assert statements["StartValue"] == 1234.0  # the counter, as the template's xs:double
        assert statements["StartDateTime"] == "2026-03-29T08:00:00+00:00"
        assert statements["IndicationType"] == statements["EngineeringUnit"] == "cycles"
        conditions = "RemainingUsefulLifePrediction.ListRULBoundaryConditions"
        (condition,) = (await client.get(el + conditions + "/$value")).json()["ListRULBoundaryConditions"]
        assert condition["MeanValue"] == 3.25 and condition["BoundaryValueRange"] == 9.5
        assert condition["ConditionName"] == "health.score"
        full = (await client.get(el + f"{CONDITION}.MeanValue")).json()
        assert full["valueType"] == "xs:double" and full["value"] == "3.25"
        pre_alert = (
            await client.get(el + "RemainingUsefulLifePrediction.ListPreAlerts[0].PreAlertValue/$value")
        ).json()
        assert pre_alert == {"PreAlertValue": config.app("maintenance").rul_warning_cycles}
        r = await client.patch(el + f"{RUL}.DurationValue/$value", json=1.0, headers=AUTH)
        assert r.status_code == 409
