"""Ingest runs: the report of one load, its record in `ingest_runs`, and the tables it needs."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from vitalsign.errors import VitalsignError
from vitalsign.store.schema import INTERNAL_DDL
from vitalsign.store.transaction import transaction

INGEST_TABLES = (
    "ingest_runs",
    "ingest_changes",
    "quarantine_ids",
    "quarantine",
    "ingest_watermarks",
    "event_api_keys",
    "event_api_messages",
)


@dataclass(frozen=True)
class LoadReport:
    """What one load did: rows read = inserted + updated + unchanged + quarantined.

    `deleted` counts keys a snapshot source no longer holds (not rows read); `repeated`, of
    the unchanged, the earlier copies of keys the source repeats (the last copy wins).
    """

    path: str
    table: str
    read: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    repeated: int = 0
    run_id: str = ""
    new_in_quarantine: int = 0

    @property
    def loaded(self) -> int:
        """Rows written: inserted or updated."""
        return self.inserted + self.updated

    @property
    def balanced(self) -> bool:
        """True when every row read is accounted for."""
        return self.read == self.inserted + self.updated + self.unchanged + self.quarantined

    def summary(self) -> str:
        """One line for the CLI."""
        deleted = f", deleted {self.deleted}" if self.deleted else ""
        repeated = f" ({self.repeated} repeated a key: the last copy won)" if self.repeated else ""
        return (
            f"{self.path} → {self.table}: read {self.read}: inserted {self.inserted}, "
            f"updated {self.updated}, unchanged {self.unchanged}{repeated}, "
            f"quarantined {self.quarantined}{deleted}"
        )


def ensure_ingest_tables(con: Any) -> None:
    """Create the ingestion tables in a workspace made before they existed."""
    for name in INGEST_TABLES:
        con.execute(INTERNAL_DDL[name])


def new_run_id() -> str:
    """Return a fresh run id."""
    return uuid.uuid4().hex[:16]


def utc_now() -> dt.datetime:
    """The current time in UTC, without a time zone (as the tables store it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record_run(
    con: Any,
    report: LoadReport,
    kind: str,
    started_at: dt.datetime,
    status: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert the run's row into `ingest_runs` (inside the caller's transaction)."""
    con.execute(
        "INSERT INTO ingest_runs (run_id, source, target_table, kind, started_at, finished_at, "
        "status, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_quarantined, "
        "rows_deleted, rows_repeated, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.run_id,
            report.path,
            report.table,
            kind,
            started_at,
            utc_now(),
            status,
            report.read,
            report.inserted,
            report.updated,
            report.unchanged,
            report.quarantined,
            report.deleted,
            report.repeated,
            json.dumps(detail or {}, default=str),
        ],
    )


def record_failure(
    con: Any, run_id: str, source: str, table: str, kind: str, started_at: dt.datetime, error: str
) -> None:
    """Record a failed run (after its rollback) so `ingest_runs` shows it."""
    report = LoadReport(source, table, read=0, run_id=run_id)
    with transaction(con):
        record_run(con, report, kind, started_at, "failed", {"error": error})


def report_dict(report: LoadReport) -> dict[str, Any]:
    """The report as a plain dict (for JSON output)."""
    return asdict(report)


# Test hook: when set, a run writes this file just before COMMIT and waits to be killed.
HOLD_BEFORE_COMMIT = "VITALSIGN_TEST_HOLD_BEFORE_COMMIT"


def run_in_transaction(
    con: Any,
    source: str,
    table: str,
    kind: str,
    body: Callable[[str], LoadReport],
    detail: dict[str, Any] | None = None,
) -> LoadReport:
    """Run `body(run_id)` and record the run in one transaction; roll back on any failure."""
    from vitalsign.ingest.staging import drop_staging

    ensure_ingest_tables(con)
    run_id = new_run_id()
    started = utc_now()
    try:
        with transaction(con):  # a failing COMMIT raises its own error, rolled back
            report = body(run_id)
            if not report.balanced:  # pragma: no cover - a bug, not a user mistake
                raise AssertionError(f"rows not accounted for: {report}")
            record_run(con, report, kind, started, "ok", detail)
            _hold_before_commit()
    except BaseException as exc:
        if isinstance(exc, VitalsignError | duckdb.Error):
            record_failure(con, run_id, source, table, kind, started, str(exc))
        raise
    finally:
        drop_staging(con)
    return report


def _hold_before_commit() -> None:
    marker = os.environ.get(HOLD_BEFORE_COMMIT)
    if marker:
        Path(marker).write_text("holding", encoding="utf-8")
        time.sleep(60)
