"""Checked, side-effect-free expressions: the only code a diagram may carry.

SpiffWorkflow's own script engine is ``eval``/``exec`` and no sandbox. Diagrams
here are data that other organisations edit and share, so conditions, parameters
and timer expressions are parsed, checked against a small whitelist of syntax,
and evaluated by a tiny interpreter over the checked tree – never by ``eval``.
Scripts (script tasks, pre/post scripts) are refused outright.
"""

from __future__ import annotations

import ast
import operator
from functools import lru_cache

from .errors import ExpressionError

MAX_LENGTH = 1000
MAX_SEQUENCE = 10_000  # longest string/list an expression may build

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}


def _safe_len(value) -> int:
    return len(value)


HELPERS = {
    "len": _safe_len,
    "min": min,
    "max": max,
    "abs": abs,
    "any": any,
    "all": all,
    "round": round,
    "int": int,
    "str": str,
    "bool": bool,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.BinOp,
    ast.Compare,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.IfExp,
    ast.Call,
    *_COMPARE,
    *_BINARY,
    *_UNARY,
)


def problems(expression: str) -> list[str]:
    """Why ``expression`` is not allowed; an empty list when it is."""
    if not isinstance(expression, str) or not expression.strip():
        return ["empty expression"]
    if len(expression) > MAX_LENGTH:
        return [f"expression longer than {MAX_LENGTH} characters"]
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        return [f"syntax error: {err.msg}"]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            found.append(f"{type(node).__name__} is not allowed")
        elif isinstance(node, ast.Name) and node.id.startswith("_"):
            found.append(f"name {node.id!r} is not allowed")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in HELPERS:
                found.append("only the helpers " + ", ".join(sorted(HELPERS)) + " may be called")
            elif node.keywords:
                found.append("keyword arguments are not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            found.append("bytes constants are not allowed")
    return found


class Expression:
    """A checked expression, ready to evaluate against a mapping of names."""

    __slots__ = ("source", "_tree")

    def __init__(self, source: str):
        found = problems(source)
        if found:
            raise ExpressionError(f"{source!r}: {'; '.join(found)}", expression=source)
        self.source = source
        self._tree = ast.parse(source.strip(), mode="eval").body

    def evaluate(self, names: dict):
        return _eval(self._tree, names)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    return Expression(source)


def evaluate(source: str, names: dict):
    return compile_expression(source).evaluate(names)


def _eval(node, names):  # noqa: C901 – one small case per node type
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        if node.id in HELPERS:
            return HELPERS[node.id]
        raise ExpressionError(f"unknown name {node.id!r}", name=node.id)
    if isinstance(node, ast.BoolOp):
        result = None
        for value in node.values:
            result = _eval(value, names)
            if isinstance(node.op, ast.And) and not result or isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, names))
    if isinstance(node, ast.BinOp):
        return _binary(type(node.op), _eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript):
        container = _eval(node.value, names)
        key = _eval(node.slice, names)
        if not isinstance(container, dict | list | tuple | str):
            raise ExpressionError("only dicts, lists and strings can be indexed")
        return container[key]
    if isinstance(node, ast.IfExp):
        return _eval(node.body, names) if _eval(node.test, names) else _eval(node.orelse, names)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_eval(e, names) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        return {_eval(k, names): _eval(v, names) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Call):
        return HELPERS[node.func.id](*[_eval(a, names) for a in node.args])
    raise ExpressionError(f"{type(node).__name__} is not allowed")


def _binary(op, left, right):
    if op is ast.Mult and (isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)):
        raise ExpressionError("repeating strings or lists is not allowed")
    result = _BINARY[op](left, right)
    if isinstance(result, str | list | tuple) and len(result) > MAX_SEQUENCE:
        raise ExpressionError("result too long")
    return result
