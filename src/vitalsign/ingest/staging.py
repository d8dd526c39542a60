"""Load a source relation into a canonical table so that nothing is lost.

Every row read ends in exactly one place: the table (loaded or updated), nowhere because
it is already stored or a later line of the same source has its key (unchanged), or the
`quarantine` table with its line, raw values and the reasons (quarantined). All of it
happens in the caller's transaction: a run that fails or is killed midway leaves every
table as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vitalsign.errors import IngestError
from vitalsign.ingest.changes import (
    CHANGES,
    DROPPED,
    STAGED,
    Changes,
    LoadOptions,
    apply_changes,
)
from vitalsign.ingest.identity import domain_sql, email_domain_sql, identity_joins
from vitalsign.ingest.mapping import Mapping
from vitalsign.ingest.occurrences import number_copies
from vitalsign.ingest.plan import Plan, build_plan
from vitalsign.ingest.readers import SourceRelation, quote_identifier, quote_literal
from vitalsign.ingest.repeats import (
    REPEATED,
    delete_taken_keys,
    keep_last_lines,
    mark_duplicates,
)
from vitalsign.ingest.runs import LoadReport, utc_now
from vitalsign.ingest.staged_identity import prepare_staged
from vitalsign.ingest.validity import EARLIEST, rules_for
from vitalsign.ingest.values import parse_sql
from vitalsign.model.canonical import SQL_TYPES, CanonicalTable
from vitalsign.store.history import reconcile_history

__all__ = ["CHANGES", "DROPPED", "STAGED", "LoadOptions", "load_staged", "stage", "staging_sql"]


@dataclass(frozen=True)
class Staged:
    """Counts of a staged source before it is written."""

    read: int
    good: int
    bad: int


@dataclass(frozen=True)
class StagingSql:
    """The queries of one load: every row with its reason, good rows only, bad rows only."""

    all_rows: str  # _line, the table's columns, _reason, _raw (bad rows), _prefer
    good_rows: str  # the table's columns of rows without a reason (no line numbers)
    bad_rows: str  # _line, _raw, reason of rows with a reason


def staging_sql(plan: Plan, mapping: Mapping, future_cutoff: dt.datetime) -> StagingSql:
    """Return the queries that type, resolve and check every row of the plan's source."""
    table = plan.table
    typed = []
    for name, value in plan.values.items():
        column = table.column(name)
        assert column is not None
        parsed = parse_sql(column.type, value)
        if table.name == "accounts" and name == "domain":
            parsed = domain_sql(f"CAST({value} AS VARCHAR)")
        typed.append(f"{parsed} AS __t_{name}")
    if table.name == "accounts" and "domain" not in plan.values and "email" in plan.identity:
        typed.append(f"{email_domain_sql(plan.identity['email'])} AS __t_domain")

    resolving = _resolving(plan)
    joins, account_sql, account_reason = "", "", ""
    if resolving:
        explicit = "__t_account_id" if "account_id" in plan.values else None
        joins, account_sql, account_reason = identity_joins(plan.identity, explicit)
    account_columns = (
        f", {account_sql} AS __account, CASE WHEN {account_sql} IS NULL THEN {account_reason} "
        "END AS __account_reason"
        if resolving
        else ""
    )

    def layer3(select_sql: str) -> str:
        layer2 = f"SELECT l1.*, {', '.join(typed) or 'NULL AS __none'} FROM ({select_sql}) l1"
        return f"SELECT l2.*{account_columns} FROM ({layer2}) l2 {joins}"

    final = _final_columns(plan, resolving)
    checks = _checks(plan, mapping, future_cutoff, resolving)
    bad = " OR ".join(f"({condition}) IS TRUE" for condition, _ in checks) or "false"
    reason = (
        "NULLIF(concat_ws('; ', "
        + ", ".join(f"CASE WHEN {condition} THEN {message} END" for condition, message in checks)
        + "), '')"
        if checks
        else "NULL"
    )
    prefer = plan.prefer or "NULL"
    columns = ", ".join(f"{sql} AS {quote_identifier(name)}" for name, sql in final.items())
    all_rows = (
        f"SELECT _line, {columns}, _reason, CASE WHEN _reason IS NOT NULL THEN {plan.raw_sql} END "
        f"AS _raw, _prefer FROM (SELECT l3.*, {reason} AS _reason, {prefer} AS _prefer "
        f"FROM ({layer3(plan.select_sql)}) l3)"
    )
    read_all = f" AND {plan.every_column_sql} IS NOT NULL" if plan.every_column_sql else ""
    good_rows = (
        f"SELECT {columns} FROM ({layer3(plan.unnumbered_sql)}) l3 WHERE NOT ({bad}){read_all}"
    )
    bad_rows = (
        f"SELECT _line, {plan.raw_sql} AS _raw, {reason} AS reason "
        f"FROM ({layer3(plan.select_sql)}) l3 WHERE {bad}"
    )
    return StagingSql(all_rows, good_rows, bad_rows)


def _final_columns(plan: Plan, resolving: bool) -> dict[str, str]:
    table = plan.table
    final: dict[str, str] = {}
    for column in table.columns:
        if resolving and column.name == "account_id":
            final[column.name] = "__account"
        elif column.name in plan.values or (
            column.name == "domain" and table.name == "accounts" and "email" in plan.identity
        ):
            final[column.name] = f"__t_{column.name}"
        else:
            final[column.name] = f"CAST(NULL AS {SQL_TYPES[column.type]})"
    if table.name == "events":
        content = ", ".join(
            f"coalesce(CAST({final[c]} AS VARCHAR), '\\N')"
            for c in table.column_names
            if c != "event_id"
        )
        final["event_id"] = (
            f"coalesce({final['event_id']}, 'h:' || md5(concat_ws(chr(31), {content})))"
        )
    return final


def _checks(
    plan: Plan, mapping: Mapping, future_cutoff: dt.datetime, resolving: bool
) -> list[tuple[str, str]]:
    """Return (condition, reason SQL) pairs; a row is bad when any condition is true."""
    table = plan.table
    checks: list[tuple[str, str]] = []
    for column in table.columns:
        name = column.name
        if resolving and name == "account_id":
            checks.append(("__account IS NULL", "__account_reason"))
            continue
        if name not in plan.values:
            continue
        raw = f"NULLIF(CAST({plan.values[name]} AS VARCHAR), '')"
        if column.required:
            checks.append((f"{raw} IS NULL", f"'{name} is missing (required)'"))
        if column.type != "string":
            checks.append(
                (
                    f"__t_{name} IS NULL AND {raw} IS NOT NULL",
                    f"'{name}: \"' || {raw} || '\" is not a valid {column.type}'",
                )
            )
    time_column = table.time_column
    if time_column and time_column in plan.values:
        tolerance = mapping.future_tolerance_days
        value = f"__t_{time_column}"
        checks.append(
            (
                f"{value} > TIMESTAMP '{future_cutoff:%Y-%m-%d %H:%M:%S}'",
                f"'{time_column} ' || CAST({value} AS VARCHAR) || ' is in the future "
                f"(more than {tolerance} day(s) ahead)'",
            )
        )
        checks.append(
            (
                f"{value} < TIMESTAMP '{EARLIEST}'",
                f"'{time_column} ' || CAST({value} AS VARCHAR) || ' is before {EARLIEST}'",
            )
        )
    if plan.require and mapping.require:
        checks.append(
            (
                f"NOT coalesce(CAST({plan.require} AS BOOLEAN), false)",
                quote_literal("fails the mapping requirement: " + mapping.require),
            )
        )
    for rule in rules_for(table.name, set(plan.values)):
        checks.append((rule.condition, quote_literal(rule.reason)))
    return checks


def stage(con: Any, table: CanonicalTable, mapping: Mapping, relation: SourceRelation) -> Plan:
    """Type, resolve and check every row of `relation` into the temporary staged table."""
    plan = build_plan(table, mapping, relation)
    cutoff = utc_now() + dt.timedelta(days=mapping.future_tolerance_days)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGED} AS {staging_sql(plan, mapping, cutoff).all_rows}"
    )
    return plan


def count_staged(con: Any, relation: SourceRelation) -> tuple[int, int, int]:
    """Return (rows staged, rows with a reason, rows the reader rejected)."""
    total, bad = con.execute(f"SELECT count(*), count(_reason) FROM {STAGED}").fetchone()
    rejected = 0
    if relation.rejects_sql:
        rejected = con.execute(f"SELECT count(*) FROM ({relation.rejects_sql})").fetchone()[0]
    return int(total), int(bad), int(rejected)


def insert_good_rows(con: Any, table: CanonicalTable) -> None:
    """Append the staged rows that have no reason and are not duplicates."""
    names = ", ".join(quote_identifier(c) for c in table.column_names)
    dropped = con.execute(f"SELECT count(*) FROM {DROPPED}").fetchone()[0]
    condition = f" AND _line NOT IN (SELECT _line FROM {DROPPED})" if dropped else ""
    con.execute(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {STAGED} "
        f"WHERE _reason IS NULL{condition}"
    )


def quarantine_rows(
    con: Any,
    relation: SourceRelation,
    run_id: str,
    source: str,
    table: str,
    mapping: Mapping,
    bad_sql: str | None = None,
) -> int:
    """Copy rows with a reason and reader rejects into `quarantine`; return how many are new.

    `bad_sql` selects (_line, _raw, reason) of the bad rows; by default, the staged table's.
    A row already quarantined from the same source with the same raw values is not added twice.
    """
    parts = [
        bad_sql or f"SELECT _line, _raw, _reason AS reason FROM {STAGED} WHERE _reason IS NOT NULL"
    ]
    if relation.rejects_sql:
        parts.append(f"SELECT _line, _raw, reason FROM ({relation.rejects_sql})")
    before = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    con.execute(
        "INSERT INTO quarantine (run_id, source, target_table, line, raw, raw_hash, reason, "
        "mapping, quarantined_at, status) "
        "SELECT ?, ?, ?, b._line, b._raw, md5(b._raw), b.reason, ?, ?, 'pending' "
        f"FROM ({' UNION ALL '.join(parts)}) b WHERE NOT EXISTS (SELECT 1 FROM quarantine q "
        "WHERE q.source = ? AND q.target_table = ? AND q.raw_hash = md5(b._raw))",
        [run_id, source, table, mapping.to_json(), utc_now(), source, table],
    )
    return int(con.execute("SELECT count(*) FROM quarantine").fetchone()[0] - before)


def load_direct(
    con: Any,
    relation: SourceRelation,
    table: CanonicalTable,
    mapping: Mapping,
    run_id: str,
    source: str,
    after_row: int | None = None,
) -> LoadReport:
    """Write good rows straight into the table, then remove the ones whose key was taken.

    The fast path for files: no copy of the good rows is materialised. Rows appended in this
    transaction have row ids above every committed row (in no particular order: the reader
    is parallel). A key stored before stays as it is; a key repeated in the file keeps its
    last line, found by a second, numbered scan only when the file repeats a key. Bad rows
    are selected in a second pass only when there are any.
    """
    plan = build_plan(table, mapping, relation)
    cutoff = utc_now() + dt.timedelta(days=mapping.future_tolerance_days)
    queries = staging_sql(plan, mapping, cutoff)
    parsed = relation.count_rows(con)
    old_max = con.execute(f"SELECT max(rowid) FROM {table.name}").fetchone()[0]
    names = ", ".join(quote_identifier(c) for c in table.column_names)
    inserted = int(
        con.execute(f"INSERT INTO {table.name} ({names}) {queries.good_rows}").fetchone()[0]
    )
    old = -1 if old_max is None else int(old_max)
    if table.name == "events":
        number_copies(con, table.name, "rowid", f"rowid > {old}")
    repeated = keep_last_lines(con, table, old, inserted, queries.all_rows)
    dropped, replaced = delete_taken_keys(con, table, old, inserted, after_row)
    repeated += replaced
    duplicates = repeated + dropped
    rejected = 0
    if relation.rejects_sql:
        rejected = int(con.execute(f"SELECT count(*) FROM ({relation.rejects_sql})").fetchone()[0])
    bad = parsed - inserted
    new = 0
    if bad or rejected:
        new = quarantine_rows(con, relation, run_id, source, table.name, mapping, queries.bad_rows)
    return LoadReport(
        source,
        table.name,
        read=parsed + rejected,
        inserted=inserted - duplicates,
        unchanged=duplicates,
        quarantined=bad + rejected,
        repeated=repeated,
        run_id=run_id,
        new_in_quarantine=new,
    )


def load_staged(
    con: Any,
    relation: SourceRelation,
    table: CanonicalTable,
    mapping: Mapping,
    run_id: str,
    source: str,
    quarantine: bool = True,
    options: LoadOptions = CHANGES,
) -> LoadReport:
    """Stage `relation` and write it (inside the caller's transaction); return the counts.

    Keyed tables take changes (`changes.apply_changes`): new keys are inserted, changed rows
    updated. Append-only tables (events) take the direct path (`load_direct`) when they can.
    """
    if table.append_only:
        if options.snapshot:
            raise IngestError(
                f"{relation.label}: {table.name} is append-only; a snapshot source cannot "
                "delete its rows (drop `mode: snapshot` / --snapshot for it)"
            )
        if quarantine and not mapping.prefer:
            return load_direct(con, relation, table, mapping, run_id, source, options.after_row)
    parsed = relation.count_rows(con)
    plan = stage(con, table, mapping, relation)
    total, bad, rejected = count_staged(con, relation)
    assert total == parsed, (total, parsed)
    good = total - bad
    prepare_staged(con, table, mapping)  # owner ids → e-mails, before rows are compared
    if table.append_only:
        if table.name == "events":
            number_copies(con, STAGED, "_line", "_reason IS NULL")
        mark_duplicates(con, table, good)
        unchanged = int(con.execute(f"SELECT count(DISTINCT _line) FROM {DROPPED}").fetchone()[0])
        insert_good_rows(con, table)
        changes = Changes(good - unchanged, 0, unchanged, 0)
    else:
        now = utc_now()
        ordered_by = "updated_at" if "updated_at" in plan.values else None
        filled = set(plan.values) | _derived_columns(plan)
        mapped = [c for c in table.column_names if c in filled]
        changes = apply_changes(
            con, table, mapped, good, run_id, now, options, ordered_by, relation.label
        )
        if table.name == "accounts":
            reconcile_history(con, now, run_id)
    new = quarantine_rows(con, relation, run_id, source, table.name, mapping) if quarantine else 0
    return LoadReport(
        source,
        table.name,
        read=total + rejected,
        inserted=changes.inserted,
        updated=changes.updated,
        unchanged=changes.unchanged,
        quarantined=bad + rejected,
        deleted=changes.deleted,
        repeated=changes.repeated,
        run_id=run_id,
        new_in_quarantine=new,
    )


def _resolving(plan: Plan) -> bool:
    """True when the plan finds rows' accounts by identity (or checks an explicit id)."""
    table = plan.table
    return (
        table.name != "accounts"
        and table.column("account_id") is not None
        and (bool(plan.identity) or "account_id" in plan.values)
    )


def _derived_columns(plan: Plan) -> set[str]:
    """Columns filled without a mapped value: a resolved account, a domain from e-mails."""
    derived = {"account_id"} if _resolving(plan) else set()
    if plan.table.name == "accounts" and "email" in plan.identity:
        derived.add("domain")
    return derived


def drop_staging(con: Any) -> None:
    """Drop the temporary tables of a load."""
    for name in (STAGED, DROPPED, REPEATED, "_vs_lines", "_vs_reject_gaps", "_vs_reject_raw"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
