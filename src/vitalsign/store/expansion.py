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
    try:
        connection.register("_new_expansion", frame)
        connection.execute(
            "INSERT INTO expansion_scores (snapshot_date, model_name, account_id, score, "
            "coverage, contributions) SELECT CAST(as_of AS DATE), $name, account_id, score, "
            "coverage, contributions FROM _new_expansion ORDER BY account_id",
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
    connection: Any, model_name: str, dates: list[dt.date] | None = None
) -> pd.DataFrame:
    """Return account_id, as_of, expansion_score, coverage of the stored dates (all, or `dates`)."""
    where = "model_name = ?"
    params: list[Any] = [model_name]
    if dates is not None:
        where += " AND snapshot_date IN (SELECT UNNEST(?::DATE[]))"
        params.append(list(dates))
    frame: pd.DataFrame = connection.execute(
        "SELECT account_id, CAST(snapshot_date AS TIMESTAMP) AS as_of, score AS expansion_score, "
        f"coverage FROM expansion_scores WHERE {where} ORDER BY snapshot_date, account_id",
        params,
    ).df()
    return frame


def _top_signals(text: str, count: int = 3) -> list[str]:
    parts = json.loads(text)
    ranked = sorted(
        ((name, values[2]) for name, values in parts.items() if values[0] is not None),
        key=lambda pair: -float(pair[1]),
    )
    return [name for name, _ in ranked[:count]]


def expansion_candidates(
    connection: Any,
    model_name: str,
    as_of: dt.date,
    minimum: float,
    limit: int = DEFAULT_CANDIDATES,
    owner: str | None = None,
    account_id: str | None = None,
) -> list[Candidate]:
    """Return the accounts whose expansion score reaches `minimum`, highest first (then ARR).

    `owner` keeps one CSM's book; `account_id` one account, whatever its score.
    """
    where = ["e.model_name = $name", "e.snapshot_date = $day", "e.score IS NOT NULL"]
    params: dict[str, Any] = {"name": model_name, "day": as_of, "limit": limit}
    if account_id is not None:
        where.append("e.account_id = $account")
        params["account"] = account_id
    else:
        where.append("e.score >= $minimum")
        params["minimum"] = minimum
    if owner is not None:
        where.append("s.owner = $owner")
        params["owner"] = owner
    rows = connection.execute(
        "SELECT e.account_id, s.name, s.owner, s.segment, s.arr, e.score, e.coverage, "
        "s.score AS health, s.band, e.contributions FROM expansion_scores e "
        "JOIN scores s ON s.model_name = e.model_name AND s.snapshot_date = e.snapshot_date "
        f"AND s.account_id = e.account_id WHERE {' AND '.join(where)} "
        "ORDER BY e.score DESC, s.arr DESC NULLS LAST, e.account_id LIMIT $limit",
        params,
    ).fetchall()
    return [
        Candidate(
            account_id=str(r[0]),
            name=r[1],
            owner=r[2],
            segment=r[3],
            arr=None if r[4] is None else float(r[4]),
            expansion_score=float(r[5]),
            coverage=float(r[6]),
            health_score=None if r[7] is None else float(r[7]),
            band=str(r[8]),
            top_signals=_top_signals(r[9]),
        )
        for r in rows
    ]


def count_candidates(
    connection: Any, model_name: str, as_of: dt.date, minimum: float, owner: str | None = None
) -> tuple[int, float]:
    """Return how many accounts are expansion candidates at `as_of`, and their summed ARR."""
    sql = (
        "SELECT count(*), coalesce(sum(s.arr), 0) FROM expansion_scores e JOIN scores s "
        "ON s.model_name = e.model_name AND s.snapshot_date = e.snapshot_date "
        "AND s.account_id = e.account_id WHERE e.model_name = $name AND e.snapshot_date = $day "
        "AND e.score >= $minimum"
    )
    params: dict[str, Any] = {"name": model_name, "day": as_of, "minimum": minimum}
    if owner is not None:
        sql += " AND s.owner = $owner"
        params["owner"] = owner
    row = connection.execute(sql, params).fetchone()
    return int(row[0]), float(row[1])
