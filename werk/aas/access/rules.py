"""AAS access rules (IDTA-01004, "Access Rule Model") loaded, checked and compiled once.

:func:`load_rules` takes the JSON form (``{"AllAccessPermissionRules": {...}}``) or the text form
(:mod:`werk.aas.access.text`, which yields the same JSON), checks it against the specification's own JSON schema
(``schema.json``, IDTA's ``aas-queries-and-access-rules-schema.json`` as published, CC BY 4.0; it ships inside
the package because a plant's rules are checked when werk starts, where no copy of the specification is at hand),
resolves the reusable parts
(DEFATTRIBUTES, DEFACLS, DEFOBJECTS, DEFFORMULAS and their USE... names) and compiles every formula
(:mod:`werk.aas.access.formula`). Anything wrong is a :class:`RuleError` at load time, naming the rule and the place in
the document (conformance RULE.load.002): a server is never left running with rules half read.

One extension of the schema, and why: the conformance corpus (SUPP.rule.001-003) requires
``$sm#supplementalSemanticIds[...]`` and ``$sme#supplementalSemanticIds[...]`` FieldIdentifiers, which the published
``modelStringPattern`` does not yet list; werk adds exactly these two to the pattern before validating.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from werk.aas.access.formula import Expr, compile_expr, parse_field
from werk.aas.access.text import RuleTextError, parse_text
from werk.errors import WerkError

RIGHTS = ("CREATE", "READ", "UPDATE", "DELETE", "EXECUTE", "VIEW")
_SUPPLEMENTAL = r"supplementalSemanticIds\[[0-9]*\]\.(?:type|keys\[[0-9]*\]\.(?:type|value))|"


class RuleError(WerkError):
    """Access rules that cannot be loaded: the message says which rule, where in it and what is wrong."""


@cache
def schema() -> dict[str, Any]:
    """The JSON schema of IDTA-01004 with the supplementalSemanticIds extension (module docstring)."""
    text = resources.files("werk.aas.access").joinpath("schema.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    pattern = doc["definitions"]["modelStringPattern"]["pattern"]
    pattern = pattern.replace(r"\$sm#(?:", r"\$sm#(?:" + _SUPPLEMENTAL, 1)
    pattern = pattern.replace(r"#(?:semanticId", r"#(?:" + _SUPPLEMENTAL + "semanticId", 1)
    doc["definitions"]["modelStringPattern"]["pattern"] = pattern
    return doc


@dataclass(frozen=True)
class Attribute:
    """A CLAIM, GLOBAL or REFERENCE attribute an ACL names (one key of the three, as in the JSON form)."""

    kind: str
    value: str


@dataclass(frozen=True)
class Object:
    """A ROUTE, IDENTIFIABLE, REFERABLE, FRAGMENT or DESCRIPTOR a rule protects, with its literal parsed:

    - ``type``: what is in the literal's leading ``(...)`` (Submodel, AssetAdministrationShell, ConceptDescription,
      aasDesc, smDesc), lower case; empty for ROUTE and FRAGMENT;
    - ``pattern``: the identifier or route, ``*`` matching any run of characters;
    - ``path``: for REFERABLE, the idShortPath its further keys spell (``(Property)p1`` -> ``p1``).
    """

    kind: str
    literal: str
    type: str = ""
    pattern: str = ""
    path: str = ""
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)


@dataclass(frozen=True)
class Filter:
    """A FILTER: the fragment it restricts and the condition that says which of it stays visible."""

    fragment: str
    condition: Expr = field(compare=False)
    source: Any = None


@dataclass(frozen=True)
class Rule:
    """One compiled access rule: its place in the document (``index``, from 0), who it is for (``attributes``), what
    it allows (``rights``; ALL expanded), whether it is switched off (``disabled``), what it protects, when it holds
    (``formula``) and what of the objects it shows (``filter``)."""

    index: int
    attributes: tuple[Attribute, ...]
    rights: frozenset[str]
    disabled: bool
    objects: tuple[Object, ...]
    formula: Expr = field(compare=False)
    filter: Filter | None = None
    source: Any = None

    @property
    def name(self) -> str:
        return f"rule {self.index + 1}"


@dataclass(frozen=True)
class RuleSet:
    """Compiled access rules and the JSON document they came from."""

    rules: tuple[Rule, ...]
    document: Mapping[str, Any]


def load_rules(source: str | Path | Mapping[str, Any], *, where: str = "") -> RuleSet:
    """Access rules from a file (``.json`` or text), a string (JSON if it starts with ``{``, else text) or the JSON
    form as data; :class:`RuleError` naming ``where`` (or the file) when they do not load."""
    if isinstance(source, Mapping):
        return compile_document(source, where or "<rules>")
    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.strip().endswith((".json", ".txt", ".bnf", ".rules"))
    ):
        path = Path(source)
        where = where or str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise RuleError(f"{where}: cannot read the access rules file: {exc.strerror}") from None
    else:
        text = str(source)
        where = where or "<rules>"
    return compile_document(parse_document(text, where), where)


def parse_document(text: str, where: str) -> dict[str, Any]:
    """The JSON form of rules written as JSON or in the text grammar."""
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RuleError(f"{where}: line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise RuleError(f"{where}: access rules are a JSON object with the key AllAccessPermissionRules")
        return doc
    try:
        return parse_text(text, where)
    except RuleTextError as exc:
        raise RuleError(str(exc)) from None


def validate(doc: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The ``AllAccessPermissionRules`` object of ``doc`` once it passes the JSON schema; :class:`RuleError` naming
    the first problem's place (a JSON pointer) otherwise."""
    if set(doc) != {"AllAccessPermissionRules"}:
        raise RuleError(
            f"{where}: access rules are one object with the single key AllAccessPermissionRules, not {sorted(doc)}"
        )
    body = doc["AllAccessPermissionRules"]
    validator = jsonschema.Draft7Validator(schema())
    errors = sorted(
        validator.iter_errors(body), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        pointer = "/AllAccessPermissionRules" + "".join(f"/{p}" for p in err.absolute_path)
        rule = ""
        path = list(err.absolute_path)
        if len(path) >= 2 and path[0] == "rules":
            rule = f"rule {int(path[1]) + 1}: "
        raise RuleError(f"{where}: {rule}{pointer}: {_message(err)} (IDTA-01004 JSON schema)")
    return body  # type: ignore[no-any-return]


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "oneOf":
        return f"{json.dumps(err.instance)[:200]} must have exactly one of the alternatives the schema allows here"
    if err.validator == "additionalProperties":
        return str(err.message)
    return str(err.message)[:300]


def compile_document(doc: Mapping[str, Any], where: str) -> RuleSet:
    body = validate(doc, where)
    attributes = _named(body.get("DEFATTRIBUTES", []), "attributes", "DEFATTRIBUTES", where)
    acls = _named(body.get("DEFACLS", []), "acl", "DEFACLS", where)
    groups = {g["name"]: g for g in body.get("DEFOBJECTS", [])}
    formulas = _named(body.get("DEFFORMULAS", []), "formula", "DEFFORMULAS", where)
    compiled_formulas: dict[str, Expr] = {}
    for name, expr in formulas.items():
        compiled_formulas[name] = _compile_formula(expr, f"{where}: DEFFORMULAS {name!r}")
    rules = []
    for i, raw in enumerate(body["rules"]):
        here = f"{where}: rule {i + 1}"
        acl = raw.get("ACL")
        if acl is None:
            acl = _use(acls, raw["USEACL"], "USEACL", here)
        attrs = list(acl.get("ATTRIBUTES", []))
        if "USEATTRIBUTES" in acl:
            attrs += _use(attributes, acl["USEATTRIBUTES"], "USEATTRIBUTES", here)
        rights = frozenset(RIGHTS) if "ALL" in acl["RIGHTS"] else frozenset(acl["RIGHTS"])
        objects = [_object(o, here) for o in raw.get("OBJECTS", [])]
        for name in raw.get("USEOBJECTS", []):
            objects += [_object(o, here) for o in _group(groups, name, here, set())]
        if "FORMULA" in raw:
            formula = _compile_formula(raw["FORMULA"], here)
        else:
            formula = _use(compiled_formulas, raw["USEFORMULA"], "USEFORMULA", here)
        flt = None
        if "FILTER" in raw:
            f = raw["FILTER"]
            _fragment_check(f["FRAGMENT"], here)
            cond = (
                _compile_formula(f["CONDITION"], here + " FILTER")
                if "CONDITION" in f
                else _use(compiled_formulas, f["USEFORMULA"], "USEFORMULA", here + " FILTER")
            )
            flt = Filter(f["FRAGMENT"], cond, f)
        rules.append(
            Rule(
                i,
                tuple(Attribute(*next(iter(a.items()))) for a in attrs),
                rights,
                acl["ACCESS"] == "DISABLED",
                tuple(objects),
                formula,
                flt,
                raw,
            )
        )
    return RuleSet(tuple(rules), doc)


def _named(items: list[dict[str, Any]], key: str, what: str, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if item["name"] in out:
            raise RuleError(f"{where}: {what} defines {item['name']!r} twice")
        out[item["name"]] = item[key]
    return out


def _use(defined: Mapping[str, Any], name: str, how: str, where: str) -> Any:
    if name not in defined:
        known = ", ".join(repr(n) for n in defined) or "none"
        raise RuleError(f"{where}: {how} {name!r} is not defined (defined: {known})")
    return defined[name]


def _group(groups: Mapping[str, Any], name: str, where: str, seen: set[str]) -> list[dict[str, str]]:
    if name in seen:
        raise RuleError(f"{where}: object group {name!r} uses itself")
    group = _use(groups, name, "USEOBJECTS", where)
    out = list(group.get("objects", []))
    for inner in group.get("USEOBJECTS", []):
        out += _group(groups, inner, where, seen | {name})
    return out


def _compile_formula(expr: Mapping[str, Any], where: str) -> Expr:
    try:
        return compile_expr(expr)
    except (ValueError, re.error) as exc:
        raise RuleError(f"{where}: {exc}") from None


def _fragment_check(fragment: str, where: str) -> None:
    if fragment == "$sme" or (fragment.startswith("$sme.") and "#" not in fragment):
        return
    try:
        parse_field(fragment)
    except ValueError as exc:
        raise RuleError(f"{where} FILTER: FRAGMENT {exc}") from None


_TYPED = re.compile(r"^\(([A-Za-z]+)\)(.*)$")


def glob(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ``*`` matching any run of characters, everything else literally."""
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.DOTALL)


def _object(item: Mapping[str, str], where: str) -> Object:
    ((kind, literal),) = item.items()
    if kind == "ROUTE":
        return Object(kind, literal, pattern=literal, regex=glob(literal))
    if kind == "FRAGMENT":
        _fragment_check(literal, where)
        return Object(kind, literal, pattern=literal)
    keys = [k.strip() for k in literal.split(",")]
    parsed = [_TYPED.match(k) for k in keys]
    if any(p is None for p in parsed):
        raise RuleError(
            f"{where}: {kind} {literal!r} must be written (Type)value, keys separated by commas, "
            "e.g. (Submodel)https://example.com/sm/1"
        )
    first = parsed[0]
    assert first is not None
    path = ".".join(p.group(2) for p in parsed[1:] if p is not None)
    return Object(kind, literal, first.group(1).lower(), first.group(2), path, glob(first.group(2)))
