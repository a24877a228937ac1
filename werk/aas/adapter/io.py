"""Import and export of AAS environments as JSON, XML and AASX, for metamodel 3.0 and 3.1.

Formats: IDTA-01001 Part 1 (metamodel 3.0/3.1) with its JSON and XML serialisations and schemas; IDTA-01005 Part 5
(AASX package format 3.0). The contract is all or nothing: a document is either loaded completely or refused with an
:class:`~werk.errors.AasError` listing every finding. Four checks stand between a file and the store, because no
single library does all of them:

1. **Schema and constraints** by aas-core3.0 / aas-core3.1 (the reference SDKs from which the IDTA's test corpus is
   generated): types, required attributes, patterns, lengths and the AASd constraints. basyx-python-sdk checks only
   part of this and, even with ``failsafe=False``, ignores unknown attributes.
2. **The object model** by basyx-python-sdk with its strict decoders (``failsafe=False``); werk keeps basyx objects.
3. **Counts**: what the document holds (counted on the raw JSON/XML, independent of both libraries) must equal what
   landed in the store, so an object a reader skipped silently cannot go unnoticed.
4. **Write-back**: what basyx writes for the loaded objects must pass check 1 again, so nothing enters a store it
   could not be served from. Date, time and duration values basyx cannot hold or would write back changed (years
   before 1 or after 9999, time zones beyond ±12:00, ...) are kept as their text by :mod:`werk.aas.model.xsd_text`.

Where basyx falls short it is wrapped here, not patched: its decoders accept only external references for
``dataSpecification`` (Part 1 allows any Reference, and the IDTA's own test data uses model references); basyx 2.2
reads and writes only the 3.1 XML namespace, so XML of either version is read by aas-core into its JSON form (one
path for checks, repairs and counts); its JSON writer emits
``"specificAssetIds": []`` which the schema forbids (minItems 1), so empty lists are dropped; and it writes a
Qualifier's or Extension's value only when it is truthy, so werk's JSON writer writes ``0``, ``false`` and ``""``
too, and XML is written by aas-core from that JSON rather than by basyx's XML writer.

Two defects occur in the IDTA's own published templates and are handled openly rather than by refusing the file:
duplicate languages in a LangStringSet (02003, 02004, 02006) are joined into one string per language, with a warning per
place; a duplicate identifier with different content (02048) is refused unless the caller asks to keep the first.
"""

from __future__ import annotations

import functools
import io
import json
import posixpath
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, cast
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

import aas_core3.jsonization as j30
import aas_core3.verification as v30
import aas_core3.xmlization as x30
import aas_core3_1.jsonization as j31
import aas_core3_1.verification as v31
import aas_core3_1.xmlization as x31
from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import json_deserialization as basyx_json_in
from basyx.aas.adapter.json import json_serialization as basyx_json_out
from basyx.aas.model.concept import ConceptDescription

from werk.errors import AasError

Metamodel = Literal["3.0", "3.1"]
Duplicates = Literal["refuse", "keep-first"]

NS = {"3.0": "https://admin-shell.io/aas/3/0", "3.1": "https://admin-shell.io/aas/3/1"}
ENV_KEYS: tuple[tuple[str, type[model.Identifiable]], ...] = (
    ("assetAdministrationShells", model.AssetAdministrationShell),
    ("submodels", model.Submodel),
    ("conceptDescriptions", ConceptDescription),
)
# Part 1 LangStringSet attributes; MultiLanguageProperty/value is handled by modelType
# with the maximum text length of each (Part 1 primitive types, Part 3a IEC 61360 data specification)
_LANG_KEYS = {
    "description": 1023,
    "displayName": 128,
    "shortName": 18,
    "preferredName": 255,
    "definition": 1023,
}
MAX_PROBLEMS = 50
MAX_AASX_MEMBER = 512 * 1024 * 1024
"""The most one part of an AASX package may inflate to (bytes): a spec part or a supplementary file."""
MAX_AASX_TOTAL = 1024 * 1024 * 1024
"""The most all parts of an AASX package may inflate to together (bytes)."""
MAX_AASX_RATIO = 100
"""The most a part larger than 1 MiB may inflate to, in times its compressed size: documents and drawings
compress 2-10x, a zip bomb thousands of times."""

# IDTA-01005 Part 5 (AASX): relationship types (older packages spell the host www.admin-shell.io)
_REL_ORIGIN, _REL_SPEC, _REL_SUPPL = "aasx-origin", "aas-spec", "aas-suppl"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"


@dataclass(frozen=True)
class ImportReport:
    """What a document held and what was loaded: counts per top-level list, files, and tolerated defects."""

    source: str
    format: str
    metamodel: str
    counts: dict[str, int]
    loaded: dict[str, int]
    elements: int
    supplementary_files: int = 0
    warnings: tuple[str, ...] = ()


@dataclass
class Loaded:
    """A fully loaded document: basyx objects, AASX supplementary files, and the report."""

    objects: model.DictIdentifiableStore[model.Identifiable]
    files: aasx.DictSupplementaryFileContainer
    report: ImportReport


def _no_files() -> aasx.DictSupplementaryFileContainer:
    return aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]


@dataclass
class _Findings:
    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> AasError:
        extra = len(self.problems) - MAX_PROBLEMS
        shown = self.problems[:MAX_PROBLEMS] + ([f"... and {extra} more"] if extra > 0 else [])
        return AasError(f"{self.source}: {what}; nothing was loaded", tuple(shown))


# --- basyx wrappers ---------------------------------------------------------------------------------------------


def _any_reference_json(
    cls: type[basyx_json_in.AASFromJsonDecoder], dct: dict[str, object], object_class: Any
) -> model.ExternalReference | None:
    if dct.get("type") == "ModelReference":
        # Part 1, EmbeddedDataSpecification/dataSpecification is a Reference of either type
        ref = cls._construct_model_reference(dct, model.Referable)  # type: ignore[type-abstract]
        return cast(model.ExternalReference, ref)
    return None


class OrderedValueList(set):  # type: ignore[type-arg]
    """A concept description's value list (IEC 61360 ``valueList``) that iterates in document order. basyx holds it
    as a ``set``, so every export wrote the values in another order; Part 1 lists them in an order that means
    something to a reader (a scale, a sequence of states). A ``set`` still, for basyx's type checks."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__()
        self._order: list[Any] = []
        for item in items:
            self.add(item)

    def add(self, item: Any) -> None:
        if item not in self:
            super().add(item)
            self._order.append(item)

    def discard(self, item: Any) -> None:
        if item in self:
            super().discard(item)
            self._order.remove(item)

    def remove(self, item: Any) -> None:
        if item not in self:
            raise KeyError(item)
        self.discard(item)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._order))


class _StrictJsonDecoder(basyx_json_in.StrictAASFromJsonDecoder):
    """basyx's strict decoder, accepting model references where Part 1 allows any Reference, and keeping the order
    of value lists (:class:`OrderedValueList`) and the idShorts of list items (metamodel 3.1)."""

    @classmethod
    def _construct_value_list(cls, dct: dict[str, object]) -> Any:
        pairs = basyx_json_in._get_ts(dct, "valueReferencePairs", list)
        return OrderedValueList(cls._construct_value_reference_pair(element) for element in pairs)

    @classmethod
    def _construct_external_reference(
        cls, dct: dict[str, object], object_class: Any = model.ExternalReference
    ) -> model.ExternalReference:
        ref = _any_reference_json(cls, dct, object_class)
        if ref is not None:
            return ref
        return super()._construct_external_reference(dct, object_class)


# what basyx's decoder raises for a document it cannot represent
_DECODE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    NotImplementedError,
    model.AASConstraintViolation,
)


# the idShort basyx gives a list's item that has none (its SubmodelElementList is a namespace by idShort)
_GENERATED_ID_SHORT = "generated_submodel_list_hack_"


class _JsonEncoder(basyx_json_out.AASToJsonEncoder):
    """basyx's JSON writer, writing a Qualifier's or an Extension's value whenever it has one: basyx writes it only
    when it is truthy, so ``0``, ``false`` and ``""`` would vanish on export."""

    @classmethod
    def _qualifier_to_json(cls, obj: model.Qualifier) -> dict[str, object]:
        return cls._with_value(super()._qualifier_to_json(obj), obj.value)

    @classmethod
    def _extension_to_json(cls, obj: model.Extension) -> dict[str, object]:
        return cls._with_value(super()._extension_to_json(obj), obj.value)

    @classmethod
    def _abstract_classes_to_json(cls, obj: object) -> dict[str, object]:
        """basyx's attributes of ``obj``, with the idShort of a list's item that has one: metamodel 3.1 allows it
        and basyx keeps it, but its writer leaves it out (:func:`without_list_item_id_shorts` for 3.0)."""
        data = super()._abstract_classes_to_json(obj)
        if (
            isinstance(obj, model.SubmodelElement)
            and isinstance(obj.parent, model.SubmodelElementList)
            and obj.id_short
            and not obj.id_short.startswith(_GENERATED_ID_SHORT)
        ):
            data["idShort"] = obj.id_short
        return data

    @staticmethod
    def _with_value(data: dict[str, object], value: object) -> dict[str, object]:
        if value is not None and "value" not in data:
            data["value"] = model.datatypes.xsd_repr(value)
        return data


def to_jsonable(obj: object) -> Any:
    """A basyx object (Identifiable, SubmodelElement, Reference, ...) as JSON data per Part 1's JSON serialisation.

    Empty lists are dropped: every list in the 3.0/3.1 JSON schema has minItems 1, and basyx writes some empty.
    """
    try:
        text = json.dumps(obj, cls=_JsonEncoder)
    except (ValueError, TypeError, OverflowError, NotImplementedError) as exc:
        raise AasError(f"{obj} cannot be serialised by basyx-python-sdk: {_short(exc)}") from None
    return _drop_empty(json.loads(text))


# attributes basyx holds as unordered sets; sorted by their keys so the same object always serialises the same
_SET_VALUED = frozenset({"isCaseOf"})


def _drop_empty(data: Any) -> Any:
    if isinstance(data, dict):
        out = {k: _drop_empty(v) for k, v in data.items() if not (isinstance(v, list) and not v)}
        for key in _SET_VALUED | (
            {"submodels"} if data.get("modelType") == "AssetAdministrationShell" else set()
        ):
            if isinstance(out.get(key), list):
                out[key] = sorted(out[key], key=lambda r: json.dumps(r, sort_keys=True))
        return out
    if isinstance(data, list):
        return [_drop_empty(v) for v in data]
    return data


# --- validation by aas-core -------------------------------------------------------------------------------------


def validation_problems(kind: str, data: Any, metamodel: Metamodel = "3.0") -> list[str]:
    """Schema and constraint findings for JSON data of one class (``kind``: Environment, Submodel,
    AssetAdministrationShell, ConceptDescription, SubmodelElement, Reference), empty when valid."""
    try:
        if metamodel == "3.0":
            reader30 = {
                "Environment": j30.environment_from_jsonable,
                "Submodel": j30.submodel_from_jsonable,
                "AssetAdministrationShell": j30.asset_administration_shell_from_jsonable,
                "ConceptDescription": j30.concept_description_from_jsonable,
                "SubmodelElement": j30.submodel_element_from_jsonable,
                "Reference": j30.reference_from_jsonable,
                "AssetInformation": j30.asset_information_from_jsonable,
            }[kind]
            return [f"{e.path}: {e.cause}" for e in v30.verify(reader30(data))]
        reader31 = {
            "Environment": j31.environment_from_jsonable,
            "Submodel": j31.submodel_from_jsonable,
            "AssetAdministrationShell": j31.asset_administration_shell_from_jsonable,
            "ConceptDescription": j31.concept_description_from_jsonable,
            "SubmodelElement": j31.submodel_element_from_jsonable,
            "Reference": j31.reference_from_jsonable,
            "AssetInformation": j31.asset_information_from_jsonable,
        }[kind]
        return [f"{e.path}: {e.cause}" for e in v31.verify(reader31(data))]
    except (j30.DeserializationException, j31.DeserializationException) as exc:
        return [f"{exc.path}: {exc.cause}"]
    except ValueError as exc:  # raised inside aas-core's reader: a Blob's value that is not base64, say
        return [f"{kind}: {exc}"]


# --- repairs of defects found in published templates ------------------------------------------------------------


def _join_duplicate_languages(data: Any, path: str, warnings: list[str]) -> Any:
    """Join texts of a repeated language in a LangStringSet (Part 1 requires one string per language)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            is_langs = k in _LANG_KEYS or (k == "value" and data.get("modelType") == "MultiLanguageProperty")
            if is_langs and isinstance(v, list) and all(isinstance(x, dict) and "language" in x for x in v):
                out[k] = _join_langs(v, f"{path}.{k}", _LANG_KEYS.get(k, 1023), warnings)
            else:
                out[k] = _join_duplicate_languages(v, f"{path}.{k}", warnings)
        return out
    if isinstance(data, list):
        return [_join_duplicate_languages(v, f"{path}[{i}]", warnings) for i, v in enumerate(data)]
    return data


def _join_langs(
    items: list[dict[str, Any]], path: str, max_len: int, warnings: list[str]
) -> list[dict[str, Any]]:
    """Join a repeated language's texts with a newline; where that would pass the attribute's maximum length, keep
    the first text and name the dropped ones in the warning, so nothing disappears without a trace."""
    by_lang: dict[Any, dict[str, Any]] = {}
    for item in items:
        lang, text = item["language"], item.get("text")
        if not isinstance(lang, str):
            return items  # malformed entries: leave them to the schema check
        if lang not in by_lang:
            by_lang[lang] = item
            continue
        first = by_lang[lang].get("text")
        if not isinstance(first, str) or not isinstance(text, str):
            return items  # malformed entries: leave them to the schema check
        if len(first) + 1 + len(text) <= max_len:
            by_lang[lang] = {**by_lang[lang], "text": first + "\n" + text}
            warnings.append(
                f"{path}: language {lang!r} repeated; texts joined with a newline (Part 1: one string per language)"
            )
        else:
            warnings.append(
                f"{path}: language {lang!r} repeated; joined text would pass {max_len} characters, "
                f"kept {first!r}, dropped {text!r}"
            )
    return list(by_lang.values())


def _dedupe_identifiables(data: dict[str, Any], dup: Duplicates, findings: _Findings) -> dict[str, Any]:
    out = dict(data)
    seen: dict[str, tuple[str, int, Any]] = {}
    for key, _ in ENV_KEYS:
        items = data.get(key)
        if not isinstance(items, list):
            continue
        kept: list[Any] = []
        for i, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                kept.append(item)
                continue
            if ident not in seen:
                seen[ident] = (key, i, item)
                kept.append(item)
                continue
            first_key, first_i, first = seen[ident]
            where = f"{key}[{i}] repeats id {ident!r} of {first_key}[{first_i}]"
            if first == item:
                findings.warnings.append(f"{where} with identical content; kept once")
            elif dup == "keep-first":
                findings.warnings.append(f"{where} with different content; kept the first, dropped this one")
            else:
                findings.problems.append(
                    f"{where} with different content (an Identifiable's id is unique, Part 1); "
                    "fix the file or import with duplicates='keep-first'"
                )
        out[key] = kept
    return out


# --- counting, independent of both libraries --------------------------------------------------------------------


def _count_json_model_objects(data: Any) -> int:
    if isinstance(data, dict):
        return int("modelType" in data) + sum(_count_json_model_objects(v) for v in data.values())
    if isinstance(data, list):
        return sum(_count_json_model_objects(v) for v in data)
    return 0


def _count_basyx(objects: Iterable[model.Identifiable]) -> int:
    return sum(_count_referable(o) for o in objects)


def _count_referable(obj: object) -> int:
    n = 1 + _count_data_specs(obj)
    if isinstance(obj, model.Identifiable) and obj.administration is not None:
        n += _count_data_specs(obj.administration)
    children: Iterable[object] = ()
    if isinstance(obj, model.Submodel | model.SubmodelElementCollection | model.SubmodelElementList):
        children = obj.submodel_element if isinstance(obj, model.Submodel) else obj.value
    elif isinstance(obj, model.Entity):
        children = obj.statement
    elif isinstance(obj, model.AnnotatedRelationshipElement):
        children = obj.annotation
    elif isinstance(obj, model.Operation):
        children = [*obj.input_variable, *obj.output_variable, *obj.in_output_variable]
    return n + sum(_count_referable(c) for c in children)


def _count_data_specs(obj: object) -> int:
    if isinstance(obj, model.HasDataSpecification):
        return sum(
            isinstance(s.data_specification_content, model.DataSpecificationIEC61360)
            for s in obj.embedded_data_specifications
        )
    return 0


def _loaded_counts(store: model.DictIdentifiableStore[model.Identifiable]) -> dict[str, int]:
    return {key: sum(isinstance(o, cls) for o in store) for key, cls in ENV_KEYS}


def _check_counts(
    findings: _Findings,
    store: model.DictIdentifiableStore[model.Identifiable],
    counts: dict[str, int],
    elements: int,
) -> None:
    loaded = _loaded_counts(store)
    for key, n in counts.items():
        if loaded[key] != n:
            findings.problems.append(f"{key}: the document holds {n}, the reader produced {loaded[key]}")
    got = _count_basyx(store)
    if got != elements:
        findings.problems.append(f"the document holds {elements} model objects, the reader produced {got}")


# --- JSON ---------------------------------------------------------------------------------------------------------


def _not_too_deep(read: Callable[..., Loaded]) -> Callable[..., Loaded]:
    """``read`` refusing a document nested deeper than Python's parsers and basyx can follow (a RecursionError) as
    invalid, like any other: a request or a file must not make werk fail with an internal error."""

    @functools.wraps(read)
    def checked(data: Any, *, source: str = "<document>", **kwargs: Any) -> Loaded:
        try:
            return read(data, source=source, **kwargs)
        except RecursionError:
            raise AasError(f"{source}: nested too deeply to be read; nothing was loaded") from None

    return checked


@_not_too_deep
def read_json(
    data: bytes | str,
    *,
    source: str = "<json>",
    metamodel: Metamodel = "3.0",
    duplicates: Duplicates = "refuse",
) -> Loaded:
    """Load a JSON environment (Part 1 JSON serialisation) completely, or raise :class:`AasError` listing why not."""
    findings = _Findings(source)
    try:
        raw = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AasError(f"{source}: not a JSON document ({exc}); nothing was loaded") from None
    if not isinstance(raw, dict):
        raise AasError(f"{source}: an AAS environment is a JSON object, got {type(raw).__name__}")
    doc_counts = {key: len(raw[key]) if isinstance(raw.get(key), list) else 0 for key, _ in ENV_KEYS}
    raw = _dedupe_identifiables(raw, duplicates, findings)
    raw = _join_duplicate_languages(raw, "$", findings.warnings)
    findings.problems += validation_problems("Environment", raw, metamodel)
    if findings.problems:
        raise findings.refuse(f"invalid AAS {metamodel} environment")
    counts = {key: len(raw.get(key, ())) for key, _ in ENV_KEYS}
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore()
    try:
        basyx_json_in.read_aas_json_file_into(store, io.StringIO(json.dumps(raw)), decoder=_StrictJsonDecoder)
    except _DECODE_ERRORS as exc:
        findings.problems.append(f"cannot be represented: {type(exc).__name__}: {_short(exc)}")
        raise findings.refuse("valid, but not loadable by basyx-python-sdk") from None
    _check_counts(findings, store, counts, _count_json_model_objects(raw))
    try:
        # what cannot be written back, or only as an invalid document, must not enter the store
        write_json(store, metamodel=metamodel, validate=True)
    except AasError as exc:
        findings.problems += [f"basyx-python-sdk cannot write it back as a valid document: {exc}"]
    if findings.problems:
        raise findings.refuse("incomplete read")
    report = ImportReport(
        source,
        "json",
        metamodel,
        doc_counts,
        _loaded_counts(store),
        _count_basyx(store),
        0,
        tuple(findings.warnings),
    )
    return Loaded(store, _no_files(), report)


def _short(exc: BaseException, limit: int = 400) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _exportable(
    objects: Iterable[model.Identifiable], metamodel: Metamodel, validate: bool
) -> dict[str, list[Any]]:
    """The JSON form of an export; with ``validate`` refuses one the target metamodel would not accept."""
    env = environment_jsonable(objects, metamodel)
    if validate:
        problems = validation_problems("Environment", env, metamodel)
        if problems:
            raise AasError(
                f"export is not a valid AAS {metamodel} environment", tuple(problems[:MAX_PROBLEMS])
            )
    return env


def environment_jsonable(
    objects: Iterable[model.Identifiable], metamodel: Metamodel = "3.1"
) -> dict[str, list[Any]]:
    """Objects as a JSON environment, lists in the Part 1 order, empty lists left out; for ``metamodel`` 3.0
    without the idShorts of list items, which 3.0 forbids (AASd-120) and 3.1 allows."""
    objs = list(objects)
    out: dict[str, list[Any]] = {}
    for key, cls in ENV_KEYS:
        items = [to_jsonable(o) for o in objs if isinstance(o, cls)]
        if items:
            out[key] = items
    return without_list_item_id_shorts(out) if metamodel == "3.0" else out


def without_list_item_id_shorts(data: Any) -> Any:
    """``data`` (JSON) with no idShort on the items of a SubmodelElementList (metamodel 3.0, AASd-120)."""
    if isinstance(data, list):
        return [without_list_item_id_shorts(x) for x in data]
    if not isinstance(data, dict):
        return data
    out = {k: without_list_item_id_shorts(v) for k, v in data.items()}
    if out.get("modelType") == "SubmodelElementList" and isinstance(out.get("value"), list):
        out["value"] = [{k: v for k, v in item.items() if k != "idShort"} for item in out["value"]]
    return out


def write_json(
    objects: Iterable[model.Identifiable], *, metamodel: Metamodel = "3.0", validate: bool = True
) -> bytes:
    """A JSON environment; with ``validate`` refuses output that the target metamodel would not accept."""
    env = _exportable(objects, metamodel, validate)
    return json.dumps(env, ensure_ascii=False, indent=2).encode()


# --- XML ----------------------------------------------------------------------------------------------------------


def _parse_xml(data: bytes, source: str) -> ET.Element:
    # AAS XML has no document type: a DTD would only bring entities (expansion bombs, external files); the stdlib
    # parser resolves no external entities and its expat (>= 2.4) refuses expansion bombs, but none gets that far
    if b"<!DOCTYPE" in data.upper():
        raise AasError(
            f"{source}: the document declares a DOCTYPE, which AAS XML has no use for; nothing was loaded"
        )
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise AasError(f"{source}: not an XML document ({exc}); nothing was loaded") from None


def _xml_metamodel(root: ET.Element, source: str) -> Metamodel:
    tag = root.tag if isinstance(root.tag, str) else ""
    for version, ns in NS.items():
        if tag == "{" + ns + "}environment":
            return cast(Metamodel, version)
    raise AasError(
        f"{source}: root element {tag!r} is not an AAS environment "
        f"(expected <environment> in {NS['3.0']} or {NS['3.1']})"
    )


@_not_too_deep
def read_xml(data: bytes, *, source: str = "<xml>", duplicates: Duplicates = "refuse") -> Loaded:
    """Load an XML environment (Part 1 XML serialisation); the metamodel version is the document's namespace."""
    root = _parse_xml(data, source)
    metamodel = _xml_metamodel(root, source)
    # Convert to the JSON form once, through aas-core: the checks, repairs and counts are then the JSON ones,
    # and the XML-specific part is only the syntax
    text = ET.tostring(root, encoding="unicode")
    try:
        if metamodel == "3.0":
            env30 = x30.environment_from_str(text)
            jsonable: Any = j30.to_jsonable(env30)
        else:
            env31 = x31.environment_from_str(text)
            jsonable = j31.to_jsonable(env31)
    except (x30.DeserializationException, x31.DeserializationException) as exc:
        raise AasError(
            f"{source}: invalid AAS {metamodel} XML; nothing was loaded", (f"{exc.path}: {exc.cause}",)
        ) from None
    xml_counts = _count_xml(root)
    loaded = read_json(json.dumps(jsonable), source=source, metamodel=metamodel, duplicates=duplicates)
    if xml_counts != loaded.report.counts:
        raise AasError(
            f"{source}: XML lists hold {xml_counts}, the XML reader produced {loaded.report.counts}"
        )
    report = ImportReport(
        source,
        "xml",
        metamodel,
        xml_counts,
        loaded.report.loaded,
        loaded.report.elements,
        0,
        loaded.report.warnings,
    )
    return Loaded(loaded.objects, loaded.files, report)


def _count_xml(root: ET.Element) -> dict[str, int]:
    ns = root.tag[1 : root.tag.index("}")] if isinstance(root.tag, str) and root.tag.startswith("{") else ""
    counts = {}
    for key, _ in ENV_KEYS:
        lst = root.find("{" + ns + "}" + key)
        counts[key] = 0 if lst is None else sum(1 for c in lst if isinstance(c.tag, str))
    return counts


def write_xml(
    objects: Iterable[model.Identifiable], *, metamodel: Metamodel = "3.0", validate: bool = True
) -> bytes:
    """An XML environment in the namespace of ``metamodel``.

    Written by aas-core from werk's JSON form, not by basyx's XML writer: basyx writes a Qualifier's or an
    Extension's value only when it is truthy (``0``, ``false`` and ``""`` vanish), and writes only the 3.1
    namespace. One JSON form for both formats also means both say the same."""
    env = _exportable(objects, metamodel, validate)
    try:
        if metamodel == "3.0":
            text = x30.to_str(j30.environment_from_jsonable(env))
        else:
            text = x31.to_str(j31.environment_from_jsonable(env))
    except (j30.DeserializationException, j31.DeserializationException) as exc:
        raise AasError(f"export cannot be written as AAS {metamodel} XML: {exc}") from None
    root = ET.fromstring(text)
    ET.indent(root)
    return _xml_bytes(root, NS[metamodel])


def _xml_bytes(root: ET.Element, namespace: str) -> bytes:
    out: bytes = ET.tostring(root, xml_declaration=True, encoding="UTF-8", default_namespace=namespace)
    return out


# --- AASX ---------------------------------------------------------------------------------------------------------


def _rels(z: zipfile.ZipFile, part: str) -> Iterator[tuple[str, str]]:
    """(type, absolute target) of each relationship of ``part`` ("" for the package), ECMA-376 Part 2 (OPC) relationship parts."""
    directory, name = posixpath.split(part.lstrip("/"))
    rels_name = posixpath.join(directory, "_rels", name + ".rels")
    try:
        data = z.read(rels_name)
    except KeyError:
        return
    for rel in ET.fromstring(data).iter("{" + _RELS_NS + "}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        absolute = target if target.startswith("/") else "/" + posixpath.join(directory, target)
        yield rel.get("Type", ""), posixpath.normpath(absolute)


@_not_too_deep
def read_aasx(
    data: bytes | IO[bytes],
    *,
    source: str = "<aasx>",
    metamodel: Metamodel = "3.0",
    duplicates: Duplicates = "refuse",
) -> Loaded:
    """Load an AASX package (IDTA-01005 Part 5): every aas-spec part, and every aas-suppl file they reference.

    ``metamodel`` applies to JSON spec parts; XML parts declare theirs by namespace.
    """
    try:
        z = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except zipfile.BadZipFile as exc:
        raise AasError(f"{source}: not an AASX package ({exc}); nothing was loaded") from None
    _check_inflation(z, source)
    names = set(z.namelist())
    origins = [t for typ, t in _rels(z, "") if typ.endswith("/" + _REL_ORIGIN)]
    if len(origins) != 1:
        raise AasError(
            f"{source}: expected one aasx-origin relationship in _rels/.rels, found {len(origins)}"
        )
    specs = [t for typ, t in _rels(z, origins[0]) if typ.endswith("/" + _REL_SPEC)]
    if not specs:
        raise AasError(f"{source}: the package has no aas-spec part (IDTA-01005 Part 5)")
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore()
    files = _no_files()
    counts = {key: 0 for key, _ in ENV_KEYS}
    warnings: list[str] = []
    elements = 0
    versions: set[str] = set()
    for spec in specs:
        part = spec.lstrip("/")
        if part not in names:
            raise AasError(f"{source}: aas-spec part {spec} is named in the relationships but absent")
        body = z.read(part)
        where = f"{source}!{spec}"
        if part.endswith(".json"):
            loaded = read_json(body, source=where, metamodel=metamodel, duplicates=duplicates)
        elif part.endswith(".xml"):
            loaded = read_xml(body, source=where, duplicates=duplicates)
        else:
            raise AasError(f"{source}: aas-spec part {spec} is neither .xml nor .json")
        versions.add(loaded.report.metamodel)
        for obj in loaded.objects:
            if store.get(obj.id) is not None:
                raise AasError(f"{source}: identifier {obj.id!r} appears in two aas-spec parts")
            store.add(obj)
        for k, v in loaded.report.counts.items():
            counts[k] += v
        elements += loaded.report.elements
        warnings += loaded.report.warnings
        for typ, target in _rels(z, spec):
            if not typ.endswith("/" + _REL_SUPPL):
                continue
            if target.lstrip("/") not in names:
                raise AasError(
                    f"{source}: supplementary file {target} is named in the relationships but absent"
                )
            files.add_file(target, io.BytesIO(z.read(target.lstrip("/"))), _content_type(z, target))
    suppl = sum(1 for _ in files)
    for ref in _file_references(store):
        if ref.startswith("/") and ref not in files:
            warnings.append(f"File element refers to {ref}, which is not in the package")
    report = ImportReport(
        source,
        "aasx",
        "/".join(sorted(versions)),
        counts,
        _loaded_counts(store),
        elements,
        suppl,
        tuple(warnings),
    )
    return Loaded(store, files, report)


def _check_inflation(z: zipfile.ZipFile, source: str) -> None:
    """Refuse a package with a part named outside it (``../``, an absolute path: harmless here, where no part is
    written to disk by its name, but no valid package has one), or whose parts would inflate beyond :data:`MAX_AASX_MEMBER` each, :data:`MAX_AASX_TOTAL`
    together or :data:`MAX_AASX_RATIO` times their compressed size, before any is inflated. The sizes are the
    package's own declaration; zipfile's reader stops at the declared size, so a part that lies cannot get past it."""
    total = 0
    for info in z.infolist():
        total += info.file_size
        if info.filename.startswith(("/", "\\")) or ".." in info.filename.replace("\\", "/").split("/"):
            raise AasError(
                f"{source}: part name {info.filename!r} leaves the package (OPC part names do not); nothing was loaded"
            )
        if info.file_size > MAX_AASX_MEMBER:
            raise AasError(
                f"{source}: part {info.filename} inflates to {info.file_size:,} bytes, more than the "
                f"{MAX_AASX_MEMBER:,} werk takes for one part; nothing was loaded"
            )
        if info.file_size > 1024 * 1024 and info.file_size > MAX_AASX_RATIO * max(info.compress_size, 1):
            raise AasError(
                f"{source}: part {info.filename} inflates {info.file_size // max(info.compress_size, 1):,} times "
                f"its compressed size, more than the {MAX_AASX_RATIO} werk takes (a zip bomb?); nothing was loaded"
            )
    if total > MAX_AASX_TOTAL:
        raise AasError(
            f"{source}: the package inflates to {total:,} bytes, more than the {MAX_AASX_TOTAL:,} werk takes; "
            "nothing was loaded"
        )


def _content_type(z: zipfile.ZipFile, part: str) -> str:
    try:
        types = ET.fromstring(z.read("[Content_Types].xml"))
    except KeyError:
        return "application/octet-stream"
    for o in types.iter("{" + _CT_NS + "}Override"):
        if o.get("PartName", "").lower() == part.lower():
            return o.get("ContentType", "application/octet-stream")
    ext = PurePosixPath(part).suffix.lstrip(".").lower()
    for d in types.iter("{" + _CT_NS + "}Default"):
        if d.get("Extension", "").lower() == ext:
            return d.get("ContentType", "application/octet-stream")
    return "application/octet-stream"


def _file_references(objects: Iterable[model.Identifiable]) -> Iterator[str]:
    for obj in objects:
        if isinstance(obj, model.Submodel):
            for el in _walk(obj.submodel_element):
                if isinstance(el, model.File) and el.value:
                    yield el.value
        elif isinstance(obj, model.AssetAdministrationShell):
            thumb = obj.asset_information.default_thumbnail
            if thumb is not None and thumb.path:
                yield thumb.path


def _walk(elements: Iterable[model.SubmodelElement]) -> Iterator[model.SubmodelElement]:
    for el in elements:
        yield el
        if isinstance(el, model.SubmodelElementCollection | model.SubmodelElementList):
            yield from _walk(el.value)
        elif isinstance(el, model.Entity):
            yield from _walk(el.statement)
        elif isinstance(el, model.AnnotatedRelationshipElement):
            yield from _walk(el.annotation)


def write_aasx(
    objects: Iterable[model.Identifiable],
    files: aasx.AbstractSupplementaryFileContainer | None = None,
    *,
    metamodel: Metamodel = "3.0",
    validate: bool = True,
) -> bytes:
    """An AASX package (IDTA-01005 Part 5) with one XML aas-spec part and the supplementary files in ``files``."""
    objs = list(objects)
    spec = "/aasx/data.xml"
    # every file of the container: templates link files by relationship only, with no File element naming them
    suppl = sorted(files) if files is not None else []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _content_types(suppl, files))
        z.writestr("_rels/.rels", _rels_xml([("aasx-origin", "/aasx/aasx-origin")]))
        z.writestr("aasx/aasx-origin", "Intentionally empty.")
        z.writestr("aasx/_rels/aasx-origin.rels", _rels_xml([("aas-spec", spec)]))
        z.writestr(spec.lstrip("/"), write_xml(objs, metamodel=metamodel, validate=validate))
        if suppl:
            z.writestr("aasx/_rels/data.xml.rels", _rels_xml([("aas-suppl", name) for name in suppl]))
        for name in suppl:
            assert files is not None
            out = io.BytesIO()
            files.write_file(name, out)
            z.writestr(name.lstrip("/"), out.getvalue())
    return buf.getvalue()


def _rels_xml(rels: list[tuple[str, str]]) -> bytes:
    lines = [f'<Relationships xmlns="{_RELS_NS}">']
    for i, (kind, target) in enumerate(rels, 1):
        rel_type = f"http://admin-shell.io/aasx/relationships/{kind}"
        lines.append(f'  <Relationship Type={quoteattr(rel_type)} Target={quoteattr(target)} Id="R{i}"/>')
    lines.append("</Relationships>")
    return _XML_DECLARATION + "\n".join(lines).encode()


def _content_types(suppl: list[str], files: aasx.AbstractSupplementaryFileContainer | None) -> bytes:
    lines = [
        f'<Types xmlns="{_CT_NS}">',
        '  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
        '  <Default Extension="xml" ContentType="text/xml"/>',
        '  <Override PartName="/aasx/aasx-origin" ContentType="text/plain"/>',
    ]
    for name in suppl:
        assert files is not None
        ctype = files.get_content_type(name)
        lines.append(f"  <Override PartName={quoteattr(name)} ContentType={quoteattr(ctype)}/>")
    lines.append("</Types>")
    return _XML_DECLARATION + "\n".join(lines).encode()


_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


# --- by file name ---------------------------------------------------------------------------------------------------


def read_file(
    path: str | Path, *, metamodel: Metamodel | None = None, duplicates: Duplicates = "refuse"
) -> Loaded:
    """Load a .json, .xml or .aasx file. For JSON the metamodel is ``metamodel``, else 3.1 when the file name says
    ``forAASMetamodelV3.1`` (the IDTA's naming), else 3.0; XML says its own."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AasError(f"{p}: cannot read ({exc.strerror})") from None
    mm: Metamodel = metamodel or ("3.1" if "MetamodelV3.1" in p.name else "3.0")
    suffix = p.suffix.lower()
    if suffix == ".json":
        return read_json(data, source=str(p), metamodel=mm, duplicates=duplicates)
    if suffix == ".xml":
        return read_xml(data, source=str(p), duplicates=duplicates)
    if suffix == ".aasx":
        return read_aasx(data, source=str(p), metamodel=mm, duplicates=duplicates)
    raise AasError(f"{p}: unknown AAS file type {suffix!r} (expected .json, .xml or .aasx)")


# --- single objects (API request bodies, stored rows) ---------------------------------------------------------------

_IDENTIFIABLE_KINDS: dict[str, type[model.Identifiable]] = {
    "AssetAdministrationShell": model.AssetAdministrationShell,
    "Submodel": model.Submodel,
    "ConceptDescription": ConceptDescription,
}


def decode(data: Any, kind: str, *, metamodel: Metamodel = "3.0", validate: bool = True) -> object:
    """One object from its JSON form: an Identifiable, a SubmodelElement, a Reference or an AssetInformation
    (``kind`` as in :func:`validation_problems`). Raises :class:`AasError` with the findings when invalid."""
    if validate:
        problems = validation_problems(kind, data, metamodel)
        if problems:
            raise AasError(f"invalid {kind} (AAS {metamodel})", tuple(problems[:MAX_PROBLEMS]))
    try:
        obj: object = json.loads(json.dumps(data), cls=_StrictJsonDecoder)
        if kind == "Reference":
            obj = _StrictJsonDecoder._construct_reference(cast(dict[str, object], obj))
        elif kind == "AssetInformation":
            obj = _StrictJsonDecoder._construct_asset_information(cast(dict[str, object], obj))
    except _DECODE_ERRORS as exc:
        raise AasError(f"{kind} cannot be represented by basyx-python-sdk: {_short(exc)}") from None
    kinds: dict[str, type[object]] = {
        **_IDENTIFIABLE_KINDS,
        "SubmodelElement": model.SubmodelElement,
        "Reference": model.Reference,
        "AssetInformation": model.AssetInformation,
    }
    expected = kinds[kind]
    if not isinstance(obj, expected):
        raise AasError(f"expected a {kind}, got {type(obj).__name__}")
    if kind != "AssetInformation":
        to_jsonable(obj)  # raises AasError if it could not be written back
    return obj


def decode_identifiable(
    data: Any, *, metamodel: Metamodel = "3.0", validate: bool = True
) -> model.Identifiable:
    """A shell, submodel or concept description from JSON, chosen by its ``modelType``."""
    kind = data.get("modelType") if isinstance(data, dict) else None
    if kind not in _IDENTIFIABLE_KINDS:
        raise AasError(f"expected modelType one of {sorted(_IDENTIFIABLE_KINDS)}, got {kind!r}")
    return cast(model.Identifiable, decode(data, str(kind), metamodel=metamodel, validate=validate))
