"""Write staged rows into a keyed table as changes: insert new keys, update changed rows.

A staged row whose key is new is inserted; one whose key exists is compared on the columns
its mapping fills (the others are left as they are): identical rows are unchanged, others
update the stored row. When a file holds a key several times, the row its `prefer` rule
ranks first wins, else the last one (a later line is a later change); the other copies
count as unchanged, and so does a row whose only change is its `updated_at`, or whose
`updated_at` is older than the stored row's (an earlier export loaded again). A snapshot
source (`mode: snapshot`) also marks keys it no longer holds as deleted (`deleted_at`),
refusing to drop more than a share of the live rows at once.
Everything runs in the caller's transaction. Events are append-only and never come here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from vitalsign.errors import IngestError
from vitalsign.ingest.readers import quote_identifier
from vitalsign.model.canonical import DELETED_AT, CanonicalTable

STAGED = "_vs_staged"
DROPPED = "_vs_dropped"
WINNERS = "_vs_winners"
CHANGED_AT = "updated_at"  # when mapped, the source's last-modified time of a row


@dataclass(frozen=True)
class LoadOptions:
    """How a load treats keys: `snapshot` marks absent keys deleted, within a share.

    `after_row` is set by a load read in batches: the largest row id before its first batch,
    so that a key an earlier batch wrote is a repeat (the last copy wins), not a stored key.
    """

    snapshot: bool = False
    allow_deletes: bool = False
    max_delete_share: float = 0.2
    after_row: int | None = None


CHANGES = LoadOptions()  # the default: a source of changes, nothing deleted


@dataclass(frozen=True)
class Changes:
    """What writing the good staged rows did."""

    inserted: int
    updated: int
    unchanged: int
    deleted: int
    repeated: int = 0  # of the unchanged: earlier copies of keys the source repeats


def _key_text(table: CanonicalTable, alias: str) -> str:
    """SQL of a row's key as one text (for ingest_changes)."""
    parts = [f"CAST({alias}.{quote_identifier(k)} AS VARCHAR)" for k in table.key]
    return parts[0] if len(parts) == 1 else f"concat_ws('|', {', '.join(parts)})"


def _match(table: CanonicalTable, left: str, right: str) -> str:
    return " AND ".join(
        f"{left}.{quote_identifier(k)} = {right}.{quote_identifier(k)}" for k in table.key
    )


def apply_changes(
    con: Any,
    table: CanonicalTable,
    mapped: list[str],
    good: int,
    run_id: str,
    now: dt.datetime,
    options: LoadOptions,
    ordered_by: str | None = None,
    label: str = "",
) -> Changes:
    """Insert, update or skip each good staged row; fill DROPPED with unchanged rows' lines.

    `mapped` names the columns the source fills; `ordered_by` (e.g. updated_at) breaks ties
    between copies of a key before the line order.
    """
    if table.append_only:  # pragma: no cover - a bug: events take the append path
        raise AssertionError(f"{table.name} is append-only")
    key = ", ".join(quote_identifier(k) for k in table.key)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DROPPED} (_line BIGINT)")
    distinct = con.execute(
        f"SELECT count(DISTINCT ({key})) FROM {STAGED} WHERE _reason IS NULL"
    ).fetchone()[0]
    order = ["_prefer DESC NULLS LAST"]
    if ordered_by:
        order.append(f"{quote_identifier(ordered_by)} DESC NULLS LAST")
    order.append("_line DESC")
    if distinct != good:
        con.execute(
            f"INSERT INTO {DROPPED} SELECT _line FROM {STAGED} WHERE _reason IS NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(order)}) > 1"
        )
    superseded = good - int(distinct)
    winners = f"SELECT * FROM {STAGED} WHERE _reason IS NULL" + (
        f" AND _line NOT IN (SELECT _line FROM {DROPPED})" if superseded else ""
    )
    compared = [c for c in mapped if c not in table.key]
    # a new last-modified time alone is no change: the values are what count
    values = [c for c in compared if c != CHANGED_AT]
    same = " AND ".join(
        [f"s.{quote_identifier(c)} IS NOT DISTINCT FROM t.{quote_identifier(c)}" for c in values]
        + [f"t.{DELETED_AT} IS NULL"]
    )
    # a row older than the stored one (an earlier export loaded again) changes nothing
    older = f"s.{CHANGED_AT} < t.{CHANGED_AT}" if CHANGED_AT in compared else "false"
    changed = (
        "concat_ws(', ', "
        + ", ".join(
            [
                f"CASE WHEN s.{quote_identifier(c)} IS DISTINCT FROM t.{quote_identifier(c)} "
                f"THEN '{c}' END"
                for c in values
            ]
            + [f"CASE WHEN t.{DELETED_AT} IS NOT NULL THEN 'restored' END"]
        )
        + ")"
    )
    first_key = quote_identifier(table.key[0])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {WINNERS} AS SELECT s.*, CASE "
        f"WHEN t.{first_key} IS NULL THEN 'insert' WHEN {older} OR ({same}) THEN 'same' "
        "ELSE 'update' END "
        f"AS _action, CASE WHEN t.{first_key} IS NOT NULL AND NOT ({same}) THEN {changed} END "
        f"AS _changed FROM ({winners}) s LEFT JOIN {table.name} t ON {_match(table, 's', 't')}"
    )
    # deletions first: the share is measured against the live rows before this run's inserts
    deleted = _delete_absent(con, table, run_id, now, options, label) if options.snapshot else 0
    counts = dict(con.execute(f"SELECT _action, count(*) FROM {WINNERS} GROUP BY 1").fetchall())
    inserted, updated = int(counts.get("insert", 0)), int(counts.get("update", 0))
    unchanged = int(counts.get("same", 0)) + superseded
    if counts.get("same"):
        con.execute(f"INSERT INTO {DROPPED} SELECT _line FROM {WINNERS} WHERE _action = 'same'")
    if updated:
        assignments = ", ".join(
            f"{quote_identifier(c)} = w.{quote_identifier(c)}" for c in compared
        )
        con.execute(
            f"UPDATE {table.name} SET {assignments}{', ' if assignments else ''}"
            f"{DELETED_AT} = NULL FROM (SELECT * FROM {WINNERS} WHERE _action = 'update') w "
            f"WHERE {_match(table, table.name, 'w')}"
        )
        con.execute(
            "INSERT INTO ingest_changes SELECT ?, ?, "
            f"{_key_text(table, 'w')}, 'updated', w._changed FROM {WINNERS} w "
            "WHERE w._action = 'update'",
            [run_id, table.name],
        )
    if inserted:
        names = ", ".join(quote_identifier(c) for c in table.column_names)
        con.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {WINNERS} "
            "WHERE _action = 'insert'"
        )
    con.execute(f"DROP TABLE IF EXISTS {WINNERS}")
    return Changes(inserted, updated, unchanged, deleted, superseded)


def _delete_absent(
    con: Any,
    table: CanonicalTable,
    run_id: str,
    now: dt.datetime,
    options: LoadOptions,
    label: str,
) -> int:
    """Mark live keys absent from the snapshot deleted; refuse too large a share."""
    absent = (
        f"FROM {table.name} t WHERE t.{DELETED_AT} IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {STAGED} s WHERE {_match(table, 's', 't')})"
    )
    live = int(
        con.execute(f"SELECT count(*) FROM {table.name} WHERE {DELETED_AT} IS NULL").fetchone()[0]
    )
    missing = int(con.execute(f"SELECT count(*) {absent}").fetchone()[0])
    if not missing:
        return 0
    share = missing / live if live else 0.0
    if share > options.max_delete_share and not options.allow_deletes:
        raise IngestError(
            f"{label}: this snapshot of {table.name} lacks {missing} of its {live} live rows "
            f"({share:.0%}, more than the {options.max_delete_share:.0%} allowed at once): "
            "nothing was changed. If the source really dropped them, load the file with "
            "`vitalsign ingest FILE --snapshot --allow-deletes`, or, for a source declared in "
            "vitalsign.yml, raise its `max_delete_share` for one sync"
        )
    con.execute(
        f"INSERT INTO ingest_changes SELECT ?, ?, {_key_text(table, 't')}, 'deleted', '' {absent}",
        [run_id, table.name],
    )
    con.execute(
        f"UPDATE {table.name} SET {DELETED_AT} = ? WHERE {DELETED_AT} IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {STAGED} s WHERE {_match(table, 's', table.name)})",
        [now],
    )
    return missing
