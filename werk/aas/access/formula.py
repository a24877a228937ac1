"""The logical expressions of AAS access rules (IDTA-01004 FORMULA and FILTER CONDITION, the grammar IDTA-01002's
query language shares), compiled once from their JSON form into functions of a :class:`Subject`.

Contract:

- three outcomes: True, False, and :data:`NA` ("not applicable") when an expression names a field of an object the
  request has none of (``$aasdesc#...`` on a repository route, ``$sm#...`` on a shell). ``$and`` and ``$or`` leave
  inapplicable parts out and are NA only when every part is (conformance DESC.mix.001); a rule whose formula is NA
  grants nothing (EVAL.error.001, DESC.rep.001);
- a runtime error (a failed cast, CLIENTNOW, which werk's tokens do not carry) makes the whole formula False, never a
  500 (EVAL.error.002); :func:`evaluate` catches it;
- a field with ``[]`` names every item of a list and a comparison holds if it holds for one of them; ``$match``
  binds the list's ``[]`` to one item at a time, so all its comparisons must hold for the same item; ``[n]`` names
  the n-th (from 0: SUPP.rule.002);
- ``$sm#semanticId`` and other References compared as text mean their first key's value (``keys[0].value``), as
  IDTA-01002's query language reads them;
- comparisons of different types convert where the value allows it (a Property's text value against a number, a
  date-time against a time of day compares the time of day, a date-time against text that is a date-time or a time);
  otherwise that pair does not compare (False). Strings compare alphabetically, ``$regex`` searches (anchors are
  written with ``^``/``$``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _NotApplicable:
    def __repr__(self) -> str:
        return "NA"


NA: Any = _NotApplicable()
"""The outcome of an expression over a field the request's object does not have."""

Tri = Any  # True, False or NA


class EvalError(Exception):
    """A formula that cannot be evaluated for this request (a cast that fails, an attribute werk does not have)."""


@dataclass(frozen=True)
class Hex:
    """A value of the hex type (``16#FF``)."""

    value: int


class Subject(Protocol):
    """What a formula reads: the caller's claims and the request's objects in their Part 2 JSON form."""

    claims: Mapping[str, list[str]]
    anonymous: bool
    now: datetime

    def object(self, kind: str) -> Any:
        """The JSON of the request's object of ``kind`` (aas, sm, sme, cd, aasdesc, smdesc), None if it has none."""

    def element(self, path: str) -> Any:
        """The JSON of the element at ``path`` in the request's submodel; None if there is none."""

    def reference(self, text: str) -> list[Any]:
        """The value a REFERENCE attribute names; raises :class:`EvalError` when it names nothing."""


@dataclass
class Env:
    subject: Subject
    bindings: dict[str, int] = field(default_factory=dict)


Expr = Callable[[Env], Tri]
Operand = Callable[[Env], Any]  # a list of values, or NA


def evaluate(expr: Expr, subject: Subject, bindings: dict[str, int] | None = None) -> Tri:
    """``expr`` for ``subject``: True, False or NA; an error in it is False (conformance EVAL.error.002)."""
    try:
        return expr(Env(subject, dict(bindings or {})))
    except (EvalError, ValueError, TypeError, OverflowError, re.error) as exc:
        log.info("aas.access.formula_error error=%s", exc)
        return False


# --- fields ---------------------------------------------------------------------------------------------------------

_FIELD = re.compile(r"^\$(aasdesc|smdesc|aas|sme|sm|cd)((?:\.[^#]*)?)#(.+)$")
_STEP = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]*)((?:\[\d*\])*)$")
_NAMES = {"protocolinformation": "protocolInformation"}
_REFERENCES = ("semanticId", "externalSubjectId", "valueId")


@dataclass(frozen=True)
class FieldPath:
    """A parsed FieldIdentifier: the object's kind, the element path of ``$sme.<path>``, and the steps in it."""

    text: str
    kind: str
    element: str | None
    steps: tuple[
        tuple[str, tuple[str, ...], str], ...
    ]  # (name, its indices like "[]" or "[3]", prefix to here)

    def first_open_list(self, bindings: Mapping[str, int]) -> str | None:
        """The prefix (ending in ``[]``) of the first list this field leaves open, not bound by a ``$match``."""
        for _, indices, prefix in self.steps:
            if "[]" in indices and prefix not in bindings:
                return prefix
        return None


def parse_field(text: str) -> FieldPath:
    m = _FIELD.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a FieldIdentifier ($aas#, $sm#, $sme#, $cd#, $aasdesc#, $smdesc#)")
    kind, element, rest = m.group(1), m.group(2)[1:] or None, m.group(3)
    steps = []
    prefix = f"${kind}{'.' + element if element else ''}#"
    for i, part in enumerate(rest.split(".")):
        s = _STEP.match(part)
        if s is None:
            raise ValueError(f"{text!r}: {part!r} is not a step of a FieldIdentifier")
        name = s.group(1)
        indices = tuple(re.findall(r"\[\d*\]", s.group(2)))
        prefix += ("." if i else "") + name
        full = prefix
        for ix in indices:
            full += ix
        steps.append((_NAMES.get(name, name), indices, full if indices else prefix))
        prefix = full
    return FieldPath(text, kind, element, tuple(steps))


def resolve(path: FieldPath, env: Env) -> Any:
    """The values ``path`` names for the subject (a list, maybe empty), or NA when the subject has no such object."""
    subject = env.subject
    root = subject.element(path.element) if path.element is not None else subject.object(path.kind)
    if root is None:
        if path.element is not None and subject.object("sm") is not None:
            return []  # the submodel is there, the element is not: nothing compares
        return NA
    nodes: list[Any] = [root]
    for name, indices, prefix in path.steps:
        nxt: list[Any] = []
        for node in nodes:
            value = _step(node, name)
            if value is None:
                continue
            nxt.append(value)
        for ix in indices:
            nxt = _index(nxt, ix, prefix, env.bindings)
        nodes = nxt
    out: list[Any] = []
    last = path.steps[-1][0] if path.steps else ""
    for node in nodes:
        if isinstance(node, dict) and last in _REFERENCES:
            keys = node.get("keys") or []
            if keys:
                out.append(keys[0].get("value"))
        elif isinstance(node, list):
            out.extend(v for v in node if not isinstance(v, dict | list))
        elif node is not None:
            out.append(node)
    return out


def _step(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return None
    if name == "language" and isinstance(node.get("value"), list):  # a MultiLanguageProperty's languages
        return [v.get("language") for v in node["value"] if isinstance(v, dict)]
    value = node.get(name)
    # a MultiLanguageProperty's value: its texts
    if (
        name == "value"
        and isinstance(value, list)
        and value
        and isinstance(value[0], dict)
        and "text" in value[0]
    ):
        return [v.get("text") for v in value]
    return value


def _index(values: list[Any], ix: str, prefix: str, bindings: Mapping[str, int]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not isinstance(v, list):
            continue
        if ix == "[]":
            bound = bindings.get(prefix)
            if bound is None:
                out.extend(v)
            elif bound < len(v):
                out.append(v[bound])
        else:
            n = int(ix[1:-1])
            if n < len(v):
                out.append(v[n])
    return out


def list_length(prefix: str, env: Env) -> Any:
    """How many items the list ``prefix`` (a field ending in ``[]``) has for the subject; NA if not applicable."""
    path = parse_field(prefix[:-2])
    values = resolve_raw(path, env)
    if values is NA:
        return NA
    return max((len(v) for v in values if isinstance(v, list)), default=0)


def resolve_raw(path: FieldPath, env: Env) -> Any:
    subject = env.subject
    root = subject.element(path.element) if path.element is not None else subject.object(path.kind)
    if root is None:
        return NA
    nodes = [root]
    for i, (name, indices, prefix) in enumerate(path.steps):
        nodes = [v for v in (_step(n, name) for n in nodes) if v is not None]
        if i < len(path.steps) - 1:
            for ix in indices:
                nodes = _index(nodes, ix, prefix, env.bindings)
    return nodes


# --- values ---------------------------------------------------------------------------------------------------------


def _to_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_time(value: Any) -> time:
    if isinstance(value, datetime):
        return value.timetz().replace(tzinfo=None)
    if isinstance(value, time):
        return value
    return time.fromisoformat(str(value))


def _to_hex(value: Any) -> Hex:
    if isinstance(value, Hex):
        return value
    if isinstance(value, bool):
        return Hex(int(value))
    if isinstance(value, int | float):
        return Hex(int(value))
    text = str(value)
    return Hex(int(text[3:] if text.startswith("16#") else text, 16))


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise EvalError(f"{value!r} is not a boolean")


def _to_num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Hex):
        return float(value.value)
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(str(value))
    except ValueError:
        raise EvalError(f"{value!r} is not a number") from None


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Hex):
        return f"16#{value.value:X}"
    if isinstance(value, datetime | time | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cast(kind: str, inner: Operand) -> Operand:
    convert: Callable[[Any], Any] = {
        "$strCast": _to_str,
        "$numCast": _to_num,
        "$hexCast": _to_hex,
        "$boolCast": _to_bool,
        "$dateTimeCast": lambda v: v if isinstance(v, datetime) else _to_datetime(str(v)),
        "$timeCast": _to_time,
    }[kind]

    def run(env: Env) -> Any:
        values = inner(env)
        if values is NA:
            return NA
        try:
            return [convert(v) for v in values]
        except (ValueError, TypeError) as exc:
            raise EvalError(f"{kind} of {values!r}: {exc}") from None

    return run


def _date_part(kind: str, literal: str) -> Operand:
    dt = _to_datetime(literal)
    value = {
        "$dayOfWeek": (dt.weekday() + 1) % 7,  # 0 is Sunday (IDTA-01004)
        "$dayOfMonth": dt.day,
        "$month": dt.month,
        "$year": dt.year,
    }[kind]
    return lambda env: [float(value)]


def attribute_values(attr: Mapping[str, str], subject: Subject) -> list[Any]:
    """The values of a CLAIM, GLOBAL or REFERENCE attribute for ``subject`` (an absent claim: none)."""
    if "CLAIM" in attr:
        return list(subject.claims.get(attr["CLAIM"], []))
    if "GLOBAL" in attr:
        name = attr["GLOBAL"]
        if name == "UTCNOW":
            return [subject.now.astimezone(UTC)]
        if name == "LOCALNOW":
            return [subject.now.astimezone()]
        if name == "ANONYMOUS":
            return [subject.anonymous]
        raise EvalError("GLOBAL(CLIENTNOW) is not available: werk's tokens carry no client time")
    return subject.reference(attr["REFERENCE"])


def compile_value(value: Mapping[str, Any]) -> Operand:
    """A ``Value``/``stringValue`` of the JSON schema to a function giving its values (or NA)."""
    ((key, arg),) = value.items()
    if key == "$field":
        path = parse_field(arg)
        return lambda env: resolve(path, env)
    if key in ("$strVal", "$numVal", "$boolean"):
        literal = [float(arg) if key == "$numVal" else arg]
        return lambda env: literal
    if key == "$hexVal":
        hex_literal = [_to_hex(arg)]
        return lambda env: hex_literal
    if key == "$dateTimeVal":
        dt_literal = [_to_datetime(arg)]
        return lambda env: dt_literal
    if key == "$timeVal":
        t_literal = [time.fromisoformat(arg)]
        return lambda env: t_literal
    if key == "$attribute":
        attr = dict(arg)
        return lambda env: attribute_values(attr, env.subject)
    if key.endswith("Cast"):
        return _cast(key, compile_value(arg))
    if key in ("$dayOfWeek", "$dayOfMonth", "$month", "$year"):
        return _date_part(key, arg)
    raise ValueError(f"unknown value {key!r}")


def _pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """``a`` and ``b`` as one comparable type, or None when they do not compare."""
    if isinstance(a, bool) or isinstance(b, bool):
        try:
            return _to_bool(a), _to_bool(b)
        except EvalError:
            return None
    if isinstance(a, Hex) or isinstance(b, Hex):
        try:
            return _to_hex(a).value, _to_hex(b).value
        except ValueError:
            return None
    if isinstance(a, datetime) or isinstance(b, datetime):
        dt, other, swap = (a, b, False) if isinstance(a, datetime) else (b, a, True)
        try:
            if isinstance(other, time):
                pair: tuple[Any, Any] = (_to_time(dt), other)
            elif isinstance(other, datetime):
                pair = (dt, other)
            elif isinstance(other, str) and re.fullmatch(r"\d{2}:\d{2}(:\d{2})?(\.\d+)?", other):
                pair = (_to_time(dt), time.fromisoformat(other))
            else:
                pair = (dt, _to_datetime(str(other)))
        except ValueError:
            return None
        return (pair[1], pair[0]) if swap else pair
    if isinstance(a, time) or isinstance(b, time):
        try:
            return _to_time(a), _to_time(b)
        except ValueError:
            return None
    if isinstance(a, int | float) or isinstance(b, int | float):
        try:
            return _to_num(a), _to_num(b)
        except EvalError:
            return None
    return str(a), str(b)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a > b,
    "$ge": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$le": lambda a, b: a <= b,
}


def _comparison(op: str, left: Operand, right: Operand) -> Expr:
    test = _OPS[op]

    def run(env: Env) -> Tri:
        a, b = left(env), right(env)
        if a is NA or b is NA:
            return NA
        for x in a:
            for y in b:
                pair = _pair(x, y)
                if pair is not None and test(*pair):
                    return True
        return False

    return run


def _string_op(op: str, left: Operand, right: Operand, pattern: re.Pattern[str] | None) -> Expr:
    def test(a: str, b: str) -> bool:
        if op == "$contains":
            return b in a
        if op == "$starts-with":
            return a.startswith(b)
        if op == "$ends-with":
            return a.endswith(b)
        return (pattern or re.compile(b)).search(a) is not None

    def run(env: Env) -> Tri:
        a, b = left(env), right(env)
        if a is NA or b is NA:
            return NA
        return any(test(_to_str(x), _to_str(y)) for x in a for y in b)

    return run


def _junction(items: list[Expr], decisive: bool) -> Expr:
    """``$and`` (``decisive`` False) and ``$or`` (``decisive`` True) over three values: the first item whose truth
    is ``decisive`` decides; items that are NA are passed over, and when all are, so is the junction."""

    def run(env: Env) -> Tri:
        seen = False
        for item in items:
            r = item(env)
            if r is NA:
                continue
            if bool(r) is decisive:
                return decisive
            seen = True
        return not decisive if seen else NA

    return run


def _not(item: Expr) -> Expr:
    def run(env: Env) -> Tri:
        r = item(env)
        return NA if r is NA else not r

    return run


def _fields_of(expr: Any) -> list[str]:
    """The FieldIdentifiers an expression (JSON form) names, in order."""
    if isinstance(expr, dict):
        out = []
        for k, v in expr.items():
            if k == "$field":
                out.append(v)
            else:
                out += _fields_of(v)
        return out
    if isinstance(expr, list):
        return [f for v in expr for f in _fields_of(v)]
    return []


def _match(items: list[Expr], fields: list[FieldPath]) -> Expr:
    def run(env: Env) -> Tri:
        prefix = next((p for p in (f.first_open_list(env.bindings) for f in fields) if p), None)
        if prefix is None:
            return _junction(items, False)(env) if len(items) > 1 else items[0](env)
        n = list_length(prefix, env)
        if n is NA:
            return NA
        for i in range(n):
            inner = Env(env.subject, {**env.bindings, prefix: i})
            if run(inner) is True:
                return True
        return False

    return run


def compile_expr(expr: Mapping[str, Any]) -> Expr:
    """A ``logicalExpression``/``matchExpression`` of the JSON schema (validated already) to its function."""
    ((key, arg),) = expr.items()
    if key == "$and":
        return _junction([compile_expr(e) for e in arg], False)
    if key == "$or":
        return _junction([compile_expr(e) for e in arg], True)
    if key == "$not":
        return _not(compile_expr(arg))
    if key == "$boolean":
        value = bool(arg)
        return lambda env: value
    if key == "$match":
        return _match([compile_expr(e) for e in arg], [parse_field(f) for f in _fields_of(arg)])
    if key in _OPS:
        return _comparison(key, compile_value(arg[0]), compile_value(arg[1]))
    if key in ("$contains", "$starts-with", "$ends-with", "$regex"):
        pattern = re.compile(arg[1]["$strVal"]) if key == "$regex" and "$strVal" in arg[1] else None
        return _string_op(key, compile_value(arg[0]), compile_value(arg[1]), pattern)
    raise ValueError(f"unknown expression {key!r}")
