"""Score a workspace as of a date, or backfill many dates, and store the snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from rich.progress import Progress

from vitalsign.engine.backends import connect_engine
from vitalsign.engine.backfill import BatchSignals, dates_to_score, shared_signals
from vitalsign.engine.engine_scoring import SCORING_MODES, score_in_engine, stale_signals
from vitalsign.engine.engine_snapshots import publish_snapshots
from vitalsign.engine.expansion import expansion_of_scored
from vitalsign.engine.freshness import (
    Freshness,
    mask_stale,
    score_by_freshness,
    table_freshness,
)
from vitalsign.engine.scoring import ITEM_COLUMNS, ScoredFrame
from vitalsign.engine.signals import signal_column, signal_table
from vitalsign.engine.snapshots import write_snapshots
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.expansion import write_expansion
from vitalsign.store.freshness import record_freshness
from vitalsign.store.history import bring_up_to_date
from vitalsign.store.overrides import active_overrides
from vitalsign.store.workspace import Workspace


def compute_scores(
    backend: Any,
    model: LoadedModel,
    dates: Sequence[dt.date],
    overrides: pd.DataFrame | None = None,
    freshness: Freshness | None = None,
    signals: ir.Table | None = None,
    scoring: str = "driver",
) -> ScoredFrame:
    """Compute scores for every active account at each date, without storing them.

    `backend` is any Ibis backend holding the canonical tables (DuckDB, PySpark, ...).
    The signals of a table that is stale at a date are missing on that date (`freshness`,
    computed here unless given; engine/freshness.py). `signals` is the dates' signal table
    when already built (a backfill's batch of its one-pass query, engine/backfill.py).
    `scoring="engine"` evaluates points, groups, gate, flags and bands inside the engine
    too (engine/engine_scoring.py); "driver" (the default) scores in pandas/NumPy here.
    """
    if scoring not in SCORING_MODES:
        raise VitalsignError(f"scoring must be one of {', '.join(SCORING_MODES)}, not {scoring!r}")
    if signals is None:
        signals = signal_table(backend, model.spec, dates)
    if scoring == "engine":
        if freshness is None:
            freshness = table_freshness(backend, model.spec, dates)
        return score_in_engine(signals, model.spec, stale_signals(freshness), overrides)
    frame = signals.execute()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    if freshness is None:
        freshness = table_freshness(backend, model.spec, dates)
    frame = mask_stale(frame, model.spec, freshness)
    computed = pd.DataFrame()
    if overrides is not None and not overrides.empty:
        frame, computed = _override_signals(frame, overrides, model)
    scored = score_by_freshness(frame, model.spec, freshness)
    if not computed.empty:
        plain = scored
        scored = ScoredFrame(
            plain.scores,
            lambda: [*plain.item_frames, computed[ITEM_COLUMNS]],
        )
    if overrides is not None and not overrides.empty and model.spec.overrides.band:
        scored = _override_bands(scored, overrides, model)
    if model.spec.expansion is not None:  # the second score kind, from the same signals
        scored.expansion = expansion_of_scored(frame, scored.scores, model.spec)
    return scored


def _keyed(overrides: pd.DataFrame, target: str) -> pd.Series:
    chosen = overrides[overrides["target"] == target]
    index = pd.MultiIndex.from_arrays([chosen["account_id"], pd.to_datetime(chosen["as_of"])])
    return pd.Series(chosen["value"].to_numpy(), index=index)


def _override_signals(
    frame: pd.DataFrame, overrides: pd.DataFrame, model: LoadedModel
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace manual signals by their overrides; return the frame and the computed values.

    The computed values become items of kind "computed", so explanations show the override
    beside what the data said.
    """
    keys = pd.MultiIndex.from_arrays([frame["account_id"], frame["as_of"]])
    computed: list[pd.DataFrame] = []
    for name in model.spec.overrides.signals:
        values = _keyed(overrides, name)
        if values.empty:
            continue
        replaced = pd.Series(keys.map(values.to_dict().get), index=frame.index)
        column = signal_column(name)
        original = frame[column]
        if pd.api.types.is_numeric_dtype(original):
            replaced = pd.to_numeric(replaced, errors="coerce")
        hit = replaced.notna()
        numeric = pd.to_numeric(original[hit], errors="coerce")
        computed.append(
            pd.DataFrame(
                {
                    "account_id": frame.loc[hit, "account_id"],
                    "as_of": frame.loc[hit, "as_of"],
                    "kind": "computed",
                    "name": name,
                    "path": "",
                    "raw_value": numeric.astype("float64"),
                    "raw_text": [
                        None if pd.isna(v) or pd.notna(n) else str(v)
                        for v, n in zip(original[hit], numeric, strict=True)
                    ],
                    "points": float("nan"),
                    "weight": 0.0,
                    "contribution": 0.0,
                }
            )
        )
        frame[column] = replaced.where(hit, original)
    return frame, (pd.concat(computed, ignore_index=True) if computed else pd.DataFrame())


def _override_bands(
    scored: ScoredFrame, overrides: pd.DataFrame, model: LoadedModel
) -> ScoredFrame:
    values = _keyed(overrides, "band")
    if values.empty:
        return scored
    scores = scored.scores.copy()
    keys = pd.MultiIndex.from_arrays([scores["account_id"], pd.to_datetime(scores["as_of"])])
    replaced = pd.Series(keys.map(values.to_dict().get), index=scores.index)
    scores["band"] = replaced.where(replaced.notna(), scores["computed_band"])
    return scored.with_scores(scores)


def score(
    workspace: Workspace,
    as_of: dt.date,
    model: LoadedModel | None = None,
    scoring: str | None = None,
) -> ScoredFrame:
    """Score every account as of `as_of` and store (replace) that date's snapshot.

    Scoring runs on the workspace's engine (vitalsign.yml `engine:`, engine/backends.py);
    `scoring="engine"` computes points and bands there too (compute_scores); None takes
    vitalsign.yml `engine: {scoring: ...}` (default "driver").

    >>> score(open_workspace("acme"), dt.date(2025, 6, 2))  # doctest: +SKIP
    """
    model = model or workspace.load_model()
    bring_up_to_date(workspace.duckdb)  # attributes are read from account_history
    overrides = active_overrides(workspace.duckdb, [as_of])
    return _score_and_store(workspace, model, [as_of], overrides, scoring=scoring)


def _score_and_store(
    workspace: Workspace,
    model: LoadedModel,
    dates: Sequence[dt.date],
    overrides: pd.DataFrame,
    signals: BatchSignals | None = None,
    scoring: str | None = None,
) -> ScoredFrame:
    """Score `dates` on the workspace's engine; store the snapshots and freshness atomically."""
    if scoring is None:  # vitalsign.yml engine: {scoring: driver|engine}
        scoring = workspace.config.engine.scoring
    engine = connect_engine(workspace)
    freshness = table_freshness(engine, model.spec, dates)
    table = signals(dates) if signals is not None else None
    scored = compute_scores(engine, model, dates, overrides, freshness, table, scoring)
    connection = workspace.duckdb

    def before_commit() -> None:
        record_freshness(connection, model.name, freshness)
        write_expansion(connection, scored, model)

    write_snapshots(connection, scored, model, before_commit=before_commit)
    if workspace.config.engine.snapshots == "workspace_and_engine":
        publish_snapshots(connection, engine, model.name, dates)
    return scored


def date_range(start: dt.date, end: dt.date, every_days: int) -> list[dt.date]:
    """Return start, start + every, ... up to and including end."""
    if every_days <= 0:
        raise VitalsignError(f"--every must be a positive number of days, got {every_days}")
    if end < start:
        raise VitalsignError(f"--to {end} is before --from {start}")
    days = (end - start).days
    return [start + dt.timedelta(days=i) for i in range(0, days + 1, every_days)]


MAX_BATCH_DATES = 13
"""A backfill batch never holds more dates than this (a quarter of weekly dates)."""

ROWS_PER_BATCH = 400_000
"""Account-dates per backfill batch: bounds the batch's hash tables and item frames."""


def batch_size_for(accounts: int) -> int:
    """Return how many dates a backfill batch holds for a workspace of `accounts` accounts.

    A batch shares one scan per table, but the aggregate's cost follows the joined rows, not
    the scans: at 100,000 accounts, batches of 4 dates took as long as batches of 13 and
    half the memory (docs/benchmarks.md). So batches shrink as the portfolio grows.

    >>> batch_size_for(2_000), batch_size_for(100_000), batch_size_for(250_000)
    (13, 4, 1)
    """
    return max(1, min(MAX_BATCH_DATES, ROWS_PER_BATCH // max(accounts, 1)))


def backfill(
    workspace: Workspace,
    dates: Sequence[dt.date],
    model: LoadedModel | None = None,
    batch_size: int | None = None,
    show_progress: bool = True,
    new_only: bool = False,
    scoring: str | None = None,
) -> list[dt.date]:
    """Score many dates from one pass over each table; store each batch atomically.

    Scoring runs on the workspace's engine (vitalsign.yml `engine:`, engine/backends.py);
    one query computes every date's signals (engine/one_pass.py) and the driver scores and
    stores them `batch_size` dates at a time (default: `batch_size_for` the number of
    accounts). `new_only` skips dates that already have a snapshot of this model version;
    `scoring="engine"` scores each batch inside the engine (compute_scores; None takes
    vitalsign.yml `engine: {scoring: ...}`). Returns the dates scored.
    """
    model = model or workspace.load_model()
    bring_up_to_date(workspace.duckdb)  # attributes are read from account_history
    accounts = int(connect_engine(workspace).table("accounts").count().execute())
    if batch_size is None:
        batch_size = batch_size_for(accounts)
    ordered = dates_to_score(workspace.duckdb, model, dates, new_only)
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    done: list[dt.date] = []
    with (
        Progress(disable=not show_progress, transient=False) as progress,
        shared_signals(connect_engine(workspace), model, ordered, accounts) as signals,
    ):
        task = progress.add_task(f"Backfilling {len(ordered)} dates", total=len(ordered))
        for batch in batches:
            overrides = active_overrides(workspace.duckdb, batch)
            _score_and_store(workspace, model, batch, overrides, signals, scoring)
            done += batch
            progress.advance(task, len(batch))
    return done
