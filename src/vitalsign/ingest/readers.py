"""Open a file as a relation of raw text values with DuckDB's own readers.

Every reader yields `_line` (the record's line in the file, header = line 1, or its
position for JSON arrays and Parquet) and the file's values as text, so a value that does
not parse can be quarantined as it was. CSV rows the reader itself rejects (wrong number
of columns, bad quoting, invalid encoding) and NDJSON lines that are not JSON objects are
kept too, as `rejects`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from vitalsign.errors import IngestError
from vitalsign.ingest.encodings import (
    check_gzip,
    choose_decoding,
    is_gzip,
    sample,
    transcode_lines,
    transcode_to_utf8,
)
from vitalsign.ingest.mapping import FileFormat, ReaderOptions
from vitalsign.ingest.rejects import (
    GAPS,
    drop_rejects,
    gaps_sql,
    record_reject_raw,
    rejecting_options,
    rejects_sql,
)

FORMATS_BY_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
}


def quote_identifier(name: str) -> str:
    """Quote a column name for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal for DuckDB SQL."""
    return "'" + text.replace("'", "''") + "'"


def json_path(name: str) -> str:
    """Return the JSON path of a dotted name: `context.traits.email` → `$."context"."traits"...`."""
    return "$." + ".".join(_json_key(part) for part in name.split("."))


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class SourceRelation:
    """A source opened as SQL: raw text columns, or one JSON text per record."""

    label: str
    from_sql: str  # a SELECT with `_line` and either the columns or `_raw` (JSON text)
    columns: list[str]  # the source's column names (JSON: the top-level keys seen)
    is_json: bool = False
    rejects_sql: str | None = None  # SELECT _line, _raw, reason of rows the reader rejected
    encoding: str | None = None
    temp_files: list[Path] = field(default_factory=list)
    unnumbered_sql: str | None = None  # `from_sql` with a NULL `_line` (cheaper to scan)
    count_sql: str | None = None  # the first scan: counts rows and records the rejects
    # An expression reading every column: each scan must read all of them, because DuckDB
    # checks the encoding of the columns it reads only, and every scan must skip the same rows.
    every_column_sql: str | None = None
    after_count: list[Callable[[Any], None]] = field(default_factory=list)  # run after it

    def count_rows(self, con: Any) -> int:
        """Scan the source once: return its row count and record what the reader rejected."""
        sql = self.count_sql or f"SELECT count(*) FROM ({self.from_sql})"
        try:
            counted = int(con.execute(sql).fetchone()[0])
        except duckdb.Error as exc:
            raise IngestError(f"{self.label}: cannot read it: {_first_line(exc)}") from exc
        for step in self.after_count:
            step(con)
        return counted

    def select_sql(self, names: list[str], numbered: bool = True) -> str:
        """Return a SELECT of `_line`, `_raw` and each needed name as a text column."""
        if not numbered and self.unnumbered_sql is not None:
            return self.unnumbered_sql
        if not self.is_json:
            missing = [n for n in names if n not in self.columns]
            if missing:
                raise IngestError(
                    f"{self.label}: no column {', '.join(map(repr, missing))}; the file's "
                    f"columns are {', '.join(self.columns)}"
                )
            return self.from_sql
        parts = ["_line", "_raw"] + [
            f"json_extract_string(_raw, {quote_literal(self._path(n))}) AS {quote_identifier(n)}"
            for n in dict.fromkeys(names)
        ]
        return f"SELECT {', '.join(parts)} FROM ({self.from_sql})"

    def _path(self, name: str) -> str:
        """A top-level key is one step even with dots in it; other dotted names are paths."""
        return "$." + _json_key(name) if name in self.columns else json_path(name)

    def raw_sql(self) -> str:
        """Return the SQL expression of the raw row as JSON text (over `select_sql`)."""
        if self.is_json:
            return "_raw"
        if not self.columns:
            return "'{}'"
        pairs = ", ".join(f"{quote_literal(c)}, {quote_identifier(c)}" for c in self.columns)
        return f"CAST(json_object({pairs}) AS VARCHAR)"


def file_format(path: Path, options: ReaderOptions) -> FileFormat:
    """Return the format to read `path` with: the option, else its suffix."""
    if options.format:
        return options.format
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    found = FORMATS_BY_SUFFIX.get(suffixes[-1] if suffixes else "")
    if found is None:
        raise IngestError(
            f"{path}: unknown file type; use .csv, .tsv, .json, .ndjson, .jsonl or .parquet "
            "(optionally .gz), or set options.format"
        )
    return found


@contextlib.contextmanager
def open_file(con: Any, path: Path, options: ReaderOptions) -> Iterator[SourceRelation]:
    """Open `path` as a SourceRelation; temporary files are removed afterwards."""
    fmt = file_format(path, options)
    if is_gzip(path):
        check_gzip(path)
    relation = _open_parquet(con, path) if fmt == "parquet" else _open_text(con, path, fmt, options)
    try:
        yield relation
    finally:
        for temp in relation.temp_files:
            temp.unlink(missing_ok=True)


def _describe(con: Any, sql: str, path: Path) -> list[str]:
    try:
        return [row[0] for row in con.execute(f"DESCRIBE {sql}").fetchall()]
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read it: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _open_parquet(con: Any, path: Path) -> SourceRelation:
    reader = f"read_parquet({quote_literal(str(path))}, file_row_number=true)"
    names = [n for n in _describe(con, f"SELECT * FROM {reader}", path) if n != "file_row_number"]
    values = ", ".join(
        f"CAST({quote_identifier(n)} AS VARCHAR) AS {quote_identifier(n)}" for n in names
    )
    sql = f"SELECT file_row_number + 1 AS _line, {values} FROM {reader}"
    return SourceRelation(str(path), sql, names)


def _open_text(con: Any, path: Path, fmt: FileFormat, options: ReaderOptions) -> SourceRelation:
    head = sample(path)
    decoding = choose_decoding(head, options.encoding)
    temp_files: list[Path] = []
    read_path = path
    if decoding.fallback or decoding.whole_file:
        if decoding.whole_file:
            read_path = transcode_to_utf8(path, decoding.whole_file)
        else:
            read_path = transcode_lines(path, decoding.fallback or "utf-8")
        temp_files.append(read_path)
        with read_path.open("rb") as handle:
            head = handle.read(len(head))
    encoding = decoding.reader
    try:
        if fmt in ("csv", "tsv"):
            if options.delimiter is None and fmt == "csv":
                options = options.model_copy(update={"delimiter": _guess_delimiter(head, encoding)})
            relation = _open_csv(con, path, read_path, fmt, options, encoding)
        elif fmt == "json" and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            relation = _open_json_array(con, path, read_path)
        else:
            relation = _open_ndjson(con, path, read_path, head, encoding, options.encoding)
    except BaseException:
        for temp in temp_files:
            temp.unlink(missing_ok=True)
        raise
    relation.encoding = decoding.name
    relation.temp_files = temp_files
    return relation


def _guess_delimiter(head: bytes, encoding: str) -> str | None:
    """The most frequent of , ; tab | in the first line, or None to let DuckDB sniff."""
    first = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def _csv_options(path: Path, fmt: FileFormat, options: ReaderOptions, encoding: str) -> list[str]:
    parts = ["all_varchar=true", f"encoding={quote_literal(encoding)}"]
    delimiter = options.delimiter or ("\t" if fmt == "tsv" else None)
    if delimiter is not None:
        parts.append(f"delim={quote_literal(delimiter)}")
    if options.quote is not None:
        parts.append(f"quote={quote_literal(options.quote)}")
    if options.escape is not None:
        parts.append(f"escape={quote_literal(options.escape)}")
    if options.header is not None:
        parts.append(f"header={'true' if options.header else 'false'}")
    if options.skip:
        parts.append(f"skip={options.skip}")
    if is_gzip(path):
        parts.append("compression='gzip'")
    return parts


def _open_csv(
    con: Any, path: Path, read_path: Path, fmt: FileFormat, options: ReaderOptions, encoding: str
) -> SourceRelation:
    parts = _csv_options(path if read_path == path else read_path, fmt, options, encoding)
    literal = quote_literal(str(read_path))
    try:
        sniffed = con.execute(
            f"SELECT HasHeader FROM sniff_csv({literal}, {', '.join(parts)}, ignore_errors=true)"
        ).fetchone()
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot read it as {fmt.upper()} ({encoding}): {_first_line(exc)}; set "
            "options.delimiter, options.quote or options.encoding in the mapping"
        ) from exc
    has_header = bool(sniffed[0]) if options.header is None else options.header
    if options.header is None:
        parts.append(f"header={'true' if has_header else 'false'}")
    reader = f"read_csv({literal}, {', '.join(parts)}, ignore_errors=true)"
    names = _describe(con, f"SELECT * FROM {reader}", path)
    drop_rejects(con)
    rejecting = f"read_csv({literal}, {', '.join(parts)}, {rejecting_options()})"
    every = ", ".join(quote_identifier(n) for n in names)
    count = f"SELECT count(hash({every})) FROM {rejecting}"
    first = options.skip + (2 if has_header else 1)
    # Rows after a rejected line are numbered past it (see rejects.gaps_sql).
    sql = (
        f"SELECT r._k + {first - 1} + coalesce(gp.n, 0) AS _line, r.* EXCLUDE (_k) FROM "
        f"(SELECT row_number() OVER () AS _k, * FROM {reader}) r "
        f"ASOF LEFT JOIN {GAPS} gp ON r._k > gp.g"
    )
    unnumbered = f"SELECT CAST(NULL AS BIGINT) AS _line, * FROM {reader}"
    relation = SourceRelation(
        str(path),
        sql,
        names,
        rejects_sql=rejects_sql(options.encoding),
        unnumbered_sql=unnumbered,
        count_sql=count,
        every_column_sql=f"hash({every})",
    )
    relation.after_count = [
        lambda con: con.execute(gaps_sql(first)),
        lambda con: record_reject_raw(con, read_path),
    ]
    return relation


def _open_json_array(con: Any, path: Path, read_path: Path) -> SourceRelation:
    literal = quote_literal(str(read_path))
    sql = (
        "SELECT row_number() OVER () AS _line, CAST(json AS VARCHAR) AS _raw "
        f"FROM read_json_objects({literal}, format='array'"
        + (", compression='gzip')" if is_gzip(read_path) else ")")
    )
    try:
        keys = con.execute(
            f"SELECT DISTINCT unnest(json_keys(_raw)) FROM ({sql}) WHERE json_type(_raw) = 'OBJECT'"
        ).fetchall()
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: not a complete JSON array ({_first_line(exc)}); nothing was loaded. "
            "A truncated file must be exported again; NDJSON (one object per line) keeps the "
            "good lines of a damaged file"
        ) from exc
    rejects = (
        f"SELECT _line, _raw, 'not a JSON object' AS reason FROM ({sql}) "
        "WHERE json_type(_raw) <> 'OBJECT'"
    )
    objects = f"SELECT * FROM ({sql}) WHERE json_type(_raw) = 'OBJECT'"
    return SourceRelation(str(path), objects, sorted(k[0] for k in keys), True, rejects)


def _open_ndjson(
    con: Any,
    path: Path,
    read_path: Path,
    head: bytes,
    encoding: str,
    declared: str | None = None,
) -> SourceRelation:
    literal = quote_literal(str(read_path))
    new_line = ", new_line='\\r\\n'" if b"\r\n" in head else ""
    compression = ", compression='gzip'" if is_gzip(read_path) else ""
    drop_rejects(con)
    lines = (
        "SELECT row_number() OVER () AS _k, _raw FROM read_csv("
        f"{literal}, columns={{'_raw': 'VARCHAR'}}, header=false, delim=chr(31), quote='', "
        f"escape='', auto_detect=false, strict_mode=false, max_line_size=268435456, "
        f"encoding={quote_literal(encoding)}{new_line}{compression}, {rejecting_options()})"
    )
    con.execute("DROP TABLE IF EXISTS _vs_lines")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _vs_line_text AS {lines}")
        con.execute(gaps_sql(1))
        record_reject_raw(con, read_path)
        con.execute(
            "CREATE TEMP TABLE _vs_lines AS SELECT r._k + coalesce(gp.n, 0) AS _line, r._raw, "
            "coalesce(CASE WHEN json_valid(r._raw) THEN json_type(r._raw) = 'OBJECT' END, false) "
            f"AS _ok FROM _vs_line_text r ASOF LEFT JOIN {GAPS} gp ON r._k > gp.g "
            "WHERE trim(coalesce(r._raw, '')) <> ''"
        )
        con.execute("DROP TABLE _vs_line_text")
        keys = con.execute(
            "SELECT DISTINCT unnest(json_keys(_raw)) FROM _vs_lines WHERE _ok"
        ).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read it as NDJSON: {_first_line(exc)}") from exc
    rejects = (
        "SELECT _line, CAST(json_object('line', _raw) AS VARCHAR) AS _raw, "
        "'not a JSON object' AS reason FROM _vs_lines WHERE NOT _ok "
        f"UNION ALL {rejects_sql(declared)}"
    )
    objects = "SELECT _line, _raw FROM _vs_lines WHERE _ok"
    return SourceRelation(str(path), objects, sorted(k[0] for k in keys), True, rejects)


def json_rows_relation(con: Any, label: str, table: str) -> SourceRelation:
    """Return a relation over a temporary table of (`_line`, `_raw` JSON object text)."""
    keys = con.execute(f"SELECT DISTINCT unnest(json_keys(_raw)) FROM {table}").fetchall()
    return SourceRelation(
        label, f"SELECT _line, _raw FROM {table}", sorted(k[0] for k in keys), is_json=True
    )
