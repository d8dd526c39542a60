"""Compile the model's safe expressions into Ibis expressions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from vitalsign.model.expressions import (
    Arith,
    Call,
    Compare,
    Expr,
    InList,
    Literal,
    Logical,
    Name,
    Negate,
    Not,
    parse_expression,
)

Resolver = Callable[[str], ir.Value]


def compile_expression(expr: Expr | str, resolve: Resolver) -> ir.Value:
    """Return the Ibis expression for `expr`, looking names up with `resolve`."""
    if isinstance(expr, str):
        expr = parse_expression(expr)
    return _compile(expr, resolve)


def columns_of(table: ir.Table) -> Resolver:
    """Resolve names to the columns of `table`."""

    def resolve(name: str) -> ir.Value:
        return table[name]

    return resolve


def _compile(expr: Expr, resolve: Resolver) -> Any:
    if isinstance(expr, Name):
        return resolve(expr.name)
    if isinstance(expr, Literal):
        return ibis.literal(expr.value) if expr.value is not None else ibis.null()
    if isinstance(expr, Negate):
        return -_compile(expr.operand, resolve)
    if isinstance(expr, Not):
        return ~_compile(expr.operand, resolve)
    if isinstance(expr, Arith):
        left, right = _compile(expr.left, resolve), _compile(expr.right, resolve)
        if expr.op == "/":
            return left.cast("float64") / ibis.ifelse(right == 0, ibis.null(), right)
        return {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "%": lambda: left % right,
        }[expr.op]()
    if isinstance(expr, Compare):
        left, right = _compile(expr.left, resolve), _compile(expr.right, resolve)
        return {
            "==": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[expr.op]()
    if isinstance(expr, Logical):
        parts = [_compile(o, resolve) for o in expr.operands]
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if expr.op == "and" else (result | part)
        return result
    if isinstance(expr, InList):
        operand = _compile(expr.operand, resolve)
        test = operand.isin(list(expr.values))
        return ~test if expr.negated else test
    if isinstance(expr, Call):
        return _call(expr.function, [_compile(a, resolve) for a in expr.args])
    raise TypeError(f"unknown expression node {expr!r}")  # pragma: no cover - parser guards


def _call(function: str, args: list[Any]) -> Any:
    first = args[0]
    if function == "lower":
        return first.lower()
    if function == "upper":
        return first.upper()
    if function == "length":
        return first.length()
    if function == "abs":
        return first.abs()
    if function == "round":
        return first.round(args[1].op().value if len(args) > 1 else 0)
    if function == "coalesce":
        return ibis.coalesce(*args)
    if function == "least":
        return ibis.least(*args)
    if function == "greatest":
        return ibis.greatest(*args)
    if function == "is_null":
        return first.isnull()
    if function == "not_null":
        return first.notnull()
    if function == "contains":
        return first.contains(args[1])
    if function == "startswith":
        return first.startswith(args[1])
    if function == "endswith":
        return first.endswith(args[1])
    raise TypeError(f"unknown function {function}")  # pragma: no cover - parser guards
