"""Which dates to backfill before backtesting a model that has no stored snapshots.

A proposal (or any new model) is only comparable with the model in use when both are scored
on the same dates: so a model without snapshots is backfilled on the **active model's stored
snapshot dates** (up to `--until` when given). Only when the active model has none either
(or it is the model being backtested) does it fall back to 52 weekly dates ending at the
data's end.
"""

from __future__ import annotations

import datetime as dt

from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

WEEKS = 52  # the fallback: this many weekly dates ending at the data's end


def backfill_plan(
    workspace: Workspace, model: LoadedModel, end: dt.date, until: dt.date | None = None
) -> tuple[list[dt.date], str]:
    """The dates to backfill `model` on, and one line saying which and why.

    >>> dates, why = backfill_plan(ws, ws.load_model("models/new.yml"), end)  # doctest: +SKIP
    """
    active = workspace.load_model()
    if active.name != model.name:
        stored = snapshot_dates(workspace.duckdb, active.name)
        if until is not None:
            stored = [d for d in stored if d <= until]
        if stored:
            return stored, (
                f"No stored snapshots of {model.name}: backfilling the {len(stored)} stored "
                f"snapshot dates of the active model {active.name} ({stored[0]} to "
                f"{stored[-1]}), so the two backtests compare like for like"
            )
    dates = [end - dt.timedelta(weeks=w) for w in range(WEEKS, 0, -1)]
    return dates, (
        f"No stored snapshots of {model.name}: backfilling {WEEKS} weekly dates to {dates[-1]}"
    )
