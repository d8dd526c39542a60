"""Overrides in force at once: recording or revoking one re-scores the account's latest snapshot.

An override recorded between two scoring runs would otherwise show only from the next run.
Instead, in the same transaction as the override, the account's row of the model's latest
snapshot is re-scored, and the override is recorded as applying from that snapshot's date
(`applies_from`; a revocation's `revoked_from`), so scoring that date again gives the same
result. Earlier snapshots keep what was in force then.

A band override changes only the row's `band` (the score and its explanation stay); a signal
override re-scores the snapshot's date under the model (every account, as percentile scales
rank accounts together) and stores that account's score and items. Each re-score is audited
as `override.rescore`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.engine.run import compute_scores
from vitalsign.engine.signals import as_timestamp
from vitalsign.engine.snapshots import ITEM_STORE_COLUMNS, SCORE_COLUMNS
from vitalsign.model.loader import LoadedModel
from vitalsign.store.overrides import active_overrides, audit, insert_override, revoke
from vitalsign.store.transaction import transaction

BAND = "band"


@dataclass(frozen=True)
class Rescored:
    """An account's row of the latest snapshot, before and after its overrides changed."""

    account_id: str
    snapshot_date: dt.date
    band_before: str
    band: str
    computed_band: str
    score_before: float | None
    score: float | None

    def line(self) -> str:
        """One sentence for people: what the latest snapshot shows now."""
        computed = "" if self.band == self.computed_band else f" (computed {self.computed_band})"
        return f"the snapshot of {self.snapshot_date} now shows {self.band}{computed}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def latest_snapshot(connection: Any, model_name: str, account_id: str) -> dt.date | None:
    """Return the model's latest snapshot date if it scores the account, else None."""
    row = connection.execute(
        "SELECT s.snapshot_date FROM scores s WHERE s.model_name = $model "
        "AND s.account_id = $account AND s.snapshot_date = "
        "(SELECT max(snapshot_date) FROM scores WHERE model_name = $model)",
        {"model": model_name, "account": account_id},
    ).fetchone()
    return None if row is None else row[0]


def _since(day: dt.date | None, now: dt.datetime) -> dt.datetime | None:
    """When a change made `now` takes effect: the latest snapshot's start, or now if earlier."""
    return None if day is None else min(as_timestamp(day), now)


def record_override(
    backend: Any,
    model: LoadedModel,
    account_id: str,
    target: str,
    value: str,
    reason: str,
    author: str,
    expires_at: dt.datetime | None = None,
) -> tuple[str, Rescored | None]:
    """Record an override and re-score the account's latest snapshot with it, atomically.

    Returns the override's id and the re-scored row (None when no snapshot of the model
    scores the account yet: it applies from the next scoring run).

    >>> record_override(ws.backend, ws.load_model(), "acct-0042", "band", "red", "why", "ann")
    ... # doctest: +SKIP
    """
    connection = backend.con
    now = _now()
    with transaction(connection):
        day = latest_snapshot(connection, model.name, account_id)
        override_id = insert_override(
            connection,
            account_id,
            target,
            value,
            reason,
            author,
            expires_at,
            created_at=now,
            applies_from=_since(day, now),
        )
        rescored = None
        if day is not None:
            rescored = _rescore(backend, model, account_id, day, target, author, override_id)
    return override_id, rescored


def revoke_and_rescore(
    backend: Any, model: LoadedModel, override_id: str, actor: str, reason: str
) -> Rescored | None:
    """Revoke an override and re-score the account's latest snapshot without it, atomically."""
    connection = backend.con
    row = connection.execute(
        "SELECT account_id FROM overrides WHERE override_id = ?", [override_id]
    ).fetchone()
    day = None if row is None else latest_snapshot(connection, model.name, str(row[0]))
    with transaction(connection):
        account_id, target = revoke(
            connection, override_id, actor, reason, revoked_from=_since(day, _now())
        )
        if day is None:
            return None
        return _rescore(backend, model, account_id, day, target, actor, override_id)


def _rescore(
    backend: Any,
    model: LoadedModel,
    account_id: str,
    day: dt.date,
    target: str,
    actor: str,
    override_id: str,
) -> Rescored:
    """Re-score the account's row on `day` with the overrides now in force there; audit it."""
    connection = backend.con
    before = _row(connection, model.name, day, account_id)
    in_force = active_overrides(connection, [day])
    mine = in_force[in_force["account_id"] == account_id]
    if target == BAND:
        _set_band(connection, model, day, account_id, mine, before["computed_band"])
    else:
        _store_account(backend, model, day, account_id, mine)
    after = _row(connection, model.name, day, account_id)
    rescored = Rescored(
        account_id=account_id,
        snapshot_date=day,
        band_before=before["band"],
        band=after["band"],
        computed_band=after["computed_band"],
        score_before=before["score"],
        score=after["score"],
    )
    audit(
        connection,
        actor,
        "override.rescore",
        account_id,
        {
            "override": override_id,
            "model": model.name,
            "snapshot_date": day,
            "band": [rescored.band_before, rescored.band],
            "score": [rescored.score_before, rescored.score],
        },
    )
    return rescored


def _row(connection: Any, model_name: str, day: dt.date, account_id: str) -> dict[str, Any]:
    row = connection.execute(
        "SELECT band, computed_band, score FROM scores "
        "WHERE model_name = ? AND snapshot_date = ? AND account_id = ?",
        [model_name, day, account_id],
    ).fetchone()
    score = None if row[2] is None or row[2] != row[2] else float(row[2])  # NaN is no score
    return {"band": str(row[0]), "computed_band": str(row[1]), "score": score}


def _set_band(
    connection: Any,
    model: LoadedModel,
    day: dt.date,
    account_id: str,
    overrides: pd.DataFrame,
    computed_band: str,
) -> None:
    """Set the row's band to the band override in force, else to the computed band."""
    bands = overrides[overrides["target"] == BAND]["value"]
    band = str(bands.iloc[0]) if model.spec.overrides.band and len(bands) else computed_band
    connection.execute(
        "UPDATE scores SET band = ?, computed_at = ? "
        "WHERE model_name = ? AND snapshot_date = ? AND account_id = ?",
        [band, _now(), model.name, day, account_id],
    )


def _select(columns: list[str], frame: str) -> str:
    """SELECT a frame's rows as the stored `columns` (the date, model and time as parameters)."""
    extra = {
        "snapshot_date": "CAST(as_of AS DATE)",
        "model_name": "$name",
        "model_hash": "$hash",
        "computed_at": "$computed_at",
    }
    return f"SELECT {', '.join(f'{extra.get(c, c)} AS {c}' for c in columns)} FROM {frame}"


def _store_account(
    backend: Any, model: LoadedModel, day: dt.date, account_id: str, overrides: pd.DataFrame
) -> None:
    """Score `day` with the account's overrides and replace its score and items there."""
    scored = compute_scores(backend, model, [day], overrides)
    scores = scored.scores[scored.scores["account_id"] == account_id]
    if scores.empty:  # no longer scored on the data as it is now: the stored row stays
        return
    items = pd.concat(
        [frame[frame["account_id"] == account_id] for frame in scored.item_frames],
        ignore_index=True,
    )
    connection = backend.con
    values = {"name": model.name, "hash": model.hash, "computed_at": _now()}
    connection.register("_rescored_scores", scores)
    connection.register("_rescored_items", items)
    try:
        connection.execute(
            f"INSERT OR REPLACE INTO scores ({', '.join(SCORE_COLUMNS)}) "
            + _select(SCORE_COLUMNS, "_rescored_scores"),
            values,
        )
        connection.execute(
            "DELETE FROM score_items WHERE model_name = ? AND snapshot_date = ? AND account_id = ?",
            [model.name, day, account_id],
        )
        connection.execute(
            f"INSERT INTO score_items ({', '.join(ITEM_STORE_COLUMNS)}) "
            + _select(ITEM_STORE_COLUMNS, "_rescored_items"),
            {"name": model.name},
        )
    finally:
        connection.unregister("_rescored_scores")
        connection.unregister("_rescored_items")
