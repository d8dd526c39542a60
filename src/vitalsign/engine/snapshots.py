"""Store and read score snapshots; re-running a date replaces it atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

from vitalsign.engine.scoring import ScoredFrame
from vitalsign.errors import SnapshotError
from vitalsign.model.loader import LoadedModel

SCORE_COLUMNS = [
    "snapshot_date",
    "model_name",
    "model_hash",
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "scorecard",
    "model_segment",
    "score",
    "base_score",
    "band",
    "computed_band",
    "coverage",
    "gate_pass",
    "flags",
    "computed_at",
]
ITEM_STORE_COLUMNS = [
    "snapshot_date",
    "model_name",
    "account_id",
    "kind",
    "name",
    "path",
    "raw_value",
    "raw_text",
    "points",
    "weight",
    "contribution",
]


def write_snapshots(
    connection: Any,
    scored: ScoredFrame,
    model: LoadedModel,
    before_commit: Callable[[], None] | None = None,
) -> list[dt.date]:
    """Replace the snapshots of every date in `scored` in one transaction; return the dates.

    `before_commit` runs inside the transaction (tests use it to simulate a crash).
    """
    dates = sorted({d.date() for d in pd.to_datetime(scored.scores["as_of"].unique())})
    computed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts = [f"_new_items_{i}" for i in range(len(scored.item_frames))]
    item_rows = sum(len(frame) for frame in scored.item_frames)
    connection.execute("BEGIN TRANSACTION")
    try:
        for table in ("scores", "score_items"):
            connection.execute(
                f"DELETE FROM {table} WHERE model_name = ? AND snapshot_date IN "
                "(SELECT UNNEST(?::DATE[]))",
                [model.name, dates],
            )
        connection.register("_new_scores", scored.scores)
        for part, frame in zip(parts, scored.item_frames, strict=True):
            connection.register(part, frame)
        # DuckDB derives the date, adds the model and sorts, with no copy of the frames;
        # rows go in by date and account, so its zone maps find one account's rows quickly
        extra = {
            "snapshot_date": "CAST(as_of AS DATE)",
            "model_name": "$name",
            "model_hash": "$hash",
            "computed_at": "$computed_at",
        }
        for table, columns, frames in (
            ("scores", SCORE_COLUMNS, ["_new_scores"]),
            ("score_items", ITEM_STORE_COLUMNS, parts),
        ):
            select = ", ".join(f"{extra.get(c, c)} AS {c}" for c in columns)
            union = " UNION ALL ".join(
                f"SELECT {select} FROM {frame} WHERE CAST(as_of AS DATE) = $day" for frame in frames
            )
            values = {"name": model.name, "hash": model.hash, "computed_at": computed_at}
            used = {k: v for k, v in values.items() if f"${k}" in select}
            written = 0
            for day in dates:  # a date at a time: DuckDB sorts one date's rows, not all
                written += connection.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) {union} ORDER BY account_id",
                    {"day": day} | used,
                ).fetchone()[0]
            given = len(scored.scores) if table == "scores" else item_rows
            if written != given:  # a bug (rows dated outside the scores' dates): lose nothing
                raise RuntimeError(f"{table}: {written} of {given} rows written; rolled back")
        if before_commit is not None:
            before_commit()
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        for name in ["_new_scores", *parts]:
            connection.unregister(name)
    return dates


def snapshot_dates(connection: Any, model_name: str | None = None) -> list[dt.date]:
    """Return the dates that have a snapshot, oldest first."""
    sql = "SELECT DISTINCT snapshot_date FROM scores"
    params: list[Any] = []
    if model_name is not None:
        sql += " WHERE model_name = ?"
        params.append(model_name)
    rows = connection.execute(sql + " ORDER BY 1", params).fetchall()
    return [r[0] for r in rows]


def resolve_date(connection: Any, model_name: str, as_of: dt.date | None) -> dt.date:
    """Return `as_of` if it has a snapshot, the latest snapshot when None, else raise."""
    dates = snapshot_dates(connection, model_name)
    if not dates:
        raise SnapshotError(
            f"no snapshots of model {model_name!r} yet; "
            "run `vitalsign score` or `vitalsign backfill`"
        )
    if as_of is None:
        return dates[-1]
    if as_of not in dates:
        earlier = [d for d in dates if d <= as_of]
        hint = f"; the nearest earlier one is {earlier[-1]}" if earlier else ""
        raise SnapshotError(f"no snapshot of model {model_name!r} on {as_of}{hint}")
    return as_of


def read_scores(connection: Any, model_name: str, as_of: dt.date) -> pd.DataFrame:
    """Return every account's score row of one snapshot."""
    frame: pd.DataFrame = connection.execute(
        "SELECT * FROM scores WHERE model_name = ? AND snapshot_date = ? ORDER BY account_id",
        [model_name, as_of],
    ).df()
    return frame


def read_items(connection: Any, model_name: str, as_of: dt.date, account_id: str) -> pd.DataFrame:
    """Return the signal and group items of one account in one snapshot."""
    frame: pd.DataFrame = connection.execute(
        "SELECT * REPLACE (coalesce(raw_text, CAST(raw_value AS VARCHAR)) AS raw_text) "
        "FROM score_items WHERE model_name = ? AND snapshot_date = ? AND account_id = ?"
        " ORDER BY kind DESC, path, name",
        [model_name, as_of, account_id],
    ).df()
    return frame
