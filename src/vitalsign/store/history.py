"""Every version of every account, so attributes can be read as they were in force at T.

`accounts` holds the current state; `account_history` one row per version, with
`valid_from` (NULL for the first version: it is taken to be in force since the beginning,
so a first export can be backfilled) and `valid_to` (NULL for the current version). A
version is in force at T when `valid_from <= T < valid_to`. Changes are dated by the
source's `updated_at` when it moved forward, else by the time vitalsign recorded them.

Callers run these inside their own transaction, so a failed run leaves no half-written
history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from vitalsign.model.canonical import DELETED_AT
from vitalsign.store.transaction import transaction

CHANGED = "_vs_history_changed"
DATED = "_vs_history_dated"
DATED_FACTS = ("churned_at",)
"""Columns holding the time of a fact: a new value is true from that time, not from now;
a changed or cleared one is corrected from the earlier of the two times."""


def _columns(con: Any) -> list[str]:
    """The accounts columns that account_history mirrors (custom fields included)."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'accounts' ORDER BY column_index"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _distinct(columns: list[str], left: str, right: str) -> str:
    return " OR ".join(f"{left}.{c} IS DISTINCT FROM {right}.{c}" for c in columns)


def reconcile_history(con: Any, now: dt.datetime, run_id: str = "") -> int:
    """Add a version for every account whose row differs from its current version.

    New accounts get a first version; changed ones a version from `updated_at` (when it moved
    past the current version's start) or `now`; accounts removed from `accounts` get a last
    version with `deleted_at` set. Returns the number of versions added.
    """
    columns = _columns(con)
    names = ", ".join(columns)
    a_names = ", ".join(f"a.{c}" for c in columns)
    added = 0
    added += _count(
        con,
        f"INSERT INTO account_history ({names}, valid_from, valid_to, recorded_at, run_id) "
        f"SELECT {a_names}, NULL, NULL, ?, ? FROM accounts a WHERE NOT EXISTS "
        "(SELECT 1 FROM account_history h WHERE h.account_id = a.account_id)",
        [now, run_id],
    )
    # a dated fact holds from its date; a moved or cleared one is corrected from the earlier
    # of the old and new dates (a CRM's cleared churn date means it never churned then)
    dated = [
        f"SELECT a.account_id, coalesce(least(a.{c}, h.{c}), a.{c}, h.{c}) AS valid_from, "
        f"a.{c} AS value, '{c}' AS col FROM accounts a "
        "JOIN account_history h ON h.account_id = a.account_id AND h.valid_to IS NULL "
        f"WHERE a.{c} IS DISTINCT FROM h.{c} AND coalesce(a.{c}, h.{c}) < ?"
        for c in DATED_FACTS
        if c in columns
    ]
    if dated:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _vs_history_facts AS {' UNION ALL '.join(dated)}",
            [now] * len(dated),
        )
    moved = (
        "a.updated_at IS NOT NULL AND a.updated_at IS DISTINCT FROM h.updated_at "
        "AND (h.valid_from IS NULL OR a.updated_at > h.valid_from) AND a.updated_at <= ?"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS SELECT a.account_id, "
        f"CASE WHEN {moved} THEN a.updated_at "
        "ELSE greatest(?, coalesce(h.valid_from, ?)) END AS valid_from "
        "FROM accounts a JOIN account_history h "
        "ON h.account_id = a.account_id AND h.valid_to IS NULL "
        f"WHERE {_distinct([c for c in columns if c != 'updated_at'], 'a', 'h')}",
        [now, now, now],
    )
    if con.execute(f"SELECT count(*) FROM {CHANGED}").fetchone()[0]:
        con.execute(
            f"UPDATE account_history h SET valid_to = c.valid_from FROM {CHANGED} c "
            "WHERE h.account_id = c.account_id AND h.valid_to IS NULL"
        )
        added += _count(
            con,
            f"INSERT INTO account_history ({names}, valid_from, valid_to, recorded_at, run_id) "
            f"SELECT {a_names}, c.valid_from, NULL, ?, ? FROM accounts a "
            f"JOIN {CHANGED} c ON c.account_id = a.account_id",
            [now, run_id],
        )
    added += _close_removed(con, columns, now, run_id)
    con.execute(f"DROP TABLE IF EXISTS {CHANGED}")
    for column in DATED_FACTS if dated else ():  # e.g. a churn recorded today, true since X
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {DATED} AS SELECT account_id, valid_from, "
            "value FROM _vs_history_facts WHERE col = ?",
            [column],
        )
        added += _split_from(con, column, now)
    con.execute("DROP TABLE IF EXISTS _vs_history_facts")
    return added


def bring_up_to_date(con: Any) -> int:
    """Record, in its own transaction, account changes made outside ingest (before scoring)."""
    with transaction(con):
        return reconcile_history(con, dt.datetime.now(dt.UTC).replace(tzinfo=None))


def _close_removed(con: Any, columns: list[str], now: dt.datetime, run_id: str) -> int:
    """Give accounts deleted from `accounts` (by hand) a last version marked deleted."""
    # every account now has a current version equal to its row, so when the live current
    # versions are as many as the live accounts, none was removed (two counts, no anti-join)
    live = con.execute(
        "SELECT (SELECT count(*) FROM account_history WHERE valid_to IS NULL AND "
        f"{DELETED_AT} IS NULL), (SELECT count(*) FROM accounts WHERE {DELETED_AT} IS NULL)"
    ).fetchone()
    if live[0] == live[1]:
        return 0
    gone = (
        "FROM account_history h WHERE h.valid_to IS NULL AND h.deleted_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM accounts a WHERE a.account_id = h.account_id)"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS SELECT h.account_id {gone}")
    keep = ", ".join(c for c in columns if c != DELETED_AT)
    h_keep = ", ".join(f"h.{c}" for c in columns if c != DELETED_AT)
    con.execute(
        f"UPDATE account_history h SET valid_to = greatest(?, coalesce(h.valid_from, ?)) "
        f"FROM {CHANGED} c WHERE h.account_id = c.account_id AND h.valid_to IS NULL",
        [now, now],
    )
    return _count(
        con,
        f"INSERT INTO account_history ({keep}, {DELETED_AT}, valid_from, valid_to, recorded_at, "
        f"run_id) SELECT {h_keep}, h.valid_to, h.valid_to, NULL, ?, ? FROM account_history h "
        f"JOIN {CHANGED} c ON c.account_id = h.account_id "
        "QUALIFY row_number() OVER (PARTITION BY h.account_id ORDER BY h.valid_to DESC) = 1",
        [now, run_id],
    )


def apply_from(con: Any, changes_sql: str, column: str, now: dt.datetime | None = None) -> int:
    """Set `column` from a point in time on; return how many accounts changed.

    `changes_sql` selects (account_id, valid_from, value). The version in force at
    `valid_from` is split there; it and every later version, and the `accounts` row, get
    the value. Used for facts dated in the past, such as a churn derived from billing.
    """
    if column not in _columns(con):
        raise ValueError(f"accounts has no column {column!r}")
    recorded = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    reconcile_history(con, recorded)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DATED} AS SELECT c.account_id, "
        "CAST(c.valid_from AS TIMESTAMP) AS valid_from, c.value "
        f"FROM ({changes_sql}) c(account_id, valid_from, value) "
        "JOIN accounts a ON a.account_id = c.account_id "
        f"WHERE a.{column} IS DISTINCT FROM c.value"
    )
    return _split_from(con, column, recorded)


def _split_from(con: Any, column: str, recorded: dt.datetime) -> int:
    """Give `column` its value from each DATED row's valid_from on, splitting the version."""
    changed = int(con.execute(f"SELECT count(*) FROM {DATED}").fetchone()[0])
    if not changed:
        con.execute(f"DROP TABLE IF EXISTS {DATED}")
        return 0
    columns = _columns(con)
    names = ", ".join(columns)
    split = [f"c.value AS {c}" if c == column else f"h.{c}" for c in columns]
    in_force = (
        "h.account_id = c.account_id AND (h.valid_from IS NULL OR h.valid_from < c.valid_from) "
        "AND (h.valid_to IS NULL OR h.valid_to > c.valid_from)"
    )
    # the later part of the version in force at valid_from, with the new value
    con.execute(
        f"INSERT INTO account_history ({names}, valid_from, valid_to, recorded_at, run_id) "
        f"SELECT {', '.join(split)}, c.valid_from, h.valid_to, ?, h.run_id "
        f"FROM account_history h JOIN {DATED} c ON {in_force}",
        [recorded],
    )
    con.execute(
        f"UPDATE account_history h SET valid_to = c.valid_from FROM {DATED} c WHERE {in_force}"
    )
    con.execute(
        f"UPDATE account_history h SET {column} = c.value FROM {DATED} c "
        "WHERE h.account_id = c.account_id AND h.valid_from >= c.valid_from"
    )
    con.execute(
        f"UPDATE accounts a SET {column} = c.value FROM {DATED} c "
        f"WHERE a.account_id = c.account_id AND a.{column} IS DISTINCT FROM c.value"
    )
    con.execute(f"DROP TABLE IF EXISTS {DATED}")
    return changed


def _count(con: Any, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def attributes_as_of(con: Any, as_of: dt.datetime) -> Any:
    """Return a DuckDB relation of every account's version in force at `as_of` (for people)."""
    return con.sql(
        "SELECT * EXCLUDE (valid_from, valid_to, recorded_at, run_id) FROM account_history "
        f"WHERE (valid_from IS NULL OR valid_from <= TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}') "
        f"AND (valid_to IS NULL OR valid_to > TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}')"
    )
