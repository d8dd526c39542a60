"""Typed bodies of the admin pages' JSON (/api/v1/admin): sources, runs, quarantine, jobs.

Times travel as ISO text (UTC), as in vitalsign.web.api_schemas, whose `_Out` base lets a
field reach clients before its schema is written.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vitalsign.web.api_schemas import Moment, _Out


class JobRunOut(_Out):
    """One run of a server job."""

    run_id: str
    job: str = Field(description='"daily" (vitalsign run) or "sync".')
    trigger: str = Field(
        description='"schedule" (serve --schedule), "web" (run now) or "cli" (a relayed command).'
    )
    started_by: str
    started_at: Moment
    finished_at: Moment | None
    duration_seconds: float | None = Field(description="None while it runs.")
    status: str = Field(description="running, ok, failed or interrupted.")
    detail: str = Field(description="What each step did.")
    error: str | None = Field(description="Why a failed run failed.")


class JobsOut(_Out):
    """The server's jobs: what runs now, the schedule, and the last runs (newest first)."""

    running: JobRunOut | None
    schedule: str | None = Field(description="The cron of `serve --schedule`, if any.")
    next_run: Moment | None
    page: int
    per_page: int
    total: int
    runs: list[JobRunOut]


class RunOut(_Out):
    """One ingest run: what it read and did with each row."""

    run_id: str
    source: str
    table: str
    kind: str = Field(description="file, database, event_api or retry.")
    started_at: Moment
    finished_at: Moment | None
    duration_seconds: float | None
    status: str = Field(description="ok or failed (a failed run changed nothing).")
    read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    deleted: int
    error: str | None


class SourceOut(_Out):
    """A source and its table: freshness, syncs, last run, pending quarantined rows."""

    source: str
    table: str
    declared: str | None = Field(description="Its name in vitalsign.yml, when declared there.")
    freshness: str | None = Field(description="fresh, stale, empty or untracked (the model's).")
    newest_row: Moment | None
    last_sync: Moment | None = Field(description="End of the last successful run.")
    runs: int
    last_run: RunOut | None
    pending: int = Field(description="Quarantined rows waiting for a retry.")


class SourcesOut(_Out):
    """Every source, and the job running now (a sync or the daily job), if any."""

    sources: list[SourceOut]
    running: JobRunOut | None


class QuarantinedOut(_Out):
    """One quarantined row with its reason."""

    quarantine_id: int
    run_id: str
    source: str
    table: str
    line: int | None
    raw: dict[str, Any]
    reason: str
    status: str = Field(description="pending, loaded or duplicate.")
    quarantined_at: Moment


class QuarantineOut(_Out):
    """A page of quarantined rows, newest first."""

    page: int
    per_page: int
    total: int
    items: list[QuarantinedOut]


class RetryIn(BaseModel):
    """Which pending rows to retry: these ids, or every pending row (of a source, a table)."""

    ids: list[int] | None = None
    source: str | None = None
    table: str | None = None


class RetryOut(_Out):
    """What a retry did to the rows it tried."""

    retried: int
    loaded: int
    duplicates: int = Field(description="Rows whose key was already in the table.")
    kept: int = Field(description="Rows still quarantined.")
    reasons: dict[str, int] = Field(description="Why the kept rows are still quarantined.")
    summary: str
