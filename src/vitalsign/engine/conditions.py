"""Say what a gate or flag condition needs, in its own terms: "invoices_90d ≥ 1 (now 0)".

A failed gate is opened by making its condition true; a raised flag clears when its condition
turns false. `requirement` walks the parsed condition (model/expressions.py) with the
account's values: for `and`/`or` it keeps only the parts that must change, and a comparison
of a signal with a number reads as that signal's target beside its current value. Parts it
cannot phrase (arithmetic, function calls) are quoted as written.

>>> requirement("invoices_90d >= 1", {"invoices_90d": 0}, want=True)
'invoices_90d ≥ 1 (now 0)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitalsign.model.expressions import (
    Compare,
    CompareOp,
    Expr,
    InList,
    Literal,
    Logical,
    Name,
    Not,
    parse_expression,
)

SYMBOLS: dict[str, str] = {">=": "≥", "<=": "≤", "==": "=", "!=": "≠", ">": ">", "<": "<"}
NEGATED: dict[CompareOp, CompareOp] = {
    ">=": "<",
    "<": ">=",
    "<=": ">",
    ">": "<=",
    "==": "!=",
    "!=": "==",
}
MIRRORED: dict[CompareOp, CompareOp] = {
    ">=": "<=",
    "<=": ">=",
    ">": "<",
    "<": ">",
    "==": "==",
    "!=": "!=",
}


def shown(value: Any) -> str:
    """Show a value compactly: whole numbers without decimals, others to 4 digits."""
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:.4g}"
    return str(value)


def condition_names(text: str) -> set[str]:
    """Return the signal and column names a condition reads."""
    return parse_expression(text).names()


def _compare(op: CompareOp, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    try:
        return bool(
            {
                ">=": left >= right,
                "<=": left <= right,
                ">": left > right,
                "<": left < right,
                "==": left == right,
                "!=": left != right,
            }[op]
        )
    except TypeError:
        return None


def _value(expr: Expr, values: Mapping[str, Any]) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        value = values.get(expr.name)
        return None if isinstance(value, float) and value != value else value
    return None


def evaluate(expr: Expr, values: Mapping[str, Any]) -> bool | None:
    """Return the condition's truth on the values, None when it cannot be told here."""
    if isinstance(expr, Compare):
        return _compare(expr.op, _value(expr.left, values), _value(expr.right, values))
    if isinstance(expr, Not):
        inner = evaluate(expr.operand, values)
        return None if inner is None else not inner
    if isinstance(expr, InList):
        value = _value(expr.operand, values)
        return None if value is None else (value in expr.values) != expr.negated
    if isinstance(expr, Logical):
        parts = [evaluate(o, values) for o in expr.operands]
        if expr.op == "and":
            return False if False in parts else (None if None in parts else True)
        return True if True in parts else (None if None in parts else False)
    return None


def _target(expr: Compare, want: bool, values: Mapping[str, Any]) -> str | None:
    """Phrase `name op literal` (either side) so that it holds (want) or fails (not want)."""
    if isinstance(expr.left, Name) and isinstance(expr.right, Literal):
        name, op, limit = expr.left.name, expr.op, expr.right.value
    elif isinstance(expr.right, Name) and isinstance(expr.left, Literal):
        name, op, limit = expr.right.name, MIRRORED[expr.op], expr.left.value
    else:
        return None
    if not want:
        op = NEGATED[op]
    return f"{name} {SYMBOLS[op]} {shown(limit)} (now {shown(values.get(name))})"


def requirement(text: str, values: Mapping[str, Any], want: bool) -> str:
    """Return what makes the condition `text` true (want) or false (not want)."""
    return _needs(parse_expression(text), values, want) or (f"{text}" if want else f"not ({text})")


def _needs(expr: Expr, values: Mapping[str, Any], want: bool) -> str | None:
    if isinstance(expr, Not):
        return _needs(expr.operand, values, not want)
    if isinstance(expr, Compare):
        return _target(expr, want, values)
    if isinstance(expr, InList) and isinstance(expr.operand, Name):
        inside = want != expr.negated
        listed = ", ".join(shown(v) for v in expr.values)
        now = shown(values.get(expr.operand.name))
        return f"{expr.operand.name} {'in' if inside else 'not in'} ({listed}) (now {now})"
    if isinstance(expr, Logical):
        # all parts must hold (and, want; or, not want) or any one will do (the other two)
        every = (expr.op == "and") == want
        pending = [o for o in expr.operands if evaluate(o, values) is not want]
        texts = [_needs(o, values, want) for o in (pending or list(expr.operands))]
        if any(t is None for t in texts):
            return None
        phrased = [t for t in texts if t is not None]
        if len(phrased) == 1:
            return phrased[0]
        return (" and " if every else " or ").join(
            f"({t})" if " and " in t or " or " in t else t for t in phrased
        )
    return None
