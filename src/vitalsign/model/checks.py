"""Cross-reference checks of a parsed model: names, columns, expressions, cycles."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass

from vitalsign.model.canonical import ACCOUNT_DERIVED_COLUMNS, ACCOUNTS, CANONICAL_TABLES
from vitalsign.model.expressions import ExpressionError, parse_expression
from vitalsign.model.spec import Group, HealthModel

Loc = tuple[str | int, ...]

ACCOUNT_COLUMNS = frozenset(ACCOUNTS.column_names) | frozenset(ACCOUNT_DERIVED_COLUMNS)


@dataclass(frozen=True)
class ModelIssue:
    """One problem found in a model, with the key path where it is."""

    loc: Loc
    message: str


def check_model(model: HealthModel, account_fields: Iterable[str] = ()) -> list[ModelIssue]:
    """Return every cross-reference problem of `model`; an empty list means it is valid.

    `account_fields` are the workspace's custom account columns, readable as attributes.
    """
    accounts = ACCOUNT_COLUMNS | frozenset(account_fields)
    issues: list[ModelIssue] = []
    issues += _check_signals(model, accounts)
    issues += _check_cycles(model)
    issues += _check_scorecards(model, accounts)
    issues += _check_conditions(model, accounts)
    issues += _check_expansion(model)
    return issues


def _expression(text: str, allowed: frozenset[str], loc: Loc, what: str) -> Iterator[ModelIssue]:
    try:
        expr = parse_expression(text)
    except ExpressionError as exc:
        yield ModelIssue(loc, str(exc))
        return
    for name in sorted(expr.names() - allowed):
        yield ModelIssue(loc, f"unknown {what} {name!r}; known: {', '.join(sorted(allowed))}")


def _check_signals(model: HealthModel, accounts: frozenset[str]) -> Iterator[ModelIssue]:
    names = set(model.signals)
    for name, signal in model.signals.items():
        base: Loc = ("signals", name)
        if signal.table is not None:
            table = CANONICAL_TABLES.get(signal.table)
            if table is None:
                yield ModelIssue(
                    (*base, "table"),
                    f"unknown table {signal.table!r}; known: {', '.join(CANONICAL_TABLES)}",
                )
                continue
            columns = frozenset(table.column_names)
            if signal.column is not None and signal.column not in columns:
                yield ModelIssue(
                    (*base, "column"),
                    f"unknown column {signal.column!r} of table {table.name}; "
                    f"known: {', '.join(table.column_names)}",
                )
            for key in ("value", "filter"):
                text = getattr(signal, key)
                if text is not None:
                    yield from _expression(text, columns, (*base, key), f"column of {table.name}")
            if (
                signal.aggregate in ("days_since_last", "time_to_first")
                and table.time_column is None
            ):
                yield ModelIssue((*base, "table"), f"table {table.name} has no time column")
        if signal.attribute is not None:
            yield from _expression(
                signal.attribute, accounts, (*base, "attribute"), "account column"
            )
        if signal.formula is not None:
            yield from _expression(
                signal.formula, frozenset(names - {name}), (*base, "formula"), "signal"
            )
        for key in ("ratio", "change", "trend", "baseline"):
            value = getattr(signal, key)
            refs = list(value) if isinstance(value, tuple) else [value] if value else []
            for ref in refs:
                if ref not in names:
                    yield ModelIssue((*base, key), f"unknown signal {ref!r}")
                elif key != "ratio" and model.signals[ref].window is None:
                    yield ModelIssue(
                        (*base, key),
                        f"{key} needs a windowed table signal; {ref!r} has no window",
                    )
                elif key != "ratio" and model.signals[ref].table is None:
                    yield ModelIssue(
                        (*base, key),
                        f"{key} needs a table signal; {ref!r} is {model.signals[ref].kind}",
                    )


def signal_dependencies(model: HealthModel, name: str) -> list[str]:
    """Return the signals `name` is computed from (direct inputs only)."""
    signal = model.signals[name]
    deps = list(signal.inputs)
    if signal.formula is not None:
        with suppress(ExpressionError):  # an unparsable formula is reported by _check_signals
            deps += sorted(parse_expression(signal.formula).names())
    return [d for d in deps if d in model.signals]


def _check_cycles(model: HealthModel) -> Iterator[ModelIssue]:
    state: dict[str, str] = {}
    reported: set[str] = set()

    def visit(name: str, path: list[str]) -> Iterator[ModelIssue]:
        state[name] = "active"
        for dep in signal_dependencies(model, name):
            if state.get(dep) == "active":
                cycle = [*path[path.index(dep) :], dep] if dep in path else [name, dep]
                if dep not in reported:
                    reported.add(dep)
                    yield ModelIssue(
                        ("signals", name),
                        "derived signals form a cycle: " + " -> ".join(cycle),
                    )
            elif dep not in state:
                yield from visit(dep, [*path, dep])
        state[name] = "done"

    for name in model.signals:
        if name not in state:
            yield from visit(name, [name])


def _walk_groups(groups: dict[str, Group], loc: Loc) -> Iterator[tuple[str, Loc]]:
    for gname, group in groups.items():
        for sname in group.signals:
            yield sname, (*loc, gname, "signals", sname)
        yield from _walk_groups(group.groups, (*loc, gname, "groups"))


def _check_scorecards(model: HealthModel, accounts: frozenset[str]) -> Iterator[ModelIssue]:
    for card, groups in model.scorecards.items():
        seen: set[str] = set()
        for sname, loc in _walk_groups(groups, ("scorecards", card)):
            if sname not in model.signals:
                yield ModelIssue(loc, f"unknown signal {sname!r}; define it under `signals`")
            elif model.signals[sname].scale is None:
                yield ModelIssue(loc, f"signal {sname!r} has no `scale`, so it cannot give points")
            if sname in seen:
                yield ModelIssue(loc, f"signal {sname!r} appears twice in scorecard {card!r}")
            seen.add(sname)
    cards = set(model.scorecards)
    if model.default_scorecard not in cards:
        yield ModelIssue(
            ("default_scorecard",),
            f"unknown scorecard {model.default_scorecard!r}; known: {', '.join(sorted(cards))}",
        )
    for i, segment in enumerate(model.segments):
        if segment.scorecard not in cards:
            yield ModelIssue(
                ("segments", i, "scorecard"),
                f"unknown scorecard {segment.scorecard!r}; known: {', '.join(sorted(cards))}",
            )
        yield from _expression(segment.when, accounts, ("segments", i, "when"), "account column")


def _check_expansion(model: HealthModel) -> Iterator[ModelIssue]:
    if model.expansion is None:
        return
    for sname in model.expansion.signals:
        loc = ("expansion", "signals", sname)
        if sname not in model.signals:
            yield ModelIssue(loc, f"unknown signal {sname!r}; define it under `signals`")
        elif model.signals[sname].scale is None:
            yield ModelIssue(loc, f"signal {sname!r} has no `scale`, so it cannot give points")


def _check_conditions(model: HealthModel, accounts: frozenset[str]) -> Iterator[ModelIssue]:
    allowed = frozenset(model.signals) | accounts
    if model.gate is not None:
        yield from _expression(
            model.gate.when, allowed, ("gate", "when"), "signal or account column"
        )
    bands = model.band_names
    for name, flag in model.flags.items():
        yield from _expression(
            flag.when, allowed, ("flags", name, "when"), "signal or account column"
        )
        if flag.cap_band is not None and flag.cap_band not in bands:
            yield ModelIssue(
                ("flags", name, "cap_band"),
                f"unknown band {flag.cap_band!r}; known: {', '.join(bands)}",
            )
        if flag.subtract == 0 and flag.cap_band is None:
            yield ModelIssue(("flags", name), "a flag needs `subtract` and/or `cap_band`")
    for i, sname in enumerate(model.overrides.signals):
        if sname not in model.signals:
            yield ModelIssue(("overrides", "signals", i), f"unknown signal {sname!r}")
    if model.insufficient_band in bands:
        yield ModelIssue(("insufficient_band",), "must differ from every band name")
