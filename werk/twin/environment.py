"""The plant file as an AAS environment: one shell per asset, with standard submodels filled from the config.

Per asset (IDTA-01001 Part 1, class AssetAdministrationShell): the shell's ``id`` is the asset's ``aas_id``
IRI and its ``assetInformation/globalAssetId`` is the same IRI, so the one name werk uses for an asset everywhere is
also its AAS identity. Submodels, each with id ``<aas_id>/submodels/<idShort>``:

- ``Nameplate`` (IDTA 02006-3-0 Digital Nameplate): ManufacturerName, ManufacturerProductDesignation,
  ManufacturerProductType and SerialNumber, only those the plant file states. werk does not invent the template's
  other mandatory values (URIOfTheProduct, AddressInformation, OrderCodeOfManufacturer): an empty or made-up
  nameplate is worse than an incomplete one, and an imported manufacturer nameplate can replace this one.
- ``TechnicalData`` (IDTA 02003-2-0): GeneralInformation as far as the config knows it, and the ideal cycle time.
- ``TimeSeries`` (IDTA 02008-1-1 Time Series Data): the signals as a record, and per signal a LinkedSegment whose
  Endpoint and Query address werk's ``/api/series``, so history stays in the historian.
- ``OperationalData`` (werk's own, semanticId :data:`OPERATIONAL_DATA_SEMANTIC_ID`): one Property per bound signal;
  the Property carries the signal's Unified Namespace path in a Qualifier of type :data:`UNS_QUALIFIER_TYPE`, and
  :mod:`werk.twin.binding` resolves it to the latest value whenever the submodel is read.
- ``CarbonFootprint`` (IDTA 02023-1-0 Carbon Footprint), for assets with an ``energy`` meter and a ``good_count``:
  the use-phase footprint per good part, computed live (:func:`carbon_footprint`).
- ``PredictiveMaintenance`` (IDTA 02048-1-0 Predictive Maintenance), for assets the maintenance app watches (those
  with a ``cycle_count``): remaining useful life and health score, bound to the app's signals
  (:func:`predictive_maintenance`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from basyx.aas import model

from werk.config.model import AssetRef, WerkConfig

if TYPE_CHECKING:
    from werk.registry import Registry

NAMEPLATE_SEMANTIC_ID = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
TECHNICAL_DATA_SEMANTIC_ID = "0173-1#01-AHX837#002"
OPERATIONAL_DATA_SEMANTIC_ID = "urn:werk:submodel:OperationalData:1:0"
TIME_SERIES_SEMANTIC_ID = "https://admin-shell.io/idta/TimeSeries/1/1"
CARBON_FOOTPRINT_SEMANTIC_ID = "https://admin-shell.io/idta/CarbonFootprint/CarbonFootprint/1/0"
# Qualifier types of live bindings (their meaning is in werk.twin.binding)
UNS_QUALIFIER_TYPE = "werk:UnsPath"
UNS_VALUE_QUALIFIER_TYPE = "werk:UnsValue"
UNS_TIME_QUALIFIER_TYPE = "werk:UnsTime"
UNS_QUOTIENT_QUALIFIER_TYPE = "werk:UnsQuotient"
SCALE_QUALIFIER_TYPE = "werk:Scale"

# IDTA 02006-3-0 (Digital Nameplate): semantic ids of the template's elements, as published in its template file
_NAMEPLATE = {
    "URIOfTheProduct": "0112/2///61987#ABN590#002",
    "ManufacturerName": "0112/2///61987#ABA565#009",
    "ManufacturerProductDesignation": "0112/2///61987#ABA567#009",
    "AddressInformation": "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation",
    "ManufacturerProductType": "0112/2///61987#ABA300#008",
    "OrderCodeOfManufacturer": "0112/2///61987#ABA950#008",
    "ProductArticleNumberOfManufacturer": "0112/2///61987#ABA581#007",
    "SerialNumber": "0112/2///61987#ABA951#009",
}
# AddressInformation is a drop-in of IDTA 02002-1-0 (Contact Information): its elements and their semantic ids
_ADDRESS = {
    "Street": "0173-1#02-AAO128#002",
    "Zipcode": "0173-1#02-AAO129#002",
    "CityTown": "0173-1#02-AAO132#002",
    "NationalCode": "0173-1#02-AAO134#002",
}
# IDTA 02003-2-0 (Technical Data): GeneralInformation and TechnicalProperties, as in its template file
_TECHNICAL = {
    "GeneralInformation": "0173-1#02-ABK161#002/0173-1#01-AHX838#002",
    "ManufacturerName": "0173-1#02-AAO677#004",
    "ManufacturerProductDesignation": "0173-1#02-AAW338#003",
    "ManufacturerArticleNumber": "0173-1#02-AAO676#005",
    "ManufacturerOrderCode": "0173-1#02-AAO227#004",
    "TechnicalPropertyAreas": "0173-1#02-ABK163#002",
    "TechnicalPropertyArea": "0173-1#02-ABL358#002/0173-1#01-AHX773#002",
}
# signals whose values are text: OPC 40001 Machinery's states and operation mode, MTConnect's execution and mode,
# the product being made (werk's machine-state app reads them so); every other signal is a number
TEXT_SIGNALS = frozenset({"state", "item_state", "operation_mode", "execution", "mode", "product", "program"})
IDEAL_CYCLE_TIME_SEMANTIC_ID = "urn:werk:concept:IdealCycleTime:1:0"


def id_short(name: str) -> str:
    """A werk name as an idShort (Part 1 3.0, Referable/idShort and constraint AASd-002: letters, digits, underscore, starting with a letter);
    ``cnc-1`` becomes ``cnc_1``."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s[:1].isalpha() else "X" + s


def submodel_id(aas_id: str, short: str) -> str:
    return f"{aas_id}/submodels/{short}"


def semantic_reference(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


def _mlp(short: str, semantic: str, text: str) -> model.MultiLanguageProperty:
    return model.MultiLanguageProperty(
        short, value=model.MultiLanguageTextType({"en": text}), semantic_id=semantic_reference(semantic)
    )


def _prop(short: str, semantic: str, value: str) -> model.Property:
    return model.Property(
        short, model.datatypes.String, value=value, semantic_id=semantic_reference(semantic)
    )


def _text(short: str, semantic: str, value: str, kind: Any = model.datatypes.String) -> model.Property:
    """A template's Property of text; absent value (not an empty string) where the plant file names none."""
    return model.Property(short, kind, value=value or None, semantic_id=semantic_reference(semantic))


def _text_list(short: str, item: str, value: str) -> model.SubmodelElementList[model.Property]:
    """A Carbon Footprint list of one text item, with the semanticIds the template gives the list and its items."""
    return model.SubmodelElementList(
        short,
        model.Property,
        value=[
            model.Property(
                None, model.datatypes.String, value=value, semantic_id=semantic_reference(_PCF[item])
            )
        ],
        semantic_id=semantic_reference(_PCF[short]),
        semantic_id_list_element=semantic_reference(_PCF[item]),
        value_type_list_element=model.datatypes.String,
    )


def _mlp_or_empty(short: str, semantic: str, text: str) -> model.MultiLanguageProperty:
    if text:
        return _mlp(short, semantic, text)
    return model.MultiLanguageProperty(short, semantic_id=semantic_reference(semantic))


def nameplate(ref: AssetRef) -> model.Submodel:
    """Digital Nameplate (IDTA 02006-3-0) with what the plant file says about the asset: every element the template
    requires (cardinality One), empty where the plant file says nothing (``werk check`` names those), and the
    optional ones the plant file fills."""
    cfg = ref.config
    address = cfg.address
    address_elements = [
        _mlp(short, _ADDRESS[short], text)
        for short, text in (
            ("Street", address.street if address else ""),
            ("Zipcode", address.zipcode if address else ""),
            ("CityTown", address.city if address else ""),
            ("NationalCode", address.country_code if address else ""),
        )
        if text
    ]
    elements: list[model.SubmodelElement] = [
        _text("URIOfTheProduct", _NAMEPLATE["URIOfTheProduct"], cfg.uri_of_product, model.datatypes.AnyURI),
        _mlp_or_empty("ManufacturerName", _NAMEPLATE["ManufacturerName"], cfg.manufacturer),
        _mlp(
            "ManufacturerProductDesignation",
            _NAMEPLATE["ManufacturerProductDesignation"],
            cfg.description or cfg.kind,
        ),
        model.SubmodelElementCollection(
            "AddressInformation",
            value=address_elements,
            semantic_id=semantic_reference(_NAMEPLATE["AddressInformation"]),
        ),
        _text("OrderCodeOfManufacturer", _NAMEPLATE["OrderCodeOfManufacturer"], cfg.order_code),
    ]
    if cfg.model_name:
        elements.append(
            _prop("ManufacturerProductType", _NAMEPLATE["ManufacturerProductType"], cfg.model_name)
        )
    if cfg.article_number:
        elements.append(
            _prop(
                "ProductArticleNumberOfManufacturer",
                _NAMEPLATE["ProductArticleNumberOfManufacturer"],
                cfg.article_number,
            )
        )
    if cfg.serial_number:
        elements.append(_prop("SerialNumber", _NAMEPLATE["SerialNumber"], cfg.serial_number))
    return instance_submodel(ref, "Nameplate", NAMEPLATE_SEMANTIC_ID, elements)


def technical_data(ref: AssetRef) -> model.Submodel:
    """Technical Data (IDTA 02003-2-0): GeneralInformation with every element the template requires (empty where
    the plant file says nothing), and TechnicalPropertyAreas with the ideal cycle time
    (``TechnicalPropertyAreas[0].IdealCycleTime``)."""
    cfg = ref.config
    general: list[model.SubmodelElement] = [
        _text("ManufacturerName", _TECHNICAL["ManufacturerName"], cfg.manufacturer),
        _mlp(
            "ManufacturerProductDesignation",
            _TECHNICAL["ManufacturerProductDesignation"],
            cfg.description or cfg.kind,
        ),
        _text("ManufacturerArticleNumber", _TECHNICAL["ManufacturerArticleNumber"], cfg.article_number),
        _text("ManufacturerOrderCode", _TECHNICAL["ManufacturerOrderCode"], cfg.order_code),
    ]
    technical: list[model.SubmodelElement] = []
    if cfg.ideal_cycle_s is not None:
        technical.append(
            model.Property(
                "IdealCycleTime",
                model.datatypes.Double,
                value=cfg.ideal_cycle_s,
                semantic_id=semantic_reference(IDEAL_CYCLE_TIME_SEMANTIC_ID),
                description=model.MultiLanguageTextType({"en": "ideal cycle time in seconds (ISO 22400-2)"}),
            )
        )
    elements: list[model.SubmodelElement] = [
        model.SubmodelElementCollection(
            "GeneralInformation",
            value=general,
            semantic_id=semantic_reference(_TECHNICAL["GeneralInformation"]),
        )
    ]
    if technical:
        # 2.0's areas of technical properties: a list of collections, here one (its path TechnicalPropertyAreas[0])
        area = model.SubmodelElementCollection(
            None, value=technical, semantic_id=semantic_reference(_TECHNICAL["TechnicalPropertyArea"])
        )
        elements.append(
            model.SubmodelElementList(
                "TechnicalPropertyAreas",
                model.SubmodelElementCollection,
                value=[area],
                semantic_id=semantic_reference(_TECHNICAL["TechnicalPropertyAreas"]),
                semantic_id_list_element=semantic_reference(_TECHNICAL["TechnicalPropertyArea"]),
            )
        )
    return instance_submodel(ref, "TechnicalData", TECHNICAL_DATA_SEMANTIC_ID, elements)


def template_gaps(config: WerkConfig) -> list[str]:
    """What the IDTA templates werk fills require of each asset and its plant file does not say: one line per
    asset (for ``werk check``). The submodels are built all the same, those elements without a value."""
    fields = (
        ("manufacturer", "ManufacturerName"),
        ("uri_of_product", "URIOfTheProduct"),
        ("order_code", "OrderCodeOfManufacturer, ManufacturerOrderCode"),
        ("article_number", "ManufacturerArticleNumber"),
    )
    out = []
    for ref in config.assets():
        cfg = ref.config
        missing = [f"{key} ({elements})" for key, elements in fields if not getattr(cfg, key)]
        if cfg.address is None or not (cfg.address.street and cfg.address.city and cfg.address.country_code):
            missing.append("address: street, zipcode, city, country_code (AddressInformation)")
        if missing:
            out.append(
                f"{ref.path}: the Digital Nameplate and Technical Data templates require {'; '.join(missing)}"
            )
    return out


def _record_type(signal: str) -> Any:
    """The valueType of a signal in a time series record: text for :data:`TEXT_SIGNALS`, integers for counters,
    else numbers."""
    if signal in TEXT_SIGNALS:
        return model.datatypes.String
    if signal.endswith("_count"):
        return model.datatypes.Long
    return model.datatypes.Double


def _ts(name: str) -> model.ExternalReference:
    return semantic_reference(f"https://admin-shell.io/idta/TimeSeries/{name}/1/1")


def time_series(ref: AssetRef, api_base: str) -> model.Submodel:
    """Time Series Data (IDTA 02008-1-1): the record lists the time and every bound signal; one LinkedSegment per
    signal points at werk's own history endpoint, so a client reads the historian's data, not a copy in the twin.

    The time is UTC (semanticId UtcTime of 02008), as ``/api/series`` returns it.
    """
    signals = sorted(ref.config.bound_signals())
    record: list[model.SubmodelElement] = [
        model.Property("Time", model.datatypes.DateTime, semantic_id=_ts("UtcTime"))
    ]
    record += [
        model.Property(id_short(s), _record_type(s), semantic_id=semantic_reference(f"urn:werk:signal:{s}"))
        for s in signals
    ]
    metadata = model.SubmodelElementCollection(
        "Metadata",
        value=[
            model.MultiLanguageProperty(
                "Name",
                value=model.MultiLanguageTextType({"en": f"{ref.name} signals"}),
                semantic_id=_ts("Metadata/Name"),
            ),
            model.SubmodelElementCollection("Record", value=record, semantic_id=_ts("Record")),
        ],
        semantic_id=_ts("Metadata"),
    )
    segments = [
        model.SubmodelElementCollection(
            f"Linked_{id_short(s)}",
            value=[
                model.MultiLanguageProperty(
                    "Name", value=model.MultiLanguageTextType({"en": s}), semantic_id=_ts("Segment/Name")
                ),
                model.Property(
                    "Endpoint",
                    model.datatypes.String,
                    value=f"{api_base}/api/series",
                    semantic_id=_ts("Endpoint"),
                ),
                model.Property(
                    "Query",
                    model.datatypes.String,
                    value=f"path={ref.signal_path(s)}",
                    semantic_id=_ts("Query"),
                ),
            ],
            semantic_id=_ts("Segments/LinkedSegment"),
        )
        for s in signals
    ]
    elements: list[model.SubmodelElement] = [
        metadata,
        model.SubmodelElementCollection("Segments", value=segments, semantic_id=_ts("Segments")),
    ]
    return instance_submodel(ref, "TimeSeries", TIME_SERIES_SEMANTIC_ID, elements)


def instance_submodel(
    ref: AssetRef, id_short: str, semantic_id: str, elements: Iterable[model.SubmodelElement]
) -> model.Submodel:
    """An asset's instance of a template: its id made from the shell's, the template's semanticId."""
    return model.Submodel(
        submodel_id(ref.aas_id, id_short),
        submodel_element=elements,
        id_short=id_short,
        semantic_id=semantic_reference(semantic_id),
        kind=model.ModellingKind.INSTANCE,
    )


def uns_qualifier(path: str) -> model.Qualifier:
    """The binding of a Property to a signal (Part 1, class Qualifier, kind ValueQualifier: it says where
    the value comes from)."""
    return model.Qualifier(
        UNS_QUALIFIER_TYPE, model.datatypes.String, value=path, kind=model.QualifierKind.VALUE_QUALIFIER
    )


def operational_data(ref: AssetRef) -> model.Submodel:
    """One Property per bound signal, valueType xs:double until a live value says otherwise (the plant file does
    not declare types; :func:`werk.twin.binding.refresh` sets the type of the value it reads)."""
    signals = sorted(ref.config.bound_signals())
    elements: list[model.SubmodelElement] = [
        model.Property(
            id_short(signal),
            model.datatypes.Double,
            semantic_id=semantic_reference(f"urn:werk:signal:{signal}"),
            qualifier=(uns_qualifier(ref.signal_path(signal)),),
        )
        for signal in signals
    ]
    return instance_submodel(ref, "OperationalData", OPERATIONAL_DATA_SEMANTIC_ID, elements)


def live_qualifier(kind: str, *paths: str) -> model.Qualifier:
    """A binding of a template element to signals (kind: one of the ``UNS_*_QUALIFIER_TYPE`` of this module)."""
    return model.Qualifier(
        kind, model.datatypes.String, value=" ".join(paths), kind=model.QualifierKind.VALUE_QUALIFIER
    )


# IDTA 02023-1-0 (Carbon Footprint): semantic ids of the template's elements, as published in its template file
_PCF = {
    "ProductCarbonFootprints": "https://admin-shell.io/idta/CarbonFootprint/ProductCarbonFootprints/1/0",
    "ProductCarbonFootprint": "https://admin-shell.io/idta/CarbonFootprint/ProductCarbonFootprint/1/0",
    "PcfCalculationMethods": "https://admin-shell.io/idta/CarbonFootprint/PcfCalculationMethods/1/0",
    "PcfCalculationMethod": "0173-1#02-ABG854#003",
    "PcfCO2eq": "0173-1#02-ABG855#003",
    "ReferenceImpactUnitForCalculation": "0173-1#02-ABG856#003",
    "QuantityOfMeasureForCalculation": "0173-1#02-ABG857#003",
    "LifeCyclePhases": "https://admin-shell.io/idta/CarbonFootprint/LifeCyclePhases/1/0",
    "LifeCyclePhase": "0173-1#02-ABG858#003",
    "PublicationDate": "https://admin-shell.io/idta/CarbonFootprint/PublicationDate/1/0",
}
# values from the value lists of the template's concept descriptions (0173-1#02-ABG854#003, ABG856, ABG858)
PCF_CALCULATION_METHOD = "GHG Protocol"
PCF_REFERENCE_UNIT = "piece"
PCF_LIFE_CYCLE_PHASE = "B6 - usage energy consumption"


def has_carbon_footprint(ref: AssetRef) -> bool:
    signals = ref.config.bound_signals()
    return "energy" in signals and "good_count" in signals


def carbon_footprint(ref: AssetRef, grid_co2_kg_per_kwh: float) -> model.Submodel:
    """Carbon Footprint (IDTA 02023-1-0): one ProductCarbonFootprint, the use phase of this asset per good part.

    What is computed: ``PcfCO2eq`` = energy / good parts x ``grid_co2_kg_per_kwh``, in kg CO2e per part
    (ReferenceImpactUnitForCalculation ``piece``, QuantityOfMeasureForCalculation 1), from the latest samples of
    ``<asset>/energy`` (kWh, the meter's running total) and ``<asset>/good_count``, each time the submodel is read
    (:mod:`werk.twin.binding`); ``PublicationDate`` is the time of the newer of those two samples. Both are running
    totals, so the figure is their ratio since the meter and the counter started together (true of werk's
    simulator; a meter that counts from commissioning while the counter resets per shift gives a wrong figure).
    Scrap is not divided out: a good part carries the energy of the scrap made beside it.

    What is not computed: the footprint of materials and upstream production (A1-A3 of EN 15804), transport and end
    of life. The life cycle phase is therefore ``B6 - usage energy consumption`` only (clause 2, LifeCyclePhase's
    value list), and the calculation method ``GHG Protocol`` (Scope 2, location-based: purchased electricity times a
    grid emission factor). The factor is written into the binding (a ``werk:Scale`` qualifier) when the submodel is
    built; a stored twin keeps the factor it was built with.

    The template's ProductCarbonFootprints is a SubmodelElementList: its item has no idShort (Part 1 AASd-120), so
    the footprint is ``ProductCarbonFootprints[0]``.
    """
    energy, parts = ref.signal_path("energy"), ref.signal_path("good_count")
    co2 = model.Property(
        "PcfCO2eq",
        model.datatypes.Decimal,
        semantic_id=semantic_reference(_PCF["PcfCO2eq"]),
        qualifier=(
            live_qualifier(UNS_QUOTIENT_QUALIFIER_TYPE, energy, parts),
            model.Qualifier(
                SCALE_QUALIFIER_TYPE,
                model.datatypes.Double,
                value=grid_co2_kg_per_kwh,
                kind=model.QualifierKind.VALUE_QUALIFIER,
            ),
        ),
        description=model.MultiLanguageTextType(
            {"en": f"kg CO2e per good part: {energy} (kWh) / {parts} x {grid_co2_kg_per_kwh} kg CO2e/kWh"}
        ),
    )
    footprint = model.SubmodelElementCollection(
        None,
        value=[
            _text_list("PcfCalculationMethods", "PcfCalculationMethod", PCF_CALCULATION_METHOD),
            co2,
            _prop(
                "ReferenceImpactUnitForCalculation",
                _PCF["ReferenceImpactUnitForCalculation"],
                PCF_REFERENCE_UNIT,
            ),
            model.Property(
                "QuantityOfMeasureForCalculation",
                model.datatypes.Double,
                value=1.0,
                semantic_id=semantic_reference(_PCF["QuantityOfMeasureForCalculation"]),
            ),
            _text_list("LifeCyclePhases", "LifeCyclePhase", PCF_LIFE_CYCLE_PHASE),
            model.Property(
                "PublicationDate",
                model.datatypes.DateTime,
                semantic_id=semantic_reference(_PCF["PublicationDate"]),
                qualifier=(live_qualifier(UNS_TIME_QUALIFIER_TYPE, energy, parts),),
            ),
        ],
        semantic_id=semantic_reference(_PCF["ProductCarbonFootprint"]),
        description=model.MultiLanguageTextType(
            {
                "en": "use phase (B6) of this asset per good part: metered electricity times the grid emission "
                "factor; no material or upstream footprint"
            }
        ),
    )
    pcfs = model.SubmodelElementList(
        "ProductCarbonFootprints",
        model.SubmodelElementCollection,
        value=[footprint],
        semantic_id=semantic_reference(_PCF["ProductCarbonFootprints"]),
        semantic_id_list_element=semantic_reference(_PCF["ProductCarbonFootprint"]),
    )
    return instance_submodel(ref, "CarbonFootprint", CARBON_FOOTPRINT_SEMANTIC_ID, [pcfs])


def shell(ref: AssetRef, submodels: list[model.Submodel]) -> model.AssetAdministrationShell:
    specific: list[model.SpecificAssetId] = []
    if ref.config.serial_number:
        specific.append(model.SpecificAssetId("serialNumber", ref.config.serial_number))
    specific.append(model.SpecificAssetId("unsPath", ref.path))
    return model.AssetAdministrationShell(
        model.AssetInformation(
            model.AssetKind.INSTANCE,
            global_asset_id=ref.aas_id,
            specific_asset_id=specific,
            asset_type=ref.config.kind,
        ),
        ref.aas_id,
        id_short=id_short(ref.name),
        submodel={model.ModelReference.from_referable(sm) for sm in submodels},
        description=model.MultiLanguageTextType({"en": ref.config.description})
        if ref.config.description
        else None,
    )


def asset_objects(
    ref: AssetRef,
    api_base: str = "http://127.0.0.1:8080",
    *,
    grid_co2_kg_per_kwh: float | None = None,
    extra: Sequence[model.Submodel] = (),
) -> list[model.Identifiable]:
    """The shell of one asset and its submodels; ``api_base`` is werk's own HTTP address (for time series links).

    CarbonFootprint needs ``grid_co2_kg_per_kwh`` (from the plant file); ``extra`` are the submodels apps add
    (:func:`app_submodels`)."""
    submodels = [nameplate(ref), technical_data(ref), operational_data(ref), time_series(ref, api_base)]
    if grid_co2_kg_per_kwh is not None and has_carbon_footprint(ref):
        submodels.append(carbon_footprint(ref, grid_co2_kg_per_kwh))
    submodels.extend(extra)
    return [shell(ref, submodels), *submodels]


def app_submodels(
    config: WerkConfig, ref: AssetRef, registry: Registry | None = None
) -> list[model.Submodel]:
    """The submodels the enabled apps add to an asset's twin (each app spec's ``submodels``)."""
    from werk.registry import default_registry

    out: list[model.Submodel] = []
    for name, spec in (registry or default_registry()).apps.items():
        settings = config.app(name)
        if spec.submodels is not None and settings is not None and settings.enabled:
            out.extend(spec.submodels(ref, config, settings))
    return out


def build_environment(
    config: WerkConfig, registry: Registry | None = None
) -> model.DictIdentifiableStore[model.Identifiable]:
    """A basyx ObjectStore with one shell and its submodels per asset of the plant file (apps' included)."""
    api_base = f"http://{config.server.host}:{config.server.port}"
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore()
    for ref in config.assets():
        for obj in asset_objects(
            ref,
            api_base,
            grid_co2_kg_per_kwh=config.plant.grid_co2_kg_per_kwh,
            extra=app_submodels(config, ref, registry),
        ):
            store.add(obj)
    return store
