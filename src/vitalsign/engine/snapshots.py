"""Store and read score snapshots; re-running a date replaces it atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from vitalsign.errors import SnapshotError
from vitalsign.model.loader import LoadedModel
from vitalsign.store.transaction import transaction

if TYPE_CHECKING:  # the scoring engine (Ibis) is not needed to read snapshots
    from vitalsign.engine.scoring import ScoredFrame

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

    A date's `scores` rows are replaced in place (`INSERT OR REPLACE` on the primary key),
    and only the rows of accounts no longer scored are deleted: deleting 100,000 keys from
    the primary key's index cost 3 s a date, 20 times the upsert (docs/benchmarks.md).
    """
    dates = sorted({d.date() for d in pd.to_datetime(scored.scores["as_of"].unique())})
    computed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts = [f"_new_items_{i}" for i in range(len(scored.item_frames))]
    values = {"name": model.name, "hash": model.hash, "computed_at": computed_at}
    try:
        connection.register("_new_scores", scored.scores)
        for part, frame in zip(parts, scored.item_frames, strict=True):
            connection.register(part, frame)
        with transaction(connection):
            connection.execute(
                "DELETE FROM score_items WHERE model_name = ? AND snapshot_date IN "
                "(SELECT UNNEST(?::DATE[]))",
                [model.name, dates],
            )
            for day in dates:  # a date at a time: DuckDB sorts one date's rows, not all
                _write_date(connection, day, parts, values)
            _check_counts(connection, scored, model.name, dates)
            if before_commit is not None:
                before_commit()
    finally:
        for name in ["_new_scores", *parts]:
            connection.unregister(name)
    return dates


def _insert_select(columns: list[str], frames: list[str]) -> str:
    """SELECT one date's rows of `frames` as `columns`; DuckDB adds the date and the model."""
    extra = {
        "snapshot_date": "CAST(as_of AS DATE)",
        "model_name": "$name",
        "model_hash": "$hash",
        "computed_at": "$computed_at",
    }
    select = ", ".join(f"{extra.get(c, c)} AS {c}" for c in columns)
    return " UNION ALL ".join(
        f"SELECT {select} FROM {frame} WHERE CAST(as_of AS DATE) = $day" for frame in frames
    )


def _write_date(connection: Any, day: dt.date, parts: list[str], values: dict[str, Any]) -> None:
    """Upsert one date's scores, drop its stale ones, and insert its items, by account."""
    scores = _insert_select(SCORE_COLUMNS, ["_new_scores"])
    connection.execute(
        f"INSERT OR REPLACE INTO scores ({', '.join(SCORE_COLUMNS)}) {scores} ORDER BY account_id",
        {"day": day} | values,
    )
    connection.execute(  # accounts scored before on that date but not now (churned, removed)
        "DELETE FROM scores s WHERE model_name = $name AND snapshot_date = $day "
        "AND NOT EXISTS (SELECT 1 FROM _new_scores n "
        "WHERE n.account_id = s.account_id AND CAST(n.as_of AS DATE) = $day)",
        {"day": day, "name": values["name"]},
    )
    items = _insert_select(ITEM_STORE_COLUMNS, parts)
    connection.execute(
        f"INSERT INTO score_items ({', '.join(ITEM_STORE_COLUMNS)}) {items} ORDER BY account_id",
        {"day": day, "name": values["name"]},
    )


def _check_counts(
    connection: Any, scored: ScoredFrame, model_name: str, dates: list[dt.date]
) -> None:
    """Raise (a bug: the caller rolls back) unless the dates hold exactly the given rows."""
    stored = connection.execute(
        "SELECT (SELECT count(*) FROM scores WHERE model_name = $name "
        "AND snapshot_date IN (SELECT UNNEST($dates::DATE[]))), "
        "(SELECT count(*) FROM score_items WHERE model_name = $name "
        "AND snapshot_date IN (SELECT UNNEST($dates::DATE[])))",
        {"name": model_name, "dates": dates},
    ).fetchone()
    given = (len(scored.scores), sum(len(frame) for frame in scored.item_frames))
    for table, written, expected in zip(("scores", "score_items"), stored, given, strict=True):
        if written != expected:  # rows dated outside the scores' dates, or duplicates
            raise RuntimeError(f"{table}: {written} of {expected} rows written; rolled back")


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
