"""What the maintenance app adds to an asset's twin: the Predictive Maintenance submodel (IDTA 02048-1-0), bound
to the signals the app publishes, for every asset with a cycle counter."""

from __future__ import annotations

from typing import Any

from basyx.aas import model

from werk.apps.maintenance.settings import MaintenanceSettings
from werk.config.model import AssetRef, WerkConfig
from werk.twin.environment import (
    UNS_TIME_QUALIFIER_TYPE,
    UNS_VALUE_QUALIFIER_TYPE,
    instance_submodel,
    live_qualifier,
    semantic_reference,
)

PREDICTIVE_MAINTENANCE_SEMANTIC_ID = "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0"


def _pm(name: str) -> model.ExternalReference:
    """Semantic id of an IDTA 02048 element, as its template's elements carry them (the template's concept
    descriptions disagree in places: ConditionName's repeats RULCondition's id, the one :mod:`werk.aas.adapter.io` reports
    as a duplicate; RemainingUsefulLifetime's lacks a slash; ListPreAlerts' says PreAlerts)."""
    return semantic_reference(f"https://admin-shell.io/idta/PredictiveMaintenance/{name}/1/0")


# ModelType: physical, data-driven or hybrid (02048; its template file attaches that value list to the concept
# description of Standarddeviation, not of ModelType)
PM_MODEL_TYPE = "data-driven"


def has_predictive_maintenance(ref: AssetRef) -> bool:
    return "cycle_count" in ref.config.bound_signals()


def predictive_maintenance(ref: AssetRef, maintenance: MaintenanceSettings) -> model.Submodel:
    """Predictive Maintenance (IDTA 02048-1-0), bound to what werk's maintenance app publishes.

    - RemainingUsefulLifePrediction/RemainingUsefulLifetime (an Entity after the OPC UA DI lifetime model, OPC
      10000-100 clause 6.6): IndicationType and EngineeringUnit ``cycles``; DurationValue is ``<asset>/rul.cycles``;
      StartValue is ``<asset>/cycle_count``, the counter the remaining cycles count from; StartDateTime is the time
      of the latest ``rul.cycles``.
    - ConfidenceInterval (cardinality One) is present and empty: werk's RUL model (LightGBM, point estimates) gives
      no interval.
    - ListRULBoundaryConditions: one RULCondition for the health score, the condition under which the prediction
      holds (the asset behaves like its healthy baseline): ConditionName ``health.score``, MeanValue is
      ``<asset>/health.score`` (itself a mean over the last cycles), BoundaryValueRange ``<asset>/health.threshold``,
      the score above which werk warns; IsBoundaryConditionUsedInModel false (the RUL model reads the raw signals,
      not the score).
    - RemainingUsefulLifePrediction/PredictionModelInformation: ModelType ``data-driven`` (its concept description's value list).
    - RemainingUsefulLifePrediction/ListPreAlerts: one PreAlert at the app's ``rul_warning_cycles``, the RUL at which it opens a work order.

    Left out (cardinality ZeroToOne): RemainingUsfulLifeDateTime (werk predicts cycles, not dates),
    AlertAfterExceedingRemainingUsableLife and SMAIModelNamePlate.
    """
    rul, health, threshold = (ref.signal_path(s) for s in ("rul.cycles", "health.score", "health.threshold"))

    # value types typed Any: basyx's AnyXSDType alias names dateutil's relativedelta (no stubs; see werk.twin.binding)
    def value(short: str, value_type: Any, path: str, kind: str = UNS_VALUE_QUALIFIER_TYPE) -> model.Property:
        return model.Property(
            short, value_type, semantic_id=_pm(short), qualifier=(live_qualifier(kind, path),)
        )

    def fixed(short: str, value_type: Any, v: Any) -> model.Property:
        return model.Property(short, value_type, value=v, semantic_id=_pm(short))

    def text(short: str, v: str) -> model.Property:
        return fixed(short, model.datatypes.String, v)

    def collection(name: str, *elements: model.SubmodelElement) -> model.SubmodelElementCollection:
        return model.SubmodelElementCollection(name, value=elements, semantic_id=_pm(name))

    def listing(name: str, item: str, *elements: model.SubmodelElement) -> model.SubmodelElementList[Any]:
        """A list of one collection of ``elements``, the template's ``item`` (an element of a list has no
        idShort)."""
        return model.SubmodelElementList(
            name,
            model.SubmodelElementCollection,
            value=[model.SubmodelElementCollection(None, value=elements, semantic_id=_pm(item))],
            semantic_id=_pm(name),
            semantic_id_list_element=_pm(item),
        )

    lifetime = model.Entity(
        "RemainingUsefulLifetime",
        model.EntityType.CO_MANAGED_ENTITY,
        statement=[
            text("IndicationType", "cycles"),
            value("DurationValue", model.datatypes.Double, rul),
            text("EngineeringUnit", "cycles"),
            value("StartValue", model.datatypes.Double, ref.signal_path("cycle_count")),
            value("StartDateTime", model.datatypes.DateTime, rul, UNS_TIME_QUALIFIER_TYPE),
            text(
                "Description",
                "machine cycles left before failure, predicted by werk's maintenance app at the cycle counter "
                "StartValue; capped at the model's training cap",
            ),
        ],
        semantic_id=_pm("RemainingUsefulLifetime"),
    )
    conditions = listing(
        "ListRULBoundaryConditions",
        "RULCondition",
        text("ConditionName", "health.score"),
        fixed("IsBoundaryConditionUsedInModel", model.datatypes.Boolean, False),
        value("BoundaryValueRange", model.datatypes.Double, threshold),
        text("BoundaryEngineeringUnit", "1"),
        value("MeanValue", model.datatypes.Double, health),
        text(
            "BoundaryDescription",
            "anomaly score against the asset's healthy baseline (mean over the last cycles of the sum of "
            "squared z-scores); the prediction holds while it stays below BoundaryValueRange",
        ),
    )
    model_info = collection(
        "PredictionModelInformation",
        text("ModelType", PM_MODEL_TYPE),
        text(
            "ModelDescription",
            "gradient-boosted trees (LightGBM) on windowed per-cycle features, trained on run-to-failure "
            "lives (werk.apps.maintenance.rul)",
        ),
    )
    alerts = listing(
        "ListPreAlerts",
        "PreAlerts",
        text("PreAlertMessage", "remaining useful life low; werk opens a work order"),
        fixed("PreAlertValue", model.datatypes.Double, float(maintenance.rul_warning_cycles)),
    )
    prediction = collection(
        "RemainingUsefulLifePrediction",
        lifetime,
        model.Range("ConfidenceInterval", model.datatypes.Double, semantic_id=_pm("ConfidenceInterval")),
        conditions,
        model_info,
        alerts,
    )
    return instance_submodel(ref, "PredictiveMaintenance", PREDICTIVE_MAINTENANCE_SEMANTIC_ID, [prediction])


def submodels(ref: AssetRef, config: WerkConfig, settings: MaintenanceSettings) -> list[model.Submodel]:
    """The app's contribution to ``ref``'s twin (its spec's ``submodels``)."""
    return [predictive_maintenance(ref, settings)] if has_predictive_maintenance(ref) else []
