"""The leak check a backtest runs: does any signal see the future it is meant to predict?

Four checks, each reported with the signal it concerns:
- *reads the outcome*: a signal, segment, gate or flag reads the outcomes table or
  accounts.churned_at / lifecycle_stage (today's value, which may already say "churned");
- *future rows*: signal values change when every row at or after T is removed (and every
  other timestamp at or after T is blanked) from a sample of accounts;
- *too good to be true*: the score or a single signal separates churners with AUC ≥ 0.95;
- *AUC jump*: the score's AUC falls by ≥ 0.10 when one signal is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from vitalsign.analytics.metrics import roc_auc
from vitalsign.engine.run import compute_scores
from vitalsign.engine.signals import as_timestamp
from vitalsign.model.canonical import CANONICAL_TABLES, CanonicalTable
from vitalsign.model.expressions import ExpressionError, parse_expression
from vitalsign.model.loader import LoadedModel
from vitalsign.model.spec import HealthModel

TOO_GOOD_AUC = 0.95
AUC_JUMP = 0.10
SAMPLE_ACCOUNTS = 300
OUTCOME_COLUMNS = frozenset({"churned_at", "lifecycle_stage"})
CHANGING_COLUMNS = frozenset({"plan", "seats", "arr", "renewal_date", "days_to_renewal", "owner"})


@dataclass(frozen=True)
class LeakFinding:
    """One reason to suspect that future information reaches the score."""

    check: str  # "reads the outcome", "future rows", "too good to be true", "AUC jump"
    subject: str  # a signal name, or "score"
    detail: str


@dataclass(frozen=True)
class LeakReport:
    """The findings of every leak check, and what the checks covered."""

    findings: list[LeakFinding]
    cautions: list[LeakFinding] = field(default_factory=list)
    truncation_dates: list[dt.date] = field(default_factory=list)
    truncation_accounts: int = 0
    drop_one: pd.DataFrame = field(default_factory=pd.DataFrame)  # signal, auc_without, jump

    @property
    def suspected(self) -> bool:
        """True when any check found something."""
        return bool(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "suspected": self.suspected,
            "findings": [f.__dict__ for f in self.findings],
            "cautions": [f.__dict__ for f in self.cautions],
            "truncation_dates": [d.isoformat() for d in self.truncation_dates],
            "truncation_accounts": self.truncation_accounts,
            "drop_one": self.drop_one.replace({np.nan: None}).to_dict(orient="records"),
        }


def _names(text: str | None) -> set[str]:
    if text is None:
        return set()
    try:
        return parse_expression(text).names()
    except ExpressionError:
        return set()


def static_findings(model: HealthModel) -> list[LeakFinding]:
    """Signals and rules that read the outcome itself."""
    found: list[LeakFinding] = []
    for name, signal in model.signals.items():
        if signal.table == "outcomes":
            found.append(
                LeakFinding(
                    "reads the outcome",
                    name,
                    "reads the outcomes table, which holds what the score is meant to predict",
                )
            )
        read = _names(signal.attribute) & OUTCOME_COLUMNS
        for column in sorted(read):
            found.append(
                LeakFinding(
                    "reads the outcome",
                    name,
                    f"reads accounts.{column}, today's value "
                    "rather than the value at the snapshot date",
                )
            )
    rules = [(f"segment {s.name}", s.when) for s in model.segments]
    rules += [(f"flag {n}", f.when) for n, f in model.flags.items()]
    if model.gate is not None:
        rules.append((f"gate {model.gate.name}", model.gate.when))
    for subject, text in rules:
        read = _names(text) & OUTCOME_COLUMNS - set(model.signals)
        for column in sorted(read):
            found.append(
                LeakFinding("reads the outcome", subject, f"reads accounts.{column}, today's value")
            )
    return found


def current_row_cautions(
    model: HealthModel, dates: Sequence[dt.date] = (), recorded_since: dt.datetime | None = None
) -> list[LeakFinding]:
    """Attribute signals that read changing account columns at dates before history began.

    Account attributes are read as in force at T from account_history; before vitalsign
    first recorded an account (`recorded_since`), its first recorded values stand in, so a
    backtest of earlier dates sees those values. Without history, every date does.
    """
    early = [d for d in dates if recorded_since is None or as_timestamp(d) < recorded_since]
    if dates and not early:
        return []
    since = (
        f"before {recorded_since:%Y-%m-%d}, when vitalsign first recorded the accounts"
        if recorded_since is not None
        else "at every past date"
    )
    found = []
    for name, signal in model.signals.items():
        read = _names(signal.attribute) & CHANGING_COLUMNS
        if read:
            found.append(
                LeakFinding(
                    "first recorded value",
                    name,
                    f"reads {', '.join(sorted(read))}: {since} it sees the first recorded "
                    "values; if they changed before that (a renewal, an upgrade), the backtest "
                    "sees the future there",
                )
            )
    return found


def history_recorded_since(connection: Any) -> dt.datetime | None:
    """When vitalsign first recorded account attributes (None: no history yet)."""
    row = connection.execute("SELECT min(recorded_at) FROM account_history").fetchone()
    return row[0] if row and row[0] is not None else None


def _per_account_tables() -> list[CanonicalTable]:
    """The canonical tables whose rows belong to an account (the ones signals read).

    Tables without a time column (account_keys, the identity table) are not read by signals.
    """
    return [
        t
        for t in CANONICAL_TABLES.values()
        if t.column("account_id") is not None and t.time_column is not None
    ]


def _copied_tables() -> dict[str, str | None]:
    """The tables a leak-check copy holds, with their time columns: signals' and history."""
    tables: dict[str, str | None] = {t.name: t.time_column for t in _per_account_tables()}
    tables["account_history"] = "created_at"
    return tables


def _create_like(source: Any, target: Any, name: str) -> list[tuple[str, str]]:
    """Create `name` in `target` with the source's columns (custom fields included)."""
    columns = source.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [name],
    ).fetchall()
    target.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})")
    return [(str(c), str(t)) for c, t in columns]


def _copy_rows(source: Any, target: Any, name: str, select: str, params: Any) -> None:
    rows = source.execute(select, params).arrow()
    target.register("_rows", rows)
    target.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _rows")
    target.unregister("_rows")


def _copy_before(source: Any, target: Any, cut: dt.datetime, accounts: list[str]) -> None:
    """Copy the sample's rows before `cut` into `target`, blanking later timestamps.

    Account versions recorded from `cut` on are left out, and a version still in force at
    `cut` becomes the current one, as it was then.
    """
    for name, time_column in _copied_tables().items():
        columns = []
        for column, sql_type in _create_like(source, target, name):
            if sql_type.startswith("TIMESTAMP") and column not in (time_column, "valid_from"):
                columns.append(f"CASE WHEN {column} < $cut THEN {column} END AS {column}")
            else:
                columns.append(column)
        where = "account_id IN (SELECT UNNEST($ids::VARCHAR[]))"
        if time_column is not None:
            where += f" AND {time_column} < $cut"
        if name == "account_history":
            where += " AND (valid_from IS NULL OR valid_from < $cut)"
        select = f"SELECT {', '.join(columns)} FROM {name} WHERE {where}"
        _copy_rows(source, target, name, select, {"cut": cut, "ids": accounts})


def _copy_all(source: Any, target: Any, accounts: list[str]) -> None:
    """Copy every row of the sample's accounts into `target`."""
    for name in _copied_tables():
        _create_like(source, target, name)
        select = f"SELECT * FROM {name} WHERE account_id IN (SELECT UNNEST(?::VARCHAR[]))"
        _copy_rows(source, target, name, select, [accounts])


def _signal_values(backend: Any, model: LoadedModel, days: Sequence[dt.date]) -> pd.DataFrame:
    items = compute_scores(backend, model, days).items
    items = items[items["kind"] == "signal"].assign(as_of=lambda f: pd.to_datetime(f["as_of"]))
    return items.set_index(["as_of", "account_id", "name"])[["raw_value", "raw_text"]]


def truncation_findings(
    connection: Any, model: LoadedModel, dates: Sequence[dt.date], accounts: Sequence[str]
) -> list[LeakFinding]:
    """Signals whose values change when the rows at or after T are removed."""
    sample = list(accounts)
    whole = ibis.duckdb.connect()
    try:
        _copy_all(connection, whole.con, sample)
        full = _signal_values(whole, model, dates)
    finally:
        whole.disconnect()
    parts = []
    for day in dates:
        cut = ibis.duckdb.connect()
        try:
            _copy_before(connection, cut.con, as_timestamp(day), sample)
            parts.append(_signal_values(cut, model, [day]))
        finally:
            cut.disconnect()
    past = pd.concat(parts).reindex(full.index)
    a = full["raw_value"].to_numpy(dtype="float64")
    b = past["raw_value"].to_numpy(dtype="float64")
    same_number = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    same_text = (full["raw_text"].fillna("\0") == past["raw_text"].fillna("\0")).to_numpy()
    changed = pd.Series(~(same_number & same_text), index=full.index)
    per_signal = changed.groupby(level="name").agg(["sum", "size"])
    return [
        LeakFinding(
            "future rows",
            str(name),
            f"values of {int(row['sum'])} of {int(row['size'])} "
            "account-dates change when the rows at or after the snapshot date are removed",
        )
        for name, row in per_signal.iterrows()
        if row["sum"] > 0
    ]


def drop_one_table(
    base: pd.Series, contributions: pd.DataFrame, weights: pd.DataFrame, churned: np.ndarray
) -> tuple[float, pd.DataFrame]:
    """The base score's AUC, and its AUC with each signal left out (weights renormalised)."""
    labels = churned.astype(bool)
    value = base.to_numpy(dtype="float64")
    ok = ~np.isnan(value)
    full = roc_auc(-value[ok], labels[ok])
    records = []
    for name in contributions.columns:
        c = contributions[name].fillna(0.0).to_numpy(dtype="float64")
        w = weights[name].fillna(0.0).to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            without = np.where(w < 1 - 1e-9, (value - c) / (1 - w), np.nan)
        usable = ~np.isnan(without)
        auc = roc_auc(-without[usable], labels[usable]) if usable.any() else np.nan
        records.append({"signal": name, "auc_without": auc, "jump": full - auc})
    return full, pd.DataFrame(records, columns=["signal", "auc_without", "jump"])


def metric_findings(
    score_auc: float, signals: pd.DataFrame, drop_one: pd.DataFrame
) -> list[LeakFinding]:
    """Findings from AUCs that are too good, or that jump with one signal."""
    found: list[LeakFinding] = []
    if score_auc >= TOO_GOOD_AUC:
        found.append(
            LeakFinding(
                "too good to be true",
                "score",
                f"the score's AUC is {score_auc:.3f}; "
                "real health scores rarely pass 0.9 months ahead",
            )
        )
    for row in signals.to_dict(orient="records"):
        aucs = [float(row[k]) for k in ("raw_auc", "points_auc") if not np.isnan(row[k])]
        best = max((abs(v - 0.5) + 0.5 for v in aucs), default=0.0)
        if best >= TOO_GOOD_AUC:
            found.append(
                LeakFinding(
                    "too good to be true",
                    str(row["signal"]),
                    f"on its own it separates churners with AUC {best:.3f}",
                )
            )
    for row in drop_one.to_dict(orient="records"):
        jump = float(row["jump"])
        if not np.isnan(jump) and jump >= AUC_JUMP:
            found.append(
                LeakFinding(
                    "AUC jump",
                    str(row["signal"]),
                    f"the score's AUC is {jump:.3f} "
                    f"higher with this signal than without it ({float(row['auc_without']):.3f})",
                )
            )
    return found


def pick_sample(accounts: Sequence[str], size: int = SAMPLE_ACCOUNTS, seed: int = 0) -> list[str]:
    """A reproducible sample of distinct accounts."""
    unique = sorted(set(accounts))
    if len(unique) <= size:
        return unique
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(np.array(unique, dtype=object), size=size, replace=False).tolist())
