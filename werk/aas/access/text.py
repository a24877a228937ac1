"""The text form of AAS access rules (IDTA-01004, "BNF grammar of Access Rules") read into their JSON form.

The grammar below is the specification's BNF (``access-rules.bnf``) written for lark: the same keywords in the same
order (DEFATTRIBUTES, DEFACLS, DEFOBJECTS, DEFFORMULAS, then ACCESSRULE: with ATTRIBUTES:/USEACL, RIGHTS:, ACCESS:,
OBJECTS:, FORMULA:/USEFORMULA, FILTER: with CONDITION:), whitespace between tokens ignored as the BNF's ``<ws>``
allows it everywhere. Two simplifications, both checked afterwards by the JSON schema, so nothing the specification
refuses gets through:

- the BNF separates string, numerical, hex, bool, dateTime and time comparisons by the operand's type; here a
  comparison is ``operand OP operand`` and each operand keeps its own type in the JSON form (``$strVal``,
  ``$numVal``, ``$timeVal``...), which is how the JSON schema's ``comparisonItems`` has it anyway;
- string literals take any character but the double quote; the schema's ``standardString`` then checks a
  ``$strVal`` for the BNF's character set, and names (claims, routes, identifiables) are plain strings there.

The result is exactly the document :func:`werk.aas.access.load.load_rules` takes as JSON, so one validation and one
compilation serve both forms, and a rule whose text is valid but has no JSON form (two USEATTRIBUTES, single objects
beside USEOBJECTS, ``$dayOfWeek`` of an attribute) is refused with the schema's words (conformance RULE.load.003).
Written with lark (Earley): the BNF is ambiguous where a bare ``true`` is a formula or a comparison's operand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput

from werk.errors import WerkError

GRAMMAR = r"""
start: defattributes* defacls* defobjects* defformulas* rule*

defattributes: "DEFATTRIBUTES" STRING single_attribute* use_attributes*
defacls: "DEFACLS" STRING acl
defobjects: "DEFOBJECTS" STRING single_object* use_objects*
defformulas: "DEFFORMULAS" STRING expr

rule: "ACCESSRULE:" (acl | use_acl) "OBJECTS:" single_object* use_objects* (formula | use_formula) filter?
formula: "FORMULA:" expr
filter: "FILTER:" fragment_object (condition | use_formula)
condition: "CONDITION:" expr

acl: "ATTRIBUTES:" single_attribute* use_attributes* "RIGHTS:" RIGHT+ "ACCESS:" ACCESS
use_acl: "USEACL" STRING
use_attributes: "USEATTRIBUTES" STRING
use_objects: "USEOBJECTS" STRING
use_formula: "USEFORMULA" STRING

single_attribute: "CLAIM" "(" STRING ")"        -> claim
                | "GLOBAL" "(" GLOBAL_NAME ")"  -> global_
                | "REFERENCE" "(" STRING ")"    -> reference

single_object: OBJECT_KIND STRING
fragment_object: "FRAGMENT" STRING

?expr: "(" expr ")"
     | "$or" "(" expr ("," expr)+ ")"   -> or_
     | "$and" "(" expr ("," expr)+ ")"  -> and_
     | "$not" "(" expr ")"              -> not_
     | match
     | BOOL                             -> bool_expr
     | comparison
     | string_op
match: "$match" "(" match_item ("," match_item)* ")"
?match_item: comparison | string_op | match
comparison: operand COMPARE operand
string_op: STRING_OP "(" operand "," operand ")"

?operand: FIELD            -> field
        | STRING           -> str_val
        | NUMBER           -> num_val
        | HEX              -> hex_val
        | DATETIME         -> date_time_val
        | TIME             -> time_val
        | BOOL             -> bool_val
        | single_attribute -> attribute
        | CAST "(" operand ")"       -> cast
        | DATE_PART "(" operand ")"  -> date_part

RIGHT: "CREATE" | "READ" | "UPDATE" | "DELETE" | "EXECUTE" | "VIEW" | "ALL"
ACCESS: "ALLOW" | "DISABLED"
GLOBAL_NAME: "LOCALNOW" | "UTCNOW" | "CLIENTNOW" | "ANONYMOUS"
OBJECT_KIND: "ROUTE" | "IDENTIFIABLE" | "REFERABLE" | "FRAGMENT" | "DESCRIPTOR"
COMPARE.2: /\$(eq|ne|gt|ge|lt|le)(?![\w-])/
STRING_OP.2: /\$(starts-with|ends-with|contains|regex)(?![\w-])/
DATE_PART.2: /\$(dayOfWeek|dayOfMonth|month|year)(?!\w)/
CAST.2: /(str|num|hex|bool|dateTime|time)(?=\s*\()/
FIELD.3: /\$(aasdesc|smdesc|aas|sme|sm|cd)(\.[A-Za-z0-9_\-\[\]\.]*)?#[A-Za-z0-9_\-\.\[\]]+/
BOOL.2: /(true|false)(?!\w)/
HEX.3: /16#[0-9A-F]+/
DATETIME.4: /\d{4}-\d{2}-\d{2}T?\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?/
TIME.3: /\d{2}:\d{2}(:\d{2})?(\.\d+)?/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /"[^"]*"/

%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="earley", lexer="dynamic", ambiguity="resolve", propagate_positions=True)

_CASTS = {
    "str": "$strCast",
    "num": "$numCast",
    "hex": "$hexCast",
    "bool": "$boolCast",
    "dateTime": "$dateTimeCast",
    "time": "$timeCast",
}


class RuleTextError(WerkError):
    """Access rules in text form that do not follow the grammar; the message names the line and column."""


def _s(token: Token) -> str:
    return str(token)[1:-1]


def _number(token: Token) -> int | float:
    text = str(token)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _keyed(key: str, value: Callable[[Token], Any] = str) -> Callable[[Any, Token], Any]:
    """The transformer method of a rule of one token: ``{key: value(token)}``."""

    def method(self: Any, t: Token) -> Any:
        return {key: value(t)}

    return method


@v_args(inline=True)
class _ToJson(Transformer[Token, Any]):
    """The parse tree to the JSON form of IDTA-01004 (``aas-queries-and-access-rules-schema.json``)."""

    # --- values ---------------------------------------------------------------------------------------------------
    field = _keyed("$field")
    str_val = _keyed("$strVal", _s)
    num_val = _keyed("$numVal", _number)
    hex_val = _keyed("$hexVal")
    date_time_val = _keyed("$dateTimeVal")
    time_val = _keyed("$timeVal")

    def bool_val(self, t: Token) -> Any:
        return {"$boolean": str(t) == "true"}

    def attribute(self, a: Any) -> Any:
        return {"$attribute": a}

    def cast(self, kind: Token, inner: Any) -> Any:
        return {_CASTS[str(kind)]: inner}

    def date_part(self, kind: Token, inner: Any) -> Any:
        return {str(kind): inner}

    # --- attributes and objects -----------------------------------------------------------------------------------
    claim = _keyed("CLAIM", _s)
    global_ = _keyed("GLOBAL")
    reference = _keyed("REFERENCE", _s)

    def single_object(self, kind: Token, value: Token) -> Any:
        return {str(kind): _s(value)}

    def fragment_object(self, value: Token) -> Any:
        return _s(value)

    # --- expressions ----------------------------------------------------------------------------------------------
    def or_(self, *items: Any) -> Any:
        return {"$or": list(items)}

    def and_(self, *items: Any) -> Any:
        return {"$and": list(items)}

    def not_(self, item: Any) -> Any:
        return {"$not": item}

    def match(self, *items: Any) -> Any:
        return {"$match": list(items)}

    def bool_expr(self, t: Token) -> Any:
        return {"$boolean": str(t) == "true"}

    def comparison(self, left: Any, op: Token, right: Any) -> Any:
        return {str(op): [left, right]}

    def string_op(self, op: Token, left: Any, right: Any) -> Any:
        return {str(op): [left, right]}

    # --- structure ------------------------------------------------------------------------------------------------
    def use_acl(self, t: Token) -> Any:
        return ("USEACL", _s(t))

    def use_attributes(self, t: Token) -> Any:
        return ("USEATTRIBUTES", _s(t))

    def use_objects(self, t: Token) -> Any:
        return ("USEOBJECTS", _s(t))

    def use_formula(self, t: Token) -> Any:
        return ("USEFORMULA", _s(t))

    def formula(self, expr: Any) -> Any:
        return ("FORMULA", expr)

    def condition(self, expr: Any) -> Any:
        return ("CONDITION", expr)

    def filter(self, fragment: str, how: tuple[str, Any]) -> Any:
        return ("FILTER", {"FRAGMENT": fragment, how[0]: how[1]})

    def acl(self, *items: Any) -> Any:
        attributes = [i for i in items if isinstance(i, dict)]
        uses = [i[1] for i in items if isinstance(i, tuple)]
        rights = [str(i) for i in items if isinstance(i, Token) and i.type == "RIGHT"]
        access = next(str(i) for i in items if isinstance(i, Token) and i.type == "ACCESS")
        out: dict[str, Any] = {}
        if attributes or not uses:
            out["ATTRIBUTES"] = attributes
        if uses:
            # the JSON form names one attribute group: several are kept as a list, which its schema refuses
            out["USEATTRIBUTES"] = uses[0] if len(uses) == 1 else uses
        out["RIGHTS"] = rights
        out["ACCESS"] = access
        return ("ACL", out)

    def defattributes(self, name: Token, *items: Any) -> Any:
        out: dict[str, Any] = {"name": _s(name), "attributes": [i for i in items if isinstance(i, dict)]}
        uses = [i[1] for i in items if isinstance(i, tuple)]
        if uses:
            out["USEATTRIBUTES"] = uses  # the JSON form has no groups of groups: its schema refuses this
        return ("DEFATTRIBUTES", out)

    def defacls(self, name: Token, acl: tuple[str, Any]) -> Any:
        return ("DEFACLS", {"name": _s(name), "acl": acl[1]})

    def defobjects(self, name: Token, *items: Any) -> Any:
        out: dict[str, Any] = {"name": _s(name)}
        objects = [i for i in items if isinstance(i, dict)]
        uses = [i[1] for i in items if isinstance(i, tuple)]
        if objects or not uses:
            out["objects"] = objects
        if uses:
            out["USEOBJECTS"] = uses
        return ("DEFOBJECTS", out)

    def defformulas(self, name: Token, expr: Any) -> Any:
        return ("DEFFORMULAS", {"name": _s(name), "formula": expr})

    def rule(self, *items: Any) -> Any:
        out: dict[str, Any] = {}
        objects = [i for i in items if isinstance(i, dict)]
        uses = [i[1] for i in items if isinstance(i, tuple) and i[0] == "USEOBJECTS"]
        for item in items:
            if isinstance(item, tuple) and item[0] in ("ACL", "USEACL"):
                out[item[0]] = item[1]
        if objects or not uses:
            out["OBJECTS"] = objects
        if uses:
            out["USEOBJECTS"] = uses
        for item in items:
            if isinstance(item, tuple) and item[0] in ("FORMULA", "USEFORMULA", "FILTER"):
                out[item[0]] = item[1]
        return ("RULE", out)

    def start(self, *items: tuple[str, Any]) -> Any:
        doc: dict[str, Any] = {}
        for key in ("DEFATTRIBUTES", "DEFACLS", "DEFOBJECTS", "DEFFORMULAS"):
            found = [v for k, v in items if k == key]
            if found:
                doc[key] = found
        doc["rules"] = [v for k, v in items if k == "RULE"]
        return {"AllAccessPermissionRules": doc}


def parse_text(text: str, source: str = "<text>") -> dict[str, Any]:
    """The JSON form (``{"AllAccessPermissionRules": ...}``) of access rules in the text grammar; raises
    :class:`RuleTextError` naming ``source``, the line and column and what was expected there."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        context = exc.get_context(text, 40).rstrip()
        raise RuleTextError(
            f"{source}: line {exc.line}, column {exc.column}: not AAS access rule grammar (IDTA-01004) here:\n"
            f"{context}"
        ) from None
    except LarkError as exc:
        raise RuleTextError(f"{source}: not AAS access rule grammar (IDTA-01004): {exc}") from None
    result: dict[str, Any] = _ToJson().transform(tree)
    return result
