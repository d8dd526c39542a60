"""Profile a model against the loaded data: does it fit what is there?

`vitalsign check` validates a model file; with data in the workspace it also scores every
account once (as of the data's end, nothing stored) and reports what the file alone cannot
show: per signal how many accounts have a value, the tables a signal reads that are empty,
a gate that fails (or a flag that fires) for every account, and a scale whose range misses
the data, with the observed percentiles, so the user can fix the model before trusting it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from vitalsign.engine.freshness import (
    mask_stale,
    score_by_freshness,
    signals_fed_by,
    table_freshness,
)
from vitalsign.engine.scale_fit import numeric, percentiles, scale_misses
from vitalsign.engine.signals import FLAG_PREFIX, signal_column, signal_table
from vitalsign.errors import BacktestError
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.expressions import parse_expression
from vitalsign.model.spec import (
    HealthModel,
)
from vitalsign.store.data_end import data_end
from vitalsign.store.freshness import TableFreshness
from vitalsign.store.history import bring_up_to_date
from vitalsign.store.workspace import Workspace

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One way the model does not fit the data, at a key path of the model."""

    severity: Severity
    loc: str
    message: str

    def line(self) -> str:
        """One line for the CLI, e.g. "warning: signals.x: ..."."""
        return f"{self.severity}: {self.loc}: {self.message}"


@dataclass(frozen=True)
class SignalProfile:
    """One signal over the profiled accounts: how many have a value, and what values."""

    name: str
    tables: tuple[str, ...]
    with_value: int
    accounts: int
    scored: bool
    percentiles: dict[int, float] = field(default_factory=dict)  # numeric values only
    points: dict[int, float] = field(default_factory=dict)  # after the missing policy
    from_missing: int = 0  # accounts whose points come from the missing policy

    @property
    def share(self) -> float:
        """The share of accounts with a value (0 when there is no account)."""
        return self.with_value / self.accounts if self.accounts else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (percentile keys as "p5", "p50", ...)."""
        return {
            "name": self.name,
            "tables": list(self.tables),
            "with_value": self.with_value,
            "accounts": self.accounts,
            "share": round(self.share, 4),
            "scored": self.scored,
            "percentiles": {f"p{k}": v for k, v in self.percentiles.items()},
            "points": {f"p{k}": v for k, v in self.points.items()},
            "points_from_missing": self.from_missing,
        }


@dataclass(frozen=True)
class ModelProfile:
    """The model against the data as of one date: signals, tables, gate, flags, findings."""

    as_of: dt.date
    accounts: int
    table_rows: dict[str, int]
    signals: list[SignalProfile]
    gate_pass: int | None
    flags_raised: dict[str, int]
    findings: list[Finding]
    gate_missing: str | None = None  # the gate was not evaluated: its inputs are missing

    @property
    def errors(self) -> list[Finding]:
        """The findings that make the model unusable on this data."""
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "as_of": self.as_of.isoformat(),
            "accounts": self.accounts,
            "table_rows": self.table_rows,
            "signals": [s.to_dict() for s in self.signals],
            "gate_pass": self.gate_pass,
            "gate_missing": self.gate_missing,
            "flags_raised": self.flags_raised,
            "findings": [
                {"severity": f.severity, "loc": f.loc, "message": f.message} for f in self.findings
            ],
        }


def profile_model(backend: Any, model: HealthModel, as_of: dt.date) -> ModelProfile:
    """Score every account as of `as_of` (nothing stored) and report how the model fits.

    `backend` is an Ibis backend holding the canonical tables.

    >>> profile_model(ws.backend, ws.load_model().spec, dt.date(2025, 6, 2))  # doctest: +SKIP
    """
    fed = signals_fed_by(model)
    freshness = table_freshness(backend, model, [as_of])
    frame = mask_stale(signal_table(backend, model, [as_of]).execute(), model, freshness)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    table_rows = _rows_before(backend, list(fed), as_of)
    accounts = len(frame)
    tables_of = {s: tuple(t for t, names in fed.items() if s in names) for s in model.signals}
    points = _points(frame, model, freshness) if accounts else {}
    profiles = [
        _signal_profile(name, tables_of[name], frame, points.get(name), model)
        for name in model.signals
    ]
    gate_pass = int(frame["gate_pass"].sum()) if model.gate is not None else None
    gate_missing = _gate_missing(model, freshness[as_of])
    raised = {name: int(frame[f"{FLAG_PREFIX}{name}"].sum()) for name in model.flags}
    stale = [t for t in freshness[as_of] if t.stale]
    findings: list[Finding] = [
        Finding("warning", f"tables.{t.table}", f"stale: {t.line()} on this date") for t in stale
    ]
    if accounts:
        findings += _table_findings(fed, table_rows, as_of)
        findings += _condition_findings(model, accounts, gate_pass, raised, tables_of, table_rows)
        stale_signals = {n for t in freshness[as_of] if t.silent for n in t.signals}
        findings += _scale_findings(model, frame, profiles, stale_signals)
    else:
        findings.append(
            Finding(
                "warning",
                "accounts",
                f"no loaded account is a customer on {as_of} (all were created on or after "
                "it, or churned before it): nothing to profile. Pass --as-of a date inside "
                "the data",
            )
        )
    return ModelProfile(
        as_of, accounts, table_rows, profiles, gate_pass, raised, findings, gate_missing
    )


def _gate_missing(model: HealthModel, tables: Sequence[TableFreshness]) -> str | None:
    """Say which gate inputs are missing on the date (stale or empty table), None if none."""
    if model.gate is None:
        return None
    reads = parse_expression(model.gate.when).names()
    missing = {
        name: "no data" if t.absent else "stale"
        for t in tables
        if t.silent
        for name in t.signals
        if name in reads
    }
    return ", ".join(f"{n} is missing ({missing[n]})" for n in sorted(missing)) or None


def default_as_of(connection: Any, today: dt.date | None = None) -> dt.date:
    """The date a profile scores by default: the day the observed data ends (or today)."""
    try:
        end = data_end(connection)
    except BacktestError:  # no data yet
        return today or dt.date.today()
    return min(end.at.date(), today or dt.date.today())


def _rows_before(backend: Any, tables: list[str], as_of: dt.date) -> dict[str, int]:
    """Each table's rows dated before `as_of` (the rows a score as of that date may read)."""
    moment = dt.datetime(as_of.year, as_of.month, as_of.day)
    found: dict[str, int] = {}
    for name in tables:
        table = backend.table(name)
        time_name = CANONICAL_TABLES[name].time_column
        if time_name is not None:
            table = table.filter(table[time_name] < moment)
        found[name] = int(table.count().execute())
    return found


def _points(frame: pd.DataFrame, model: HealthModel, freshness: Any) -> dict[str, np.ndarray]:
    """Each scored signal's points per account, after its missing policy."""
    items = score_by_freshness(frame.copy(), model, freshness).items
    signals = items[items["kind"] == "signal"]
    return {
        str(name): group["points"].to_numpy(dtype="float64")
        for name, group in signals.groupby("name", sort=False)
    }


def _signal_profile(
    name: str,
    tables: tuple[str, ...],
    frame: pd.DataFrame,
    points: np.ndarray | None,
    model: HealthModel,
) -> SignalProfile:
    column = frame[signal_column(name)]
    present = column.notna()
    values = numeric(column)
    scored = points is not None
    from_missing = 0
    if points is not None:
        from_missing = int((~np.isnan(points)).sum()) - int(present.sum())
    return SignalProfile(
        name=name,
        tables=tables,
        with_value=int(present.sum()),
        accounts=len(frame),
        scored=scored or _in_scorecard(model, name),
        percentiles=percentiles(values) if values is not None else {},
        points=percentiles(points) if points is not None else {},
        from_missing=max(from_missing, 0),
    )


def _in_scorecard(model: HealthModel, name: str) -> bool:
    def walk(groups: Any) -> bool:
        return any(name in g.signals or walk(g.groups) for g in groups.values())

    return any(walk(groups) for groups in model.scorecards.values())


def _table_findings(
    fed: dict[str, tuple[str, ...]],
    table_rows: dict[str, int],
    as_of: dt.date,
) -> list[Finding]:
    """An empty table: its signals are missing for everyone (engine/freshness.py)."""
    findings: list[Finding] = []
    for table, names in fed.items():
        if table_rows.get(table, 0):
            continue
        message = (
            f"the table is empty (no row before {as_of}); its {len(names)} signal"
            f"{'s' if len(names) != 1 else ''} ({', '.join(names)}) "
            f"{'are' if len(names) != 1 else 'is'} missing for every account: no points, "
            "lower coverage, and a gate or flag reading them is not evaluated. Load it "
            "(`vitalsign ingest`) or take its signals out of the model"
        )
        findings.append(Finding("warning", f"tables.{table}", message))
    return findings


def _condition_findings(
    model: HealthModel,
    accounts: int,
    gate_pass: int | None,
    raised: dict[str, int],
    tables_of: dict[str, tuple[str, ...]],
    table_rows: dict[str, int],
) -> list[Finding]:
    """A gate that every account fails, a flag raised on every account."""

    def empty_inputs(condition: str) -> str:
        names = sorted(parse_expression(condition).names() & set(tables_of))
        empty = sorted({t for n in names for t in tables_of[n] if not table_rows.get(t, 0)})
        return (
            f" (it reads table{'s' if len(empty) != 1 else ''} {', '.join(empty)}, which "
            f"{'are' if len(empty) != 1 else 'is'} empty)"
            if empty
            else ""
        )

    findings: list[Finding] = []
    if model.gate is not None and gate_pass == 0:
        findings.append(
            Finding(
                "error",
                "gate.when",
                f"{model.gate.when!r} fails for every account ({accounts} of {accounts})"
                f"{empty_inputs(model.gate.when)}: every account would score 0 and land in "
                "the worst band. Load the data it reads, change the condition, or remove "
                "`gate:`",
            )
        )
    for name, count in raised.items():
        if count == accounts:
            when = model.flags[name].when
            findings.append(
                Finding(
                    "warning",
                    f"flags.{name}.when",
                    f"{when!r} is raised on every account ({accounts} of {accounts})"
                    f"{empty_inputs(when)}: it tells no account from another. Change the "
                    "condition or remove the flag",
                )
            )
    return findings


def _scale_findings(
    model: HealthModel, frame: pd.DataFrame, profiles: list[SignalProfile], stale: set[str]
) -> list[Finding]:
    """A scored signal no account has, and a scale whose range misses the values."""
    findings: list[Finding] = []
    for profile in profiles:
        signal = model.signals[profile.name]
        if not profile.scored or signal.scale is None:
            continue
        loc = f"signals.{profile.name}"
        if profile.with_value == 0 and profile.name in stale:
            continue  # reported with its stale table
        if profile.with_value == 0:
            findings.append(
                Finding(
                    "warning",
                    loc,
                    f"no account has a value (0 of {profile.accounts})"
                    + (
                        f"; its points come from `missing: {signal.missing}`"
                        if profile.from_missing
                        else ""
                    ),
                )
            )
            continue
        message = scale_misses(signal.scale, frame[signal_column(profile.name)])
        if message:
            findings.append(Finding("warning", f"{loc}.scale", message))
    return findings


def profile_workspace(
    workspace: Workspace, model: HealthModel, as_of: dt.date | None = None
) -> ModelProfile | None:
    """Profile `model` against the workspace's data, or None when no account is loaded.

    `as_of` defaults to the day the observed data ends (`default_as_of`).
    """
    row = workspace.duckdb.execute("SELECT count(*) FROM accounts").fetchone()
    if not row or not row[0]:
        return None
    bring_up_to_date(workspace.duckdb)  # attributes are read from account_history
    day = as_of or default_as_of(workspace.duckdb)
    return profile_model(workspace.backend, model, day)
