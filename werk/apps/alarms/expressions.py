"""Alarm expressions over several signals of an asset (``temperature > 70 and load < 10``), safely: parsed with
:mod:`ast` and turned into a tree of closures from a whitelist of node types, never ``eval``.

Allowed: numbers, strings, ``true``/``false`` (and Python's ``True``/``False``), signal names (identifiers: the
asset's signals), ``and``, ``or``, ``not``, comparisons (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``, chained),
``+``, ``-``, ``*``, ``/``, unary ``-``, and the functions ``abs``, ``min`` and ``max``. Anything else (attributes,
subscripts, lambdas, other calls, ``**``) is refused with what it is and where in the text.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Env = Mapping[str, object]
Fn = Callable[[Env], Any]

_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_CALLS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}
_WORDS = {"true": True, "false": False, "True": True, "False": False}


class ExpressionError(ValueError):
    """An expression werk will not evaluate; the message says what and at which column."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the signal names it reads, and the function computing it."""

    text: str
    signals: frozenset[str]
    fn: Fn

    def __call__(self, env: Env) -> Any:
        return self.fn(env)


def parse(text: str) -> Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not an expression: {exc.msg} at column {exc.offset}") from None
    names: set[str] = set()
    fn = _compile(tree.body, text, names)
    if not names:
        raise ExpressionError(f"{text!r} reads no signal")
    return Expression(text, frozenset(names), fn)


def _refuse(node: ast.AST, text: str, what: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0) + 1
    return ExpressionError(f"{text!r}, column {col}: {what} is not allowed in an alarm expression")


def _compile(node: ast.AST, text: str, names: set[str]) -> Fn:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool | int | float | str):
            return lambda env: value
        raise _refuse(node, text, f"the constant {value!r}")
    if isinstance(node, ast.Name):
        if node.id in _WORDS:
            word = _WORDS[node.id]
            return lambda env: word
        name = node.id
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, text, names) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(p(env) for p in parts)
        return lambda env: any(p(env) for p in parts)
    if isinstance(node, ast.UnaryOp):
        inner = _compile(node.operand, text, names)
        if isinstance(node.op, ast.Not):
            return lambda env: not inner(env)
        if isinstance(node.op, ast.USub):
            return lambda env: -inner(env)
        if isinstance(node.op, ast.UAdd):
            return inner
        raise _refuse(node, text, type(node.op).__name__)
    if isinstance(node, ast.BinOp):
        op = _BIN.get(type(node.op))
        if op is None:
            raise _refuse(node, text, f"the operator {type(node.op).__name__}")
        left, right = _compile(node.left, text, names), _compile(node.right, text, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.Compare):
        first = _compile(node.left, text, names)
        ops = []
        for o, c in zip(node.ops, node.comparators, strict=True):
            f = _CMP.get(type(o))
            if f is None:
                raise _refuse(node, text, f"the comparison {type(o).__name__}")
            ops.append((f, _compile(c, text, names)))

        def compare(env: Env) -> bool:
            a = first(env)
            for f, right in ops:
                b = right(env)
                if not f(a, b):
                    return False
                a = b
            return True

        return compare
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLS or node.keywords:
            raise _refuse(node, text, "this call (only abs, min and max)")
        fn, args = _CALLS[node.func.id], [_compile(a, text, names) for a in node.args]
        if not args:
            raise _refuse(node, text, f"{node.func.id}() without arguments")
        return lambda env: fn(*(a(env) for a in args))
    raise _refuse(node, text, type(node).__name__)
