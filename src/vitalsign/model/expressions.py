"""The safe expression language used for row filters, derived values and conditions.

Expressions look like Python: ``event == 'login' and quantity > 2``,
``priority in ('high', 'urgent')``, ``lower(plan) != 'free'``. Only column names,
literals, arithmetic, comparisons, ``and``/``or``/``not``, ``in`` with a literal list
and the functions in `FUNCTIONS` are allowed; anything else is rejected when the model
is loaded, so no text from a model file ever reaches a query as SQL.

>>> parse_expression("event == 'login' and quantity > 2").names()
{'event', 'quantity'}
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal as TypingLiteral

Scalar = str | int | float | bool | None

# name -> (min args, max args, what it does)
FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "lower": (1, 1, "lower-case a string"),
    "upper": (1, 1, "upper-case a string"),
    "length": (1, 1, "length of a string"),
    "abs": (1, 1, "absolute value"),
    "round": (1, 2, "round to n digits (default 0)"),
    "coalesce": (2, 8, "first argument that is not null"),
    "least": (2, 8, "smallest argument"),
    "greatest": (2, 8, "largest argument"),
    "is_null": (1, 1, "true when the value is missing"),
    "not_null": (1, 1, "true when the value is present"),
    "contains": (2, 2, "true when the string contains the substring"),
    "startswith": (2, 2, "true when the string starts with the prefix"),
    "endswith": (2, 2, "true when the string ends with the suffix"),
}

ArithOp = TypingLiteral["+", "-", "*", "/", "%"]
CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]


MAX_LENGTH = 20_000  # characters of one expression
MAX_NODES = 2_000  # terms, operators and calls in one expression
MAX_DEPTH = 100  # nesting (each unparenthesised `a + b + c` adds one level per operator)


class ExpressionError(ValueError):
    """An expression is unparsable or uses something outside the language."""


def _shown(text: str, limit: int = 80) -> str:
    """Return `text` quoted for a message, shortened when long."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text):,} characters)"


@dataclass(frozen=True)
class Expr:
    """Base of the expression tree."""

    def names(self) -> set[str]:
        """Return the column (or signal) names the expression reads."""
        return set()


@dataclass(frozen=True)
class Name(Expr):
    """A column or signal reference."""

    name: str

    def names(self) -> set[str]:
        return {self.name}


@dataclass(frozen=True)
class Literal(Expr):
    """A constant: string, number, boolean or None."""

    value: Scalar


@dataclass(frozen=True)
class Negate(Expr):
    """Arithmetic negation."""

    operand: Expr

    def names(self) -> set[str]:
        return self.operand.names()


@dataclass(frozen=True)
class Not(Expr):
    """Logical negation."""

    operand: Expr

    def names(self) -> set[str]:
        return self.operand.names()


@dataclass(frozen=True)
class Arith(Expr):
    """An arithmetic operation."""

    op: ArithOp
    left: Expr
    right: Expr

    def names(self) -> set[str]:
        return self.left.names() | self.right.names()


@dataclass(frozen=True)
class Compare(Expr):
    """A comparison between two values."""

    op: CompareOp
    left: Expr
    right: Expr

    def names(self) -> set[str]:
        return self.left.names() | self.right.names()


@dataclass(frozen=True)
class Logical(Expr):
    """``and`` / ``or`` over two or more conditions."""

    op: TypingLiteral["and", "or"]
    operands: tuple[Expr, ...]

    def names(self) -> set[str]:
        return set().union(*(o.names() for o in self.operands))


@dataclass(frozen=True)
class InList(Expr):
    """Membership in a literal list: ``plan in ('pro', 'team')``."""

    operand: Expr
    values: tuple[Scalar, ...]
    negated: bool

    def names(self) -> set[str]:
        return self.operand.names()


@dataclass(frozen=True)
class Call(Expr):
    """A call of a whitelisted function."""

    function: str
    args: tuple[Expr, ...]

    def names(self) -> set[str]:
        return set().union(*(a.names() for a in self.args))


_ARITH: dict[type[ast.operator], ArithOp] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
_COMPARE: dict[type[ast.cmpop], CompareOp] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}


def parse_expression(text: str) -> Expr:
    """Parse `text` into an expression tree, or raise ExpressionError saying why."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"{_shown(text)} is too long (at most {MAX_LENGTH:,} characters): split it "
            "into signals that refer to each other"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            f"cannot parse {_shown(text)}: {exc.msg} at column {exc.offset}"
        ) from exc
    except (RecursionError, MemoryError) as exc:  # CPython's parser on very deep nesting
        raise ExpressionError(_too_deep(text)) from exc
    _check_size(tree.body, text)
    return _convert(tree.body, text)


def _too_deep(text: str) -> str:
    return (
        f"{_shown(text)} is nested too deeply (at most {MAX_DEPTH} levels): split it into "
        "signals that refer to each other, or use `in (...)` instead of long chains"
    )


def _check_size(root: ast.expr, text: str) -> None:
    """Refuse a tree too deep or too large to compile, walking it without recursion."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(_too_deep(text))
        if isinstance(node, ast.expr):
            nodes += 1
            if nodes > MAX_NODES:
                raise ExpressionError(
                    f"{_shown(text)} has more than {MAX_NODES:,} terms: split it into "
                    "signals that refer to each other, or use `in (...)` for long lists"
                )
        grows = isinstance(node, ast.expr) and not isinstance(node, ast.Tuple | ast.List | ast.Set)
        stack.extend((child, depth + grows) for child in ast.iter_child_nodes(node))


def _literal_value(node: ast.expr, text: str) -> Scalar:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | None):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
    ):
        return -node.operand.value
    raise ExpressionError(f"only literal values may appear in an `in` list in {_shown(text)}")


def _convert(node: ast.expr, text: str) -> Expr:
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[node.id])
        return Name(node.id)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | int | float | bool) or node.value is None:
            return Literal(node.value)
        raise ExpressionError(f"unsupported literal {node.value!r} in {_shown(text)}")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return Negate(_convert(node.operand, text))
        if isinstance(node.op, ast.Not):
            return Not(_convert(node.operand, text))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, text)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return Arith(_ARITH[type(node.op)], _convert(node.left, text), _convert(node.right, text))
    if isinstance(node, ast.BoolOp):
        op: TypingLiteral["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
        return Logical(op, tuple(_convert(v, text) for v in node.values))
    if isinstance(node, ast.Compare):
        return _convert_compare(node, text)
    if isinstance(node, ast.Call):
        return _convert_call(node, text)
    raise ExpressionError(
        f"{ast.unparse(node)!r} is not allowed in {_shown(text)}: use columns, literals, "
        "arithmetic, comparisons, and/or/not, `in (...)` and the functions "
        + ", ".join(sorted(FUNCTIONS))
    )


def _convert_compare(node: ast.Compare, text: str) -> Expr:
    parts: list[Expr] = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.Tuple | ast.List | ast.Set):
                raise ExpressionError(
                    f"`in` needs a literal list such as ('a', 'b') in {_shown(text)}"
                )
            values = tuple(_literal_value(v, text) for v in right.elts)
            parts.append(InList(_convert(left, text), values, isinstance(op, ast.NotIn)))
        elif type(op) in _COMPARE:
            parts.append(Compare(_COMPARE[type(op)], _convert(left, text), _convert(right, text)))
        else:
            raise ExpressionError(f"operator {type(op).__name__} is not allowed in {_shown(text)}")
        left = right
    return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))


def _convert_call(node: ast.Call, text: str) -> Expr:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = ast.unparse(node.func)
        raise ExpressionError(
            f"function {name!r} is not allowed in {_shown(text)}; allowed: "
            + ", ".join(sorted(FUNCTIONS))
        )
    if node.keywords:
        raise ExpressionError(f"keyword arguments are not allowed in {_shown(text)}")
    low, high, _ = FUNCTIONS[node.func.id]
    if not low <= len(node.args) <= high:
        raise ExpressionError(
            f"{node.func.id}() takes {low}"
            + (f" to {high}" if high != low else "")
            + f" arguments, got {len(node.args)} in {_shown(text)}"
        )
    args = tuple(_convert(a, text) for a in node.args)
    if (
        node.func.id == "round"
        and len(args) == 2
        and not (isinstance(args[1], Literal) and isinstance(args[1].value, int))
    ):
        raise ExpressionError(f"round()'s digits must be a whole number literal in {_shown(text)}")
    return Call(node.func.id, args)
