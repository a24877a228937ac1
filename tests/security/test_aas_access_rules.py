"""AAS access rules (IDTA-01004) against the specification's own material: its examples in JSON and in the text
grammar, its JSON schema and every case of its conformance test corpus (read from the corpus page at test time)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from werk.aas.access.decide import Request, decide, right_of
from werk.aas.access.formula import NA, evaluate
from werk.aas.access.rules import RuleError, load_rules, schema
from werk.aas.access.text import parse_text

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "aas" / "security-01004"
pytestmark = pytest.mark.skipif(
    not SPEC.is_dir(), reason=f"the IDTA-01004 material is not at {SPEC} (../shared/data of the checkout)"
)
EXAMPLES = sorted(p.stem for p in (SPEC / "examples").glob("*.json")) if SPEC.is_dir() else []

# Where the specification's own examples say different things in their JSON and text forms (read off the two
# files; werk does not paper over them). Each entry: the JSON pointers at which the two documents differ.
SPEC_DIFFERENCES: dict[str, set[str]] = {
    # text: IDENTIFIABLE "(Submodel)*", $regex($sm#id, ...), "09:00" as a string; JSON: ROUTE "*",
    # REFERENCE "(Submodel)*#Id", $timeVal
    "allow-read-submodels-id-pattern": {
        "/AllAccessPermissionRules/rules/0/OBJECTS/0/ROUTE",
        "/AllAccessPermissionRules/rules/0/OBJECTS/0/IDENTIFIABLE",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/2/$regex/0/$attribute",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/2/$regex/0/$field",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/3/$ge/1/$strVal",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/3/$ge/1/$timeVal",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/4/$le/1/$strVal",
        "/AllAccessPermissionRules/rules/0/FORMULA/$and/4/$le/1/$timeVal",
    },
    # text: DESCRIPTOR "(aasDesc)*"; JSON: "(aasdesc)*"
    "filter": {"/AllAccessPermissionRules/rules/0/OBJECTS/0/DESCRIPTOR"},
    # text: GLOBAL(UTCNOW) among the ACL's attributes and $gt "15:00"; JSON: neither, $eq $timeVal
    "reuse-acl-object-formula": {
        "/AllAccessPermissionRules/DEFACLS/0/acl/ATTRIBUTES",
        "/AllAccessPermissionRules/DEFFORMULAS/0/formula/$and/0/$eq",
        "/AllAccessPermissionRules/DEFFORMULAS/0/formula/$and/0/$gt",
    },
}


def differences(a: Any, b: Any, at: str = "") -> Iterator[str]:
    if type(a) is not type(b):
        yield at
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                yield f"{at}/{k}"
            else:
                yield from differences(a[k], b[k], f"{at}/{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield at
        else:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from differences(x, y, f"{at}/{i}")
    elif a != b:
        yield at


@dataclass
class Subject:
    """A caller and the request's objects as plain JSON (what :mod:`werk.aas.http.access_front` makes from the
    store)."""

    claims: Mapping[str, list[str]] = field(default_factory=dict)
    objects: Mapping[str, Any] = field(default_factory=dict)
    anonymous: bool = False
    now: datetime = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)

    def object(self, kind: str) -> Any:
        return self.objects.get(kind)

    def element(self, path: str) -> Any:
        return None

    def reference(self, text: str) -> list[Any]:
        raise LookupError(text)


def rules_of(*rules: dict[str, Any], **defs: Any) -> Any:
    return load_rules({"AllAccessPermissionRules": {**defs, "rules": list(rules)}})


def rule(
    right: str = "READ", formula: Any = None, objects: Any = None, attributes: Any = None, **more: Any
) -> dict[str, Any]:
    return {
        "ACL": {
            "ATTRIBUTES": attributes if attributes is not None else [{"GLOBAL": "ANONYMOUS"}],
            "RIGHTS": [right] if isinstance(right, str) else right,
            "ACCESS": "ALLOW",
        },
        "OBJECTS": objects or [{"ROUTE": "*"}],
        "FORMULA": formula or {"$boolean": True},
        **more,
    }


def eq(field_: str, value: str) -> dict[str, Any]:
    return {"$eq": [{"$field": field_}, {"$strVal": value}]}


def sm(sm_id: str = "urn:sm:1", semantic: str = "S1", supplemental: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    def ref(v: str) -> dict[str, Any]:
        return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": v}]}

    return {
        "id": sm_id,
        "idShort": "sm",
        "semanticId": ref(semantic),
        "supplementalSemanticIds": [ref(v) for v in supplemental],
        "modelType": "Submodel",
    }


GET_SM = Request("GET", "/submodels/dXJuOnNtOjE", "READ", ids={"sm": "urn:sm:1"})


# --- the examples -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_validates_against_the_schema_and_reads_the_same_from_json_and_text(name: str) -> None:
    as_json = json.loads((SPEC / "examples" / f"{name}.json").read_text())
    as_text = parse_text((SPEC / "examples" / f"{name}.bnf").read_text(), name)
    for doc in (as_json, as_text):
        jsonschema.Draft7Validator(schema()).validate(doc["AllAccessPermissionRules"])
        load_rules(doc)
    assert set(differences(as_json, as_text)) == SPEC_DIFFERENCES.get(name, set())


def test_the_bundled_schema_is_the_published_one() -> None:
    published = json.loads((SPEC / "json" / "aas-queries-and-access-rules-schema.json").read_text())
    bundled = json.loads((Path(__file__).parents[2] / "werk" / "aas" / "access" / "schema.json").read_text())
    assert bundled == published


def test_a_rule_file_in_text_and_json_loads_from_disk(tmp_path: Path) -> None:
    for name in ("filter.bnf", "filter.json"):
        rules = load_rules(SPEC / "examples" / name)
        assert rules.rules[0].filter is not None
        assert rules.rules[0].filter.fragment == "$aasdesc#specificAssetIds[]"


def test_the_bpn_example_allows_only_its_business_partner() -> None:
    rules = load_rules(SPEC / "examples" / "bpn.bnf")
    assert decide(rules, GET_SM, Subject({"BusinessPartnerNumber": ["BPN1234"]})).allowed
    assert not decide(rules, GET_SM, Subject({"BusinessPartnerNumber": ["BPN9"]})).allowed
    assert not decide(rules, GET_SM, Subject(anonymous=True)).allowed


def test_the_company_example_reads_semantic_ids_and_email_regex() -> None:
    rules = load_rules(SPEC / "examples" / "allow-read-all-users-of-company-for-submodel.json")
    ok = Subject({"email": ["ann@company.com"]}, {"sm": sm(semantic="SemanticID-Nameplate")})
    assert decide(rules, GET_SM, ok).allowed
    other = Subject({"email": ["ann@company.com"]}, {"sm": sm(semantic="SemanticID-Other")})
    assert not decide(rules, GET_SM, other).allowed
    stranger = Subject({"email": ["eve@elsewhere.org"]}, {"sm": sm(semantic="SemanticID-Nameplate")})
    assert not decide(rules, GET_SM, stranger).allowed


def test_the_time_window_example_compares_the_time_of_day() -> None:
    rules = load_rules(SPEC / "examples" / "allow-read-submodels-id-pattern.bnf")
    objects = {"sm": sm("https://company1.com/sm/7", "SemanticID-TechnicalData")}
    claims = {"companyName": ["company1-name"]}
    inside = Subject(claims, objects, now=datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    outside = Subject(claims, objects, now=datetime(2026, 3, 4, 18, 0, tzinfo=UTC))
    request = Request("GET", "/submodels/x", "READ", ids={"sm": "https://company1.com/sm/7"})
    assert decide(rules, request, inside).allowed
    assert not decide(rules, request, outside).allowed


def test_the_filter_example_keeps_only_the_visible_specific_asset_ids() -> None:
    rules = load_rules(SPEC / "examples" / "filter.json")
    desc = {
        "id": "urn:aas:1",
        "specificAssetIds": [
            {"name": "manufacturerPartId", "value": "99991", "externalSubjectId": _ref("PUBLIC_READABLE")},
            {"name": "customerPartId", "value": "ACME001"},
            {"name": "secret", "value": "x"},
            {"name": "partInstanceId", "value": "SN1"},
        ],
    }
    subject = Subject({"BusinessPartnerNumber": ["BPNL00000000000A"]}, {"aasdesc": desc})
    request = Request("GET", "/shell-descriptors/x", "READ", ids={"aasdesc": "urn:aas:1"})
    decision = decide(rules, request, subject)
    assert decision.allowed
    (flt,) = decision.filters["$aasdesc#specificAssetIds[]"]
    visible = [
        i for i in range(4) if evaluate(flt.condition, subject, {"$aasdesc#specificAssetIds[]": i}) is True
    ]
    assert visible == [0, 1, 3]


def _ref(value: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def test_text_errors_name_the_line_and_column() -> None:
    with pytest.raises(RuleError, match=r"line 3, column"):
        load_rules('ACCESSRULE:\n  ATTRIBUTES: CLAIM("x")\n  RIGHTS: READS\n')


def test_a_formula_bad_regex_is_refused_at_load() -> None:
    with pytest.raises(RuleError, match="rule 1"):
        rules_of(rule(formula={"$regex": [{"$strVal": "a"}, {"$strVal": "("}]}))


def test_disabled_rules_and_unknown_reuse_names() -> None:
    disabled = rule()
    disabled["ACL"]["ACCESS"] = "DISABLED"
    assert not decide(rules_of(disabled), GET_SM, Subject()).allowed
    with pytest.raises(RuleError, match="USEFORMULA 'nope' is not defined"):
        rules_of({"ACL": rule()["ACL"], "OBJECTS": [{"ROUTE": "*"}], "USEFORMULA": "nope"})


# --- the conformance test corpus -----------------------------------------------------------------------------------


def corpus_ids() -> list[str]:
    text = (SPEC / "pages" / "conformance-test-corpus.adoc").read_text() if SPEC.is_dir() else ""
    return re.findall(r"^\| ([A-Z]+\.[a-z]+\.\d{3})$", text, re.MULTILINE)


CASES: dict[str, Any] = {}


def case(case_id: str) -> Any:
    def register(fn: Any) -> Any:
        CASES[case_id] = fn
        return fn

    return register


@case("RULE.load.001")
def _load_valid() -> None:
    rules = load_rules(SPEC / "examples" / "reuse-acl-object-formula.json")
    assert len(rules.rules) == 1 and rules.rules[0].rights == {"READ", "UPDATE"}


@case("RULE.load.002")
def _load_schema_invalid() -> None:
    bad = rule()
    bad["ACL"]["RIGHTS"] = ["READ", "FLY"]
    with pytest.raises(RuleError, match=r"rule 1: /AllAccessPermissionRules/rules/0/ACL/RIGHTS/1"):
        rules_of(bad)


@case("RULE.load.003")
def _load_text_valid_json_not() -> None:
    # valid text grammar (two USEATTRIBUTES), but the JSON form names one attribute group: refused, one error
    text = (
        'DEFATTRIBUTES "a" CLAIM("x")\nDEFATTRIBUTES "b" CLAIM("y")\n'
        'ACCESSRULE: ATTRIBUTES: USEATTRIBUTES "a" USEATTRIBUTES "b" RIGHTS: READ ACCESS: ALLOW '
        'OBJECTS: ROUTE "*" FORMULA: true'
    )
    with pytest.raises(RuleError, match=r"rule 1: /AllAccessPermissionRules/rules/0/ACL"):
        load_rules(text)
    # and the other way round: JSON the schema refuses is refused whatever its text would have been
    with pytest.raises(RuleError, match="schema"):
        rules_of({"ACL": rule()["ACL"], "OBJECTS": [], "FORMULA": {"$boolean": True}, "USEFORMULA": "f"})


@case("RULE.load.004")
def _load_contradicting() -> None:
    disabled = rule()
    disabled["ACL"]["ACCESS"] = "DISABLED"
    rules = rules_of(disabled, rule())
    assert len(rules.rules) == 2
    assert decide(rules, GET_SM, Subject()).allowed  # permit-overrides


@case("EVAL.default.001")
def _default_deny() -> None:
    rules = rules_of(rule(objects=[{"IDENTIFIABLE": "(Submodel)urn:other"}]))
    decision = decide(rules, GET_SM, Subject())
    assert not decision.allowed and "no AAS access rule allows" in decision.reason
    assert not decide(rules_of(), GET_SM, Subject()).allowed


@case("EVAL.combine.001")
def _permit_overrides() -> None:
    rules = rules_of(rule(formula={"$boolean": False}), rule(formula=eq("$sm#idShort", "sm")))
    decision = decide(rules, GET_SM, Subject(objects={"sm": sm()}))
    assert decision.allowed and [r.index for r in decision.granting] == [1]


@case("EVAL.error.001")
def _inapplicable() -> None:
    rules = rules_of(rule(formula={"$not": eq("$aasdesc#idShort", "x")}))
    assert not decide(rules, GET_SM, Subject(objects={"sm": sm()})).allowed


@case("EVAL.error.002")
def _runtime_error() -> None:
    cast_fails = {"$eq": [{"$numCast": {"$strVal": "abc"}}, {"$numVal": 1}]}
    only = rules_of(rule(formula={"$not": cast_fails}))
    assert not decide(
        only, GET_SM, Subject()
    ).allowed  # the error makes the whole formula false, not its $not
    assert decide(rules_of(rule(formula=cast_fails), rule()), GET_SM, Subject()).allowed


@case("EVAL.filter.001")
def _filters_same_fragment_or() -> None:
    def filtered(value: str) -> dict[str, Any]:
        return rule(FILTER={"FRAGMENT": "$sme", "CONDITION": eq("$sme#idShort", value)})

    rules = rules_of(filtered("a"), filtered("b"))
    decision = decide(rules, GET_SM, Subject(objects={"sm": sm()}))
    (group,) = decision.filters.values()
    shown = [
        v
        for v in ("a", "b", "c")
        if decision.visible(group, Subject(objects={"sm": sm(), "sme": {"idShort": v}}))
    ]
    assert shown == ["a", "b"]


@case("EVAL.filter.002")
def _filters_different_fragments() -> None:
    rules = rules_of(
        rule(FILTER={"FRAGMENT": "$sme", "CONDITION": eq("$sme#idShort", "a")}),
        rule(FILTER={"FRAGMENT": "$sm#supplementalSemanticIds[]", "CONDITION": eq("$sm#idShort", "zz")}),
    )
    decision = decide(rules, GET_SM, Subject(objects={"sm": sm()}))
    assert set(decision.filters) == {"$sme", "$sm#supplementalSemanticIds[]"}
    sme = decision.filters["$sme"]
    assert decision.visible(sme, Subject(objects={"sme": {"idShort": "a"}}))
    assert not decision.visible(sme, Subject(objects={"sme": {"idShort": "b"}}))
    assert not decision.visible(
        decision.filters["$sm#supplementalSemanticIds[]"], Subject(objects={"sm": sm()})
    )


@case("RIGHT.map.001")
def _get_needs_read() -> None:
    assert right_of("GET", "/submodels/x") == ("READ", False)
    rules = rules_of(rule("UPDATE"), rule("VIEW"))
    assert not decide(rules, GET_SM, Subject()).allowed
    assert decide(rules_of(rule("READ")), GET_SM, Subject()).allowed


@case("RIGHT.map.002")
def _invoke_needs_execute() -> None:
    route = "/submodels/x/submodel-elements/op/invoke"
    assert right_of("POST", route) == ("EXECUTE", False)
    request = Request("POST", route, "EXECUTE", ids={"sm": "x"}, element="op")
    assert not decide(rules_of(rule(["READ", "UPDATE", "CREATE"])), request, Subject()).allowed
    assert decide(rules_of(rule("EXECUTE")), request, Subject()).allowed


@case("RIGHT.map.003")
def _put_create_or_update() -> None:
    assert right_of("PUT", "/submodels/x", exists=True) == ("UPDATE", False)
    assert right_of("PUT", "/submodels/x", exists=False) == ("CREATE", False)


@case("RIGHT.map.004")
def _several_rights() -> None:
    rules = rules_of(rule(["READ", "UPDATE"]))
    assert decide(rules, GET_SM, Subject()).allowed
    assert decide(rules, Request("PATCH", "/submodels/x", "UPDATE", ids={"sm": "x"}), Subject()).allowed
    assert not decide(rules, Request("DELETE", "/submodels/x", "DELETE", ids={"sm": "x"}), Subject()).allowed


@case("SUPP.rule.001")
def _supplemental_any() -> None:
    rules = rules_of(rule(formula=eq("$sm#supplementalSemanticIds[].keys[0].value", "X")))
    assert decide(rules, GET_SM, Subject(objects={"sm": sm(supplemental=["A", "X"])})).allowed
    assert not decide(rules, GET_SM, Subject(objects={"sm": sm(supplemental=["A", "B"])})).allowed


@case("SUPP.rule.002")
def _supplemental_fourth() -> None:
    rules = rules_of(rule(formula=eq("$sme#supplementalSemanticIds[3].keys[0].value", "X")))
    request = Request("GET", "/submodels/x/submodel-elements/p", "READ", ids={"sm": "x"}, element="p")

    def with_ids(values: list[str]) -> Subject:
        return Subject(
            objects={"sme": {"idShort": "p", "supplementalSemanticIds": [_ref(v) for v in values]}}
        )

    assert decide(rules, request, with_ids(["A", "B", "C", "X"])).allowed
    assert not decide(rules, request, with_ids(["X", "B", "C", "D"])).allowed


@case("SUPP.rule.003")
def _supplemental_both_forms() -> None:
    text = (
        'ACCESSRULE: ATTRIBUTES: GLOBAL(ANONYMOUS) RIGHTS: READ ACCESS: ALLOW OBJECTS: ROUTE "*" '
        'FORMULA: $sm#supplementalSemanticIds[].keys[0].value $eq "X"'
    )
    from_text = parse_text(text)
    from_json = {
        "AllAccessPermissionRules": {
            "rules": [rule(formula=eq("$sm#supplementalSemanticIds[].keys[0].value", "X"))]
        }
    }
    assert from_text == from_json
    for doc in (from_text, from_json):
        assert decide(load_rules(doc), GET_SM, Subject(objects={"sm": sm(supplemental=["X"])})).allowed


DESC_RULE = rule(
    objects=[{"ROUTE": "*"}],
    formula={"$or": [eq("$aasdesc#idShort", "pump"), eq("$sm#idShort", "nope")]},
)


@case("DESC.reg.001")
def _descriptor_in_registry() -> None:
    rules = rules_of(DESC_RULE)
    request = Request("GET", "/shell-descriptors/x", "READ", ids={"aasdesc": "x"})
    assert decide(rules, request, Subject(objects={"aasdesc": {"id": "x", "idShort": "pump"}})).allowed
    assert not decide(rules, request, Subject(objects={"aasdesc": {"id": "x", "idShort": "fan"}})).allowed


@case("DESC.rep.001")
def _descriptor_in_repository() -> None:
    only_desc = rules_of(rule(formula=eq("$aasdesc#idShort", "pump")))
    assert evaluate(only_desc.rules[0].formula, Subject(objects={"sm": sm()})) is NA
    assert not decide(only_desc, GET_SM, Subject(objects={"sm": sm()})).allowed
    assert decide(rules_of(rule(formula=eq("$aasdesc#idShort", "pump")), rule()), GET_SM, Subject()).allowed


@case("DESC.mix.001")
def _descriptor_mixed() -> None:
    mixed = rules_of(rule(formula={"$and": [eq("$aasdesc#idShort", "pump"), eq("$sm#idShort", "sm")]}))
    assert decide(mixed, GET_SM, Subject(objects={"sm": sm()})).allowed  # the registry part left out
    other = Subject(objects={"sm": {**sm(), "idShort": "other"}})
    assert not decide(mixed, GET_SM, other).allowed


@pytest.mark.parametrize("case_id", corpus_ids())
def test_conformance_corpus(case_id: str) -> None:
    """Every case of IDTA-01004's conformance test corpus, by its ID in the corpus page."""
    assert case_id in CASES, f"{case_id} of conformance-test-corpus.adoc has no test"
    CASES[case_id]()


def test_the_corpus_page_still_has_the_cases_transcribed_here() -> None:
    assert len(corpus_ids()) == 20 and set(corpus_ids()) == set(CASES)
