"""Sync every source declared in the workspace config, incrementally, one report row each.

File sources skip files whose size and modification time are unchanged since they were
last loaded (and re-loading a file adds nothing anyway); database sources read from their
watermark. One source's failure is reported and leaves its tables unchanged; the other
sources still sync. Then churn, renewals and reactivations are derived from `subscriptions`
(ingest/billing.py) when the workspace's `billing.derive` is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import psycopg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vitalsign.errors import IngestError, VitalsignError
from vitalsign.ingest.billing import BillingReport, derive_billing
from vitalsign.ingest.database import load_database, read_watermark, write_watermark
from vitalsign.ingest.files import expand_paths, load_file
from vitalsign.ingest.formats import resolve_mapping
from vitalsign.ingest.mapping import Mapping, load_mapping, parse_mapping
from vitalsign.ingest.runs import LoadReport, ensure_ingest_tables
from vitalsign.ingest.staging import LoadOptions
from vitalsign.store.workspace import DatabaseSource, FileSource, SourceBase, Workspace


@dataclass(frozen=True)
class SourceResult:
    """What one source's sync did; `error` is set when it failed (its tables are unchanged)."""

    source: str
    table: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    files: int = 0
    error: str | None = None

    @property
    def loaded(self) -> int:
        """Rows written: inserted or updated."""
        return self.inserted + self.updated

    @property
    def ok(self) -> bool:
        """True when the source synced and every row read is accounted for."""
        counted = self.inserted + self.updated + self.unchanged + self.quarantined
        return self.error is None and self.read == counted


@dataclass
class SyncReport:
    """The results of one `sync_workspace` call: one per source, then the billing derivation."""

    results: list[SourceResult] = field(default_factory=list)
    billing: BillingReport | None = None
    billing_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every source synced and churn and renewals were derived without error."""
        return all(r.ok for r in self.results) and self.billing_error is None


def source_mapping(workspace: Workspace, source: SourceBase) -> tuple[Mapping, str]:
    """Return a source's full mapping (file, then inline keys, over its format) and table."""
    base = load_mapping(workspace.root / source.mapping) if source.mapping else Mapping()
    inline: dict[str, Any] = {
        "format": source.format,
        "columns": source.columns,
        "identity": source.identity,
        "prefer": source.prefer,
        "require": source.require,
        "options": source.options,
    }
    if "future_tolerance" in source.model_fields_set:
        inline["future_tolerance"] = source.future_tolerance
    mapping = parse_mapping(inline, f"vitalsign.yml sources.{source.name}").over(base)
    return resolve_mapping(mapping, source.into)


def _sum(source: SourceBase, table: str, reports: list[LoadReport], files: int) -> SourceResult:
    return SourceResult(
        source.name,
        table,
        read=sum(r.read for r in reports),
        inserted=sum(r.inserted for r in reports),
        updated=sum(r.updated for r in reports),
        unchanged=sum(r.unchanged for r in reports),
        quarantined=sum(r.quarantined for r in reports),
        deleted=sum(r.deleted for r in reports),
        files=files,
    )


def load_options(source: SourceBase) -> LoadOptions:
    """How a declared source treats keys (`mode: snapshot` marks absent keys deleted)."""
    return LoadOptions(snapshot=source.mode == "snapshot", max_delete_share=source.max_delete_share)


def _adopt(con: Any, name: str, paths: list[str]) -> None:
    """Put the runs and quarantined rows labelled with a source's file paths under its name.

    Syncs before the name was their label (and `vitalsign ingest` of the same files) join the
    source's history, and a re-read file finds its quarantined rows as already quarantined.
    """
    ensure_ingest_tables(con)
    for table in ("ingest_runs", "quarantine"):
        con.execute(
            f"UPDATE {table} SET source = ? WHERE source IN (SELECT unnest(?::VARCHAR[]))",
            [name, paths],
        )


def _sync_files(
    workspace: Workspace, source: FileSource, progress: Progress | None
) -> SourceResult:
    mapping, table = source_mapping(workspace, source)
    files = expand_paths(source.path, workspace.root)
    task = progress.add_task(source.name, total=len(files)) if progress else None
    reports: list[LoadReport] = []
    con = workspace.duckdb
    _adopt(con, source.name, [str(file) for file in files])
    for file in files:
        stat = file.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        item = str(file)
        if read_watermark(con, source.name, item) != fingerprint:

            def remember(inner: Any, item: str = item, value: str = fingerprint) -> None:
                write_watermark(inner, source.name, value, item)

            try:  # runs and quarantined rows carry the source's name; errors name the file
                reports.append(
                    load_file(
                        workspace, file, table, mapping, source.name, remember, load_options(source)
                    )
                )
            except IngestError as exc:
                raise IngestError(f"{file}: {exc}") from exc
        if progress is not None and task is not None:
            progress.advance(task)
    return _sum(source, table, reports, len(reports))


def _sync_database(
    workspace: Workspace, source: DatabaseSource, progress: Progress | None
) -> SourceResult:
    mapping, table = source_mapping(workspace, source)
    task = progress.add_task(source.name, total=1) if progress else None
    report = load_database(workspace, source, mapping, table, load_options(source))
    if progress is not None and task is not None:
        progress.advance(task)
    return _sum(source, table, [report], 0)


def sync_workspace(workspace: Workspace, show_progress: bool = True) -> SyncReport:
    """Ingest every source of the workspace config incrementally; errors stay per source.

    >>> sync_workspace(open_workspace("acme")).ok  # doctest: +SKIP
    True
    """
    report = SyncReport()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
    )
    with progress:
        for source in workspace.config.sources:
            try:
                if isinstance(source, FileSource):
                    result = _sync_files(workspace, source, progress)
                else:
                    result = _sync_database(workspace, source, progress)
            except (VitalsignError, duckdb.Error, psycopg.Error, OSError) as exc:
                result = SourceResult(
                    source.name, source.into or "", error=str(exc).splitlines()[0]
                )
            report.results.append(result)
    try:  # churn, renewals and reactivations from subscriptions (docs/connectors.md)
        report.billing = derive_billing(workspace)
    except (VitalsignError, duckdb.Error) as exc:
        report.billing_error = str(exc).splitlines()[0]
    return report
