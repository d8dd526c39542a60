"""Load files (CSV, TSV, JSON, NDJSON, Parquet, gzipped or not) into a canonical table.

Files are read by DuckDB's own readers as text, typed with TRY_CAST, checked, and written
in one transaction per file: rows read = inserted + updated + unchanged + quarantined.
Loading the same file again changes nothing: its rows are unchanged, and rows already in
quarantine are not quarantined twice.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitalsign.errors import IngestError
from vitalsign.ingest.formats import resolve_mapping
from vitalsign.ingest.mapping import Mapping, parse_mapping, read_mapping
from vitalsign.ingest.readers import SourceRelation, open_file
from vitalsign.ingest.runs import LoadReport, run_in_transaction
from vitalsign.ingest.staging import CHANGES, LoadOptions, load_staged
from vitalsign.model.canonical import CANONICAL_TABLES, CanonicalTable
from vitalsign.store.workspace import Workspace

__all__ = ["LoadReport", "expand_paths", "load_file", "load_files", "read_mapping"]


def canonical_table(name: str, workspace: Workspace | None = None) -> CanonicalTable:
    """Return the canonical table called `name` (with the workspace's custom fields)."""
    tables = workspace.tables if workspace is not None else CANONICAL_TABLES
    table = tables.get(name)
    if table is None:
        raise IngestError(f"unknown table {name!r}; known: {', '.join(tables)}")
    return table


def expand_paths(pattern: str | Path, root: Path | None = None) -> list[Path]:
    """Return the files a path or glob names (sorted), or raise IngestError if none."""
    text = str(pattern)
    if root is not None and not Path(text).is_absolute():
        text = str(root / text)
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not found:
            raise IngestError(f"{pattern}: no file matches")
        return found
    if not Path(text).is_file():
        raise IngestError(f"{pattern}: no such file")
    return [Path(text)]


def _as_mapping(mapping: Mapping | dict[str, str] | None) -> Mapping:
    if isinstance(mapping, Mapping):
        return mapping
    return parse_mapping({"columns": mapping or {}}, "mapping")


def load_file(
    workspace: Workspace,
    path: str | Path,
    table_name: str | None,
    mapping: Mapping | dict[str, str] | None = None,
    source: str | None = None,
    also: Callable[[Any], None] | None = None,
    options: LoadOptions = CHANGES,
) -> LoadReport:
    """Load one file into a canonical table: new keys inserted, changed rows updated.

    Bad rows go to quarantine. `also(con)` runs inside the same transaction (a sync records
    the file's fingerprint). `options.snapshot` marks keys absent from the file deleted.

    >>> load_file(ws, "accounts.csv", "accounts", {"account_id": "Id"})  # doctest: +SKIP
    """
    file = Path(path)
    if not file.is_file():
        raise IngestError(f"{file}: no such file")
    resolved, table_name = resolve_mapping(_as_mapping(mapping), table_name)
    table = canonical_table(table_name, workspace)
    con = workspace.duckdb
    label = source or str(file)
    with open_file(con, file, resolved.options) as relation:
        relation.label = label
        return run_in_transaction(
            con,
            label,
            table.name,
            "file",
            lambda run_id: _load_and(con, relation, table, resolved, run_id, label, also, options),
            {"path": str(file), "encoding": relation.encoding},
        )


def _load_and(
    con: Any,
    relation: SourceRelation,
    table: CanonicalTable,
    mapping: Mapping,
    run_id: str,
    label: str,
    also: Callable[[Any], None] | None,
    options: LoadOptions,
) -> LoadReport:
    report = load_staged(con, relation, table, mapping, run_id, label, options=options)
    if also is not None:
        also(con)
    return report


def load_files(
    workspace: Workspace,
    pattern: str | Path,
    table_name: str | None,
    mapping: Mapping | dict[str, str] | None = None,
) -> list[LoadReport]:
    """Load every file a path or glob names, one transaction per file."""
    return [load_file(workspace, f, table_name, mapping) for f in expand_paths(pattern)]
