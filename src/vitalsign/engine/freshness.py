"""Stale tables make their signals missing: a broken pipeline must not look like churn.

For each scoring date T and each table the model reads, the newest row before T is
compared with the model's allowance (`freshness:`, docs/model.md). When a table is stale,
every signal it feeds (its own and those derived from them: ratio, change, trend,
baseline, formula) is set missing for that date instead of a false 0 (a count over a
silent table is 0, not "no data"), and counts as not covered: the signal's `missing:`
policy says what an account *without rows* in a live table is worth; a stale table says
nothing about the account, so the policy is not applied (a `missing: 0` would turn a broken
pipeline into a red account). A gate or a flag whose condition reads such a signal is not
evaluated on that date: the gate passes (no verdict on missing data) and the flag is not
raised.

A table with no row at all before T (never loaded, or not yet started) is treated the same
way: it says nothing about any account, so its signals earn no points from their `missing:`
policy (a `missing: zero` on an empty tickets table would give every account "no urgent
tickets: 100 points", and a gate on invoices would fail every account).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import pandas as pd

from vitalsign.engine.scoring import ScoredFrame, score_frame
from vitalsign.engine.signals import FLAG_PREFIX, signal_column
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.checks import signal_dependencies
from vitalsign.model.expressions import parse_expression
from vitalsign.model.spec import HealthModel
from vitalsign.store.freshness import TableFreshness, midnight

Freshness = Mapping[dt.date, Sequence[TableFreshness]]


def signals_fed_by(model: HealthModel) -> dict[str, tuple[str, ...]]:
    """Return, per table the model reads, every signal computed from it (derived ones too).

    >>> signals_fed_by(spec)["events"]  # doctest: +SKIP
    ('logins_30d', 'login_trend', 'seat_utilisation', ...)
    """
    fed: dict[str, set[str]] = {}
    for name, signal in model.signals.items():
        if signal.table is not None:
            fed.setdefault(signal.table, set()).add(name)
    changed = True
    while changed:  # derived signals inherit their inputs' tables, to a fixed point
        changed = False
        for name in model.signals:
            inputs = [d for d in signal_dependencies(model, name) if d in model.signals]
            for names in fed.values():
                if name not in names and any(i in names for i in inputs):
                    names.add(name)
                    changed = True
    return {table: tuple(sorted(names)) for table, names in sorted(fed.items())}


def newest_rows(
    backend: Any, tables: Sequence[str], moments: Sequence[dt.datetime]
) -> dict[str, list[dt.datetime | None]]:
    """Return, per table, its newest row time before each moment (one scan per table)."""
    found: dict[str, list[dt.datetime | None]] = {}
    for name in tables:
        time_name = CANONICAL_TABLES[name].time_column
        assert time_name is not None
        table = backend.table(name)
        column = table[time_name]
        reductions = {
            f"m{i}": column.max(where=column < ibis.literal(moment, "timestamp"))
            for i, moment in enumerate(moments)
        }
        row = table.aggregate(**reductions).execute().iloc[0]
        found[name] = [
            None if pd.isna(row[f"m{i}"]) else pd.Timestamp(row[f"m{i}"]).to_pydatetime()
            for i in range(len(moments))
        ]
    return found


def table_freshness(backend: Any, model: HealthModel, dates: Sequence[dt.date]) -> Freshness:
    """Return, per scoring date, the freshness of every table the model's signals read."""
    fed = signals_fed_by(model)
    ordered = sorted(set(dates))
    newest = newest_rows(backend, list(fed), [midnight(d) for d in ordered])
    return {
        day: [
            TableFreshness(table, day, newest[table][i], model.allowed_staleness(table), signals)
            for table, signals in fed.items()
        ]
        for i, day in enumerate(ordered)
    }


def _reads(condition: str, missing: set[str]) -> bool:
    return bool(parse_expression(condition).names() & missing)


def mask_stale(frame: pd.DataFrame, model: HealthModel, freshness: Freshness) -> pd.DataFrame:
    """Set the signals of stale or absent tables missing in the signal frame, date by date.

    A gate reading a missing signal passes and a flag reading one is not raised.
    """
    as_of = pd.to_datetime(frame["as_of"])
    for day, tables in freshness.items():
        missing = {s for t in tables if t.silent for s in t.signals}
        if not missing:
            continue
        rows = as_of == pd.Timestamp(midnight(day))
        if not rows.any():
            continue
        for name in sorted(missing):
            column = signal_column(name)
            frame[column] = frame[column].where(~rows)
        if model.gate is not None and _reads(model.gate.when, missing):
            frame["gate_pass"] = frame["gate_pass"].where(~rows, True).astype(bool)
        for name, flag in model.flags.items():
            if _reads(flag.when, missing):
                column = f"{FLAG_PREFIX}{name}"
                frame[column] = frame[column].where(~rows, False).astype(bool)
    return frame


def score_by_freshness(
    frame: pd.DataFrame, model: HealthModel, freshness: Freshness
) -> ScoredFrame:
    """Score the (masked) frame; dates with stale tables skip their signals' missing policy.

    Dates are scored in groups that share the same stale signals (each under a copy of the
    model whose stale signals have `missing: skip`).
    """
    groups: dict[frozenset[str], list[pd.Timestamp]] = {}
    for day, tables in freshness.items():
        missing = frozenset(s for t in tables if t.silent for s in t.signals)
        groups.setdefault(missing, []).append(pd.Timestamp(midnight(day)))
    if all(not missing for missing in groups):
        return score_frame(frame, model)
    as_of = pd.to_datetime(frame["as_of"])
    parts = []
    for missing, moments in groups.items():
        rows = frame[as_of.isin(moments).to_numpy()]
        if len(rows):
            parts.append(score_frame(rows, _skipping(model, missing)))
    if not parts:
        return score_frame(frame, model)
    if len(parts) == 1:
        return parts[0]
    scores = pd.concat([p.scores for p in parts], ignore_index=True)
    return ScoredFrame(scores, lambda: [f for p in parts for f in p.item_frames])


def _skipping(model: HealthModel, missing: frozenset[str]) -> HealthModel:
    if not missing:
        return model
    signals = {
        name: signal.model_copy(update={"missing": "skip"}) if name in missing else signal
        for name, signal in model.signals.items()
    }
    return model.model_copy(update={"signals": signals})


def data_date(backend: Any, model: HealthModel, today: dt.date) -> tuple[dt.date, str | None]:
    """Return the date `vitalsign run` scores by default, and why when it is not `today`.

    Scoring as of T reads whole days before T, so a window ending today over data that
    stops two days ago counts two empty days (a false drop). When the newest row of the
    tables the model tracks is from an earlier day but its table is not stale today (the
    data lags), the data date is that row's day: the windows end where the data does (that
    day itself may be partial, so it is left out). When that table is stale, today is
    scored and the stale tables' signals are missing.
    """
    tracked = {
        table: days
        for table in signals_fed_by(model)
        if (days := model.allowed_staleness(table)) is not None
    }
    if not tracked:
        return today, None
    end = midnight(today) + dt.timedelta(days=1)
    newest = newest_rows(backend, list(tracked), [end])
    times = [(times[0], table) for table, times in newest.items() if times[0] is not None]
    if not times:
        return today, None
    latest, table = max(times)
    if latest < midnight(today) and midnight(today) - latest <= dt.timedelta(days=tracked[table]):
        reason = (
            f"the newest data is from {latest.date()} ({table}, {latest:%Y-%m-%d %H:%M}): "
            f"scoring as of {latest.date()} so that no window ends in days without data"
        )
        return latest.date(), reason
    return today, None
