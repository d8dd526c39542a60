"""Compile the model's safe expressions, and the `latest` reduction, into Ibis expressions."""

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


def nan_as_null(table: ir.Table) -> ir.Table:
    """Return `table` with NaN in its floating columns read as NULL: a missing value.

    Data loaded through pandas (a memtable on Spark) can carry NaN for NULL, and Spark
    ranks NaN above every number and lets it through `max`, `mean` and `sum`.
    """
    floats = {
        name: ibis.ifelse(table[name].isnan(), ibis.null(dtype.copy(nullable=True)), table[name])
        for name, dtype in table.schema().items()
        if dtype.is_floating()
    }
    return table.mutate(**floats) if floats else table


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


def latest_value(value: Any, time: Any, where: Any, backend: str) -> Any:
    """The value at the latest time (a NULL value there is the answer), as a reduction.

    Ibis compiles `argmax` to `FIRST(value ORDER BY time DESC)`, for which DuckDB builds a
    sort key per row; on DuckDB, `arg_max_null` means the same at the cost of `max`.
    """
    if backend != "duckdb":
        return value.argmax(time, where=where)
    arg_max_null = ibis.udf.agg.builtin(
        name="arg_max_null", signature=((value.type(), time.type()), value.type())
    )(_signature_of_arg_max_null)
    reduction = arg_max_null(value, time)
    if where is None:
        return reduction
    return reduction.op().copy(where=where.op()).to_expr()  # builtin UDFs take no `where=`


def _signature_of_arg_max_null(value: Any, time: Any) -> Any:  # pragma: no cover - not called
    """Stands for DuckDB's builtin aggregate in the Ibis UDF above."""
