"""Load a CSV, Parquet or JSON file into a canonical table through an explicit column mapping.

The file is read by DuckDB's own readers; the mapping renames, casts and derives columns
with the model's safe expression language. Loading is all or nothing: if any row lacks a
required value or cannot be cast, nothing is written and the error names the file, the
line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from vitalsign.engine.expressions import columns_of, compile_expression
from vitalsign.errors import IngestError
from vitalsign.model.canonical import CANONICAL_TABLES, CanonicalTable
from vitalsign.model.expressions import ExpressionError, parse_expression
from vitalsign.store.workspace import Workspace

IBIS_TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
READERS = {
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".parquet": "read_parquet",
    ".json": "read_json",
    ".ndjson": "read_json",
    ".jsonl": "read_json",
}


@dataclass(frozen=True)
class LoadReport:
    """What one load did: rows read = loaded + duplicates."""

    path: str
    table: str
    read: int
    loaded: int
    duplicates: int


def read_mapping(path: str | Path) -> dict[str, str]:
    """Read a mapping file: `columns: {canonical_column: source column or expression}`."""
    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, YAMLError) as exc:
        raise IngestError(f"{path}: cannot read the mapping: {exc}") from exc
    columns = data.get("columns", data) if isinstance(data, dict) else None
    if not isinstance(columns, dict):
        raise IngestError(f"{path}: a mapping is `columns: {{target: source}}`")
    return {str(k): str(v) for k, v in columns.items()}


def _reader(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    reader = READERS.get(suffixes[-1].lower() if suffixes else "")
    if reader is None:
        raise IngestError(f"{path}: unknown file type; use .csv, .tsv, .parquet, .json or .ndjson")
    return reader


def _select(
    table: CanonicalTable, mapping: dict[str, str], source: Any, path: Path
) -> dict[str, Any]:
    """Return one Ibis expression per canonical column, from source columns or expressions."""
    columns = [c for c in source.columns if c != "_line"]
    unknown = set(mapping) - set(table.column_names)
    if unknown:
        raise IngestError(
            f"{path}: mapping names unknown columns of {table.name}: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(table.column_names)}"
        )
    selects: dict[str, Any] = {"_line": source["_line"]}
    for column in table.columns:
        text = mapping.get(column.name, column.name if column.name in columns else None)
        ibis_type = IBIS_TYPES[column.type]
        if text is None:
            if column.required:
                raise IngestError(
                    f"{path}: no column for required field {table.name}.{column.name}; map it with "
                    f"--map {column.name}=SOURCE_COLUMN (file columns: {', '.join(columns)})"
                )
            selects[column.name] = ibis.null().cast(ibis_type)
            continue
        if text in columns:
            value: Any = source[text]
        else:
            try:
                expr = parse_expression(text)
            except ExpressionError as exc:
                raise IngestError(f"{path}: mapping of {column.name}: {exc}") from exc
            missing = expr.names() - set(columns)
            if missing:
                raise IngestError(
                    f"{path}: mapping of {column.name} reads unknown columns {sorted(missing)}; "
                    f"file columns: {', '.join(columns)}"
                )
            value = compile_expression(expr, columns_of(source))
        selects[column.name] = value.try_cast(ibis_type)
        selects[f"_raw_{column.name}"] = value.cast("string")
    return selects


def load_file(
    workspace: Workspace, path: str | Path, table_name: str, mapping: dict[str, str] | None = None
) -> LoadReport:
    """Load `path` into canonical table `table_name`; rows already there (same key) are skipped.

    >>> load_file(ws, "accounts.csv", "accounts", {"account_id": "Id"})  # doctest: +SKIP
    """
    file = Path(path)
    if not file.exists():
        raise IngestError(f"{file}: no such file")
    table = CANONICAL_TABLES.get(table_name)
    if table is None:
        raise IngestError(f"unknown table {table_name!r}; known: {', '.join(CANONICAL_TABLES)}")
    con: Any = workspace.duckdb
    reader = _reader(file)
    first_line = 2 if reader == "read_csv" else 1
    literal = "'" + str(file).replace("'", "''") + "'"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _source AS SELECT row_number() OVER () - 1 + {first_line}"
            f" AS _line, * FROM {reader}({literal})"
        )
        source = workspace.backend.table("_source")
    except duckdb.Error as exc:
        raise IngestError(f"{file}: cannot read it as {reader}: {exc}") from exc
    staged_sql = ibis.to_sql(source.select(**_select(table, mapping or {}, source, file)))
    names = ", ".join(table.column_names)
    key = " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in table.key)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _staged AS {staged_sql}")
        _reject_bad_rows(con, table, file)
        read = int(con.execute("SELECT count(*) FROM _staged").fetchone()[0])
        before = int(con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0])
        con.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY {', '.join(table.key)} "
            "ORDER BY _line) AS _n "
            f"FROM _staged) s WHERE _n = 1 AND NOT EXISTS "
            f"(SELECT 1 FROM {table.name} t WHERE {key})"
        )
        after = int(con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0])
        con.execute("DROP TABLE _staged")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS _source")
    return LoadReport(str(file), table.name, read, after - before, read - (after - before))


def _reject_bad_rows(con: Any, table: CanonicalTable, file: Path) -> None:
    """Raise IngestError naming the first bad rows: a missing required value or a failed cast."""
    problems: list[str] = []
    for column in table.columns:
        raw = f"_raw_{column.name}"
        has_raw = raw in [d[0] for d in con.execute("SELECT * FROM _staged LIMIT 0").description]
        conditions = []
        if column.required:
            conditions.append((f"{column.name} IS NULL", "is missing (required)"))
        if has_raw:
            conditions.append(
                (
                    f"{column.name} IS NULL AND {raw} IS NOT NULL AND trim({raw}) <> ''",
                    f"is not a valid {column.type}",
                )
            )
        for condition, reason in conditions:
            raw_select = raw if has_raw else "NULL"
            rows = con.execute(
                f"SELECT _line, {raw_select} FROM _staged WHERE {condition} ORDER BY _line LIMIT 3"
            ).fetchall()
            problems += [f"{file}:{line} {column.name}: {value!r} {reason}" for line, value in rows]
    if problems:
        raise IngestError(
            "\n".join(sorted(set(problems))[:10])
            + "\nNothing was loaded; fix the file or the mapping."
        )
