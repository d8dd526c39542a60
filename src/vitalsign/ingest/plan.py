"""Turn a mapping into SQL: one value per canonical column, identity inputs and preference.

Source values are text; the model's safe expressions are compiled with Ibis over them. A
column used in arithmetic, in a comparison with a number or in a numeric function is read
as a number (unparsable text becomes missing). Names with dots (`context.traits.email`)
are paths into JSON records.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

import ibis

from vitalsign.engine.expressions import compile_expression
from vitalsign.errors import IngestError
from vitalsign.ingest.mapping import ColumnSpec, Mapping
from vitalsign.ingest.readers import SourceRelation
from vitalsign.model.canonical import CanonicalTable
from vitalsign.model.expressions import (
    Arith,
    Call,
    Compare,
    Expr,
    ExpressionError,
    InList,
    Literal,
    Logical,
    Name,
    Negate,
    Not,
    parse_expression,
)

SOURCE_VIEW = "_vs_source"
PLAIN_NAME = re.compile(r"^[^\s()'\"=<>!+*/%,-]+$")
NUMERIC_FUNCTIONS = {"abs", "round", "least", "greatest"}
STRING_FUNCTIONS = {"lower", "upper", "length", "contains", "startswith", "endswith"}


@dataclass
class Plan:
    """A mapping resolved against a source: the SQL of every value, by target name."""

    table: CanonicalTable
    values: dict[str, str] = field(default_factory=dict)  # target column → value SQL column
    identity: dict[str, str] = field(default_factory=dict)  # rule → SQL column
    prefer: str | None = None
    require: str | None = None
    select_sql: str = ""
    unnumbered_sql: str = ""  # select_sql without line numbers, for the bulk insert
    every_column_sql: str | None = None  # reads every source column (see SourceRelation)
    raw_sql: str = "'{}'"


def _alias_paths(text: str) -> tuple[str, dict[str, str]]:
    """Replace dotted names by aliases so the expression parses; return text and aliases."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text, {}
    out: list[tuple[int, str]] = []
    aliases: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == tokenize.NAME:
            parts, j = [tok.string], i + 1
            while (
                j + 1 < len(tokens)
                and tokens[j].string == "."
                and tokens[j + 1].type == tokenize.NAME
            ):
                parts.append(tokens[j + 1].string)
                j += 2
            if len(parts) > 1:
                path = ".".join(parts)
                alias = aliases.setdefault(path, f"__path{len(aliases)}")
                out.append((tokenize.NAME, alias))
                i = j
                continue
        out.append((tok.type, tok.string))
        i += 1
    return tokenize.untokenize(out), {alias: path for path, alias in aliases.items()}


def _numeric_names(expr: Expr) -> set[str]:
    """Names the expression uses as numbers."""
    found: set[str] = set()

    def kind(node: Expr) -> str:
        if isinstance(node, Name):
            return "any"
        if isinstance(node, Literal):
            if isinstance(node.value, bool):
                return "bool"
            return "num" if isinstance(node.value, int | float) else "str"
        if isinstance(node, Arith):
            kinds = (kind(node.left), kind(node.right))
            if node.op == "+" and "str" in kinds:
                return "str"
            mark(node.left)
            mark(node.right)
            return "num"
        if isinstance(node, Negate):
            mark(node.operand)
            return "num"
        if isinstance(node, Compare):
            kinds = (kind(node.left), kind(node.right))
            if "num" in kinds:
                mark(node.left)
                mark(node.right)
            return "bool"
        if isinstance(node, Not | Logical):
            for child in (node.operand,) if isinstance(node, Not) else node.operands:
                kind(child)
            return "bool"
        if isinstance(node, InList):
            kind(node.operand)
            if any(isinstance(v, int | float) and not isinstance(v, bool) for v in node.values):
                mark(node.operand)
            return "bool"
        if isinstance(node, Call):
            arg_kinds = [kind(a) for a in node.args]
            if node.function in NUMERIC_FUNCTIONS and (
                node.function in ("abs", "round") or "num" in arg_kinds
            ):
                for arg in node.args[: 1 if node.function == "round" else None]:
                    mark(arg)
                return "num"
            return "str" if node.function in STRING_FUNCTIONS else "any"
        return "any"

    def mark(node: Expr) -> None:
        if isinstance(node, Name):
            found.add(node.name)

    kind(expr)
    return found


class _Builder:
    """Compiles mapping texts into Ibis values over the source's text columns."""

    def __init__(self, relation: SourceRelation, label: str) -> None:
        self.relation = relation
        self.label = label
        self.table: Any = None

    def _is_plain(self, text: str) -> bool:
        return text in self.relation.columns or bool(
            self.relation.is_json and PLAIN_NAME.match(text) and not _looks_like_expr(text)
        )

    def _parse(self, text: str, where: str) -> tuple[Expr, dict[str, str]]:
        aliased, aliases = _alias_paths(text)
        try:
            return parse_expression(aliased), aliases
        except ExpressionError as exc:
            raise IngestError(f"{self.label} {where}: {exc}") from exc

    def names(self, spec: ColumnSpec, where: str) -> list[str]:
        """Return the source names a mapping text (or case list) reads."""
        texts = (
            [spec]
            if isinstance(spec, str)
            else [t for case in spec for t in (case.when, case.then) if t is not None]
        )
        found: list[str] = []
        for text in texts:
            if self._is_plain(text):
                found.append(text)
                continue
            expr, aliases = self._parse(text, where)
            found += [aliases.get(n, n) for n in sorted(expr.names())]
        for name in found:
            if not self.relation.is_json and name not in self.relation.columns:
                raise IngestError(
                    f"{self.label} {where}: the mapping reads column {name!r}, which the source "
                    f"does not have; its columns are {', '.join(self.relation.columns) or '(none)'}"
                )
        return found

    def value(self, text: str, where: str) -> Any:
        if self._is_plain(text):
            return self.table[text]
        expr, aliases = self._parse(text, where)
        numeric = _numeric_names(expr)

        def resolve(name: str) -> Any:
            value = self.table[aliases.get(name, name)]
            return value.try_cast("float64") if name in numeric else value

        return compile_expression(expr, resolve)

    def spec(self, spec: ColumnSpec, where: str) -> Any:
        if isinstance(spec, str):
            return self.value(spec, where)
        cases: list[tuple[Any, Any]] = []
        default: Any = None
        for i, case in enumerate(spec):
            then = self.value(case.then, f"{where}[{i}].then")
            if case.when is None:
                default = then
                break
            cases.append((self.value(case.when, f"{where}[{i}].when"), then))
        if not cases:
            return default
        return ibis.cases(*cases, else_=default)


def _looks_like_expr(text: str) -> bool:
    return text in ("true", "false", "null") or text[:1].isdigit()


def build_plan(table: CanonicalTable, mapping: Mapping, relation: SourceRelation) -> Plan:
    """Resolve `mapping` for `table` against `relation`; raise IngestError for a bad mapping."""
    label = relation.label
    unknown = set(mapping.columns) - set(table.column_names)
    if unknown:
        raise IngestError(
            f"{label}: the mapping names unknown columns of {table.name}: "
            f"{', '.join(sorted(unknown))}; known: {', '.join(table.column_names)}"
        )
    builder = _Builder(relation, label)
    specs: dict[str, tuple[ColumnSpec, str]] = {}
    plan = Plan(table)
    for column in table.columns:
        spec: ColumnSpec | None = mapping.columns.get(column.name)
        if spec is None and column.name in relation.columns:
            spec = column.name
        if spec is not None:
            specs[f"__v_{column.name}"] = (spec, f"columns.{column.name}")
            plan.values[column.name] = f"__v_{column.name}"
    for rule, text in mapping.identity.items():
        specs[f"__i_{rule}"] = (text, f"identity.{rule}")
        plan.identity[rule] = f"__i_{rule}"
    if mapping.prefer:
        specs["__prefer"] = (mapping.prefer, "prefer")
        plan.prefer = "__prefer"
    if mapping.require:
        specs["__require"] = (mapping.require, "require")
        plan.require = "__require"
    _check_required(table, plan, relation, label)
    needed: list[str] = [] if relation.is_json else list(relation.columns)
    for spec, where in specs.values():
        needed += [n for n in builder.names(spec, where) if n not in needed]
    passthrough = ["_raw"] if relation.is_json else []
    schema = ibis.schema({"_line": "int64", **dict.fromkeys([*passthrough, *needed], "string")})
    builder.table = ibis.table(schema, name=SOURCE_VIEW)
    selects: dict[str, Any] = {n: builder.table[n] for n in ["_line", *passthrough, *needed]}
    try:
        for name, (spec, where) in specs.items():
            selects[name] = builder.spec(spec, where)
        compiled = builder.table.select(**selects)
    except (AttributeError, TypeError, ibis.common.exceptions.IbisError) as exc:
        raise IngestError(f"{label}: the mapping does not type-check: {exc}") from exc
    query = ibis.to_sql(compiled, dialect="duckdb")
    plan.select_sql = f"WITH {SOURCE_VIEW} AS ({relation.select_sql(needed)}) {query}"
    unnumbered = relation.select_sql(needed, numbered=False)
    plan.unnumbered_sql = f"WITH {SOURCE_VIEW} AS ({unnumbered}) {query}"
    plan.raw_sql = relation.raw_sql()
    plan.every_column_sql = relation.every_column_sql
    return plan


def _check_required(
    table: CanonicalTable, plan: Plan, relation: SourceRelation, label: str
) -> None:
    resolvable = table.name != "accounts" and bool(plan.identity)
    for column in table.columns:
        if not column.required or column.name in plan.values:
            continue
        if column.name == "account_id" and resolvable:
            continue
        raise IngestError(
            f"{label}: no column for required field {table.name}.{column.name}; map it with "
            f"--map {column.name}=SOURCE_COLUMN (source columns: "
            f"{', '.join(relation.columns) or '(none seen)'})"
        )
