"""The workspace's freshness now: each table against the active model, each source's syncs.

`vitalsign status` prints it and the web's /status page shows it. A table's *last sync* is
the end of the latest successful ingest run into it (`ingest_runs`); its *newest row* is the
newest time in its time column (docs/tables.md), which says how far the data reaches
whatever the sync says: an old export loaded today has a fresh sync and old rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vitalsign.engine.freshness import signals_fed_by
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.spec import HealthModel
from vitalsign.store.freshness import (
    SourceStatus,
    TableFreshness,
    TableStatus,
    snapshot_freshness,
    source_statuses,
    table_statuses,
)


@dataclass(frozen=True)
class WorkspaceStatus:
    """Freshness of a workspace at `now` under a model, and of its latest snapshot."""

    now: dt.datetime
    model_name: str
    tables: list[TableStatus]
    sources: list[SourceStatus]
    latest_snapshot: dt.date | None
    snapshot_tables: list[TableFreshness]

    @property
    def stale(self) -> list[TableStatus]:
        """The tables the model reads that are stale now."""
        return [t for t in self.tables if t.state == "stale" and t.signals]

    def last_sync(self, table: str) -> dt.datetime | None:
        """The end of the latest successful ingest run into `table`."""
        times = [s.last_ok for s in self.sources if s.table == table and s.last_ok is not None]
        return max(times) if times else None

    def rows(self) -> list[dict[str, Any]]:
        """One plain row per table, for the CLI's table, JSON and the web page."""
        return [
            {
                "table": t.table,
                "rows": t.rows,
                "newest_row": t.newest,
                "age_days": None if t.age_days is None else round(t.age_days, 1),
                "allowed_days": t.allowed_days,
                "state": t.state,
                "signals": len(t.signals),
                "last_sync": self.last_sync(t.table),
            }
            for t in self.tables
        ]


def workspace_status(connection: Any, model: HealthModel, now: dt.datetime) -> WorkspaceStatus:
    """Return the freshness of every table and source of the workspace at `now`.

    >>> workspace_status(ws.duckdb, ws.load_model().spec, dt.datetime.now()).stale  # doctest: +SKIP
    []
    """
    fed = signals_fed_by(model)
    allowance = {name: model.allowed_staleness(name) for name in CANONICAL_TABLES}
    row = connection.execute(
        "SELECT max(snapshot_date) FROM scores WHERE model_name = ?", [model.name]
    ).fetchone()
    latest = None if row is None or row[0] is None else row[0]
    return WorkspaceStatus(
        now=now,
        model_name=model.name,
        tables=table_statuses(connection, now, allowance, fed),
        sources=source_statuses(connection),
        latest_snapshot=latest,
        snapshot_tables=[]
        if latest is None
        else snapshot_freshness(connection, model.name, [latest]),
    )
