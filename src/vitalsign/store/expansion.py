"""Store and read expansion scores: the model's second score kind, kept beside the snapshots.

A scoring run writes them in the same transaction as its snapshot (engine/run.py), so a date
holds the expansion scores of the model version that scored it; a model without an
`expansion:` section leaves none for its dates. Expansion candidates are the accounts of the
latest snapshot whose expansion score reaches the model's `expansion.candidate_min`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # the scoring engine (Ibis) is not needed to read them
    from vitalsign.engine.scoring import ScoredFrame
    from vitalsign.model.loader import LoadedModel

DEFAULT_CANDIDATES = 10


@dataclass(frozen=True)
class Contribution:
    """One signal of an expansion score: its points (None: no data), weight and share."""

    signal: str
    points: float | None
    weight: float
    contribution: float


@dataclass(frozen=True)
class Candidate:
    """An account likely to grow: its expansion score, ARR and health band at a snapshot."""

    account_id: str
    name: str | None
    owner: str | None
    segment: str | None
    arr: float | None
    expansion_score: float
    coverage: float
    health_score: float | None
    band: str
    top_signals: list[str]  # the signals that add most to the expansion score, largest first
    contributions: list[Contribution]  # every signal of the score, in the model's order


def write_expansion(connection: Any, scored: ScoredFrame, model: LoadedModel) -> int:
    """Replace the expansion scores of the dates in `scored`; return how many rows are written.

    Runs inside the caller's transaction (the snapshot's).
    """
    dates = sorted({d.date() for d in pd.to_datetime(scored.scores["as_of"].unique())})
    connection.execute(
        "DELETE FROM expansion_scores WHERE model_name = ? AND snapshot_date IN "
        "(SELECT UNNEST(?::DATE[]))",
        [model.name, dates],
    )
    frame = scored.expansion
    if frame is None or frame.empty:
        return 0
    assert model.spec.expansion is not None  # scored frames carry expansion scores only then
    parts = ", ".join(
        f'\'{name}\', [round("points__{name}", 6), round("weight__{name}", 6), '
        f'round(coalesce("points__{name}", 0) * "weight__{name}", 6)]'
        for name in model.spec.expansion.signals  # lower_snake_case names (spec.py)
    )
    try:
        connection.register("_new_expansion", frame)
        connection.execute(
            "INSERT INTO expansion_scores (snapshot_date, model_name, account_id, score, "
            "coverage, contributions) SELECT CAST(as_of AS DATE), $name, account_id, score, "
            f"coverage, CAST(json_object({parts}) AS VARCHAR) FROM _new_expansion "
            "ORDER BY account_id",
            {"name": model.name},
        )
    finally:
        connection.unregister("_new_expansion")
    return len(frame)


def has_expansion(connection: Any, model_name: str, as_of: dt.date) -> bool:
    """Return whether the snapshot of `as_of` holds expansion scores."""
    row = connection.execute(
        "SELECT count(*) FROM expansion_scores WHERE model_name = ? AND snapshot_date = ?",
        [model_name, as_of],
    ).fetchone()
    return bool(row and row[0])


def read_expansion_history(
    connection: Any,
    model_name: str,
    dates: list[dt.date] | None = None,
    signals: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Return account_id, as_of, expansion_score, coverage of the stored dates (all, or `dates`).

    Each of `signals` (lower_snake_case names) adds its points as `points__<name>`, read from
    the contributions JSON inside DuckDB.
    """
    where = "model_name = ?"
    params: list[Any] = [model_name]
    if dates is not None:
        where += " AND snapshot_date IN (SELECT UNNEST(?::DATE[]))"
        params.append(list(dates))
    points = "".join(
        f", CAST(json_extract(contributions, '$.{name}[0]') AS DOUBLE) AS \"points__{name}\""
        for name in signals
    )
    frame: pd.DataFrame = connection.execute(
        "SELECT account_id, CAST(snapshot_date AS TIMESTAMP) AS as_of, score AS expansion_score, "
        f"coverage{points} FROM expansion_scores WHERE {where} "
        "ORDER BY snapshot_date, account_id",
        params,
    ).df()
    return frame


def _contributions(text: str) -> list[Contribution]:
    return [Contribution(name, p, w, c) for name, (p, w, c) in json.loads(text).items()]


def _top_signals(text: str, count: int = 3) -> list[str]:
    parts = json.loads(text)
    ranked = sorted(
        ((name, values[2]) for name, values in parts.items() if values[0] is not None),
        key=lambda pair: -float(pair[1]),
    )
    return [name for name, _ in ranked[:count]]


Scope = tuple[str, list[Any]]
EVERYONE: Scope = ("TRUE", [])


def expansion_candidates(
    connection: Any,
    model_name: str,
    as_of: dt.date,
    minimum: float,
    limit: int = DEFAULT_CANDIDATES,
    scope: Scope = EVERYONE,
    account_id: str | None = None,
) -> list[Candidate]:
    """Return the accounts whose expansion score reaches `minimum`, highest first (then ARR).

    `scope` is an SQL condition on `e.account_id` with its parameters (a csm's book, from
    web/access.py `scope_filter`); `account_id` picks one account, whatever its score.
    """
    condition, args = scope
    where = f"e.model_name = ? AND e.snapshot_date = ? AND e.score IS NOT NULL AND {condition}"
    params: list[Any] = [model_name, as_of, *args]
    if account_id is not None:
        where += " AND e.account_id = ?"
        params.append(account_id)
    else:
        where += " AND e.score >= ?"
        params.append(minimum)
    rows = connection.execute(
        "SELECT e.account_id, s.name, s.owner, s.segment, s.arr, e.score, e.coverage, "
        "s.score AS health, s.band, e.contributions FROM expansion_scores e "
        "JOIN scores s ON s.model_name = e.model_name AND s.snapshot_date = e.snapshot_date "
        f"AND s.account_id = e.account_id WHERE {where} "
        "ORDER BY e.score DESC, s.arr DESC NULLS LAST, e.account_id LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [candidate(*r) for r in rows]


def candidate(
    account_id: Any,
    name: Any,
    owner: Any,
    segment: Any,
    arr: Any,
    expansion_score: Any,
    coverage: Any,
    health_score: Any,
    band: Any,
    contributions: str,
) -> Candidate:
    """Return the Candidate of one account's expansion row joined with its `scores` row."""
    return Candidate(
        account_id=str(account_id),
        name=name,
        owner=owner,
        segment=segment,
        arr=None if arr is None else float(arr),
        expansion_score=float(expansion_score),
        coverage=float(coverage),
        health_score=None if health_score is None else float(health_score),
        band=str(band),
        top_signals=_top_signals(contributions),
        contributions=_contributions(contributions),
    )


def count_candidates(
    connection: Any, model_name: str, as_of: dt.date, minimum: float, scope: Scope = EVERYONE
) -> tuple[int, float]:
    """Return how many accounts are expansion candidates at `as_of`, and their summed ARR."""
    condition, args = scope
    row = connection.execute(
        "SELECT count(*), coalesce(sum(s.arr), 0) FROM expansion_scores e JOIN scores s "
        "ON s.model_name = e.model_name AND s.snapshot_date = e.snapshot_date "
        "AND s.account_id = e.account_id WHERE e.model_name = ? AND e.snapshot_date = ? "
        f"AND e.score >= ? AND {condition}",
        [model_name, as_of, minimum, *args],
    ).fetchone()
    return int(row[0]), float(row[1])
