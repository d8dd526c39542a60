"""Keys an append-only load repeats: the file's last line wins, stored rows never change.

Good rows are appended straight into the table (see `staging.load_direct`); their row ids
are above every committed row but, the reader being parallel, not in file order. So a key
the file repeats is resolved by line number, in a second scan made only when there is one.
"""

from __future__ import annotations

from typing import Any

from vitalsign.ingest.changes import DROPPED, STAGED
from vitalsign.ingest.readers import quote_identifier
from vitalsign.model.canonical import CanonicalTable

REPEATED = "_vs_repeated"


def keep_last_lines(
    con: Any, table: CanonicalTable, old_max: int, inserted: int, all_rows: str
) -> int:
    """Keep only the last line of each key the file repeats; return how many were dropped."""
    if not inserted:
        return 0
    key = ", ".join(quote_identifier(k) for k in table.key)
    new = f"rowid > {old_max}"
    distinct = con.execute(
        f"SELECT count(DISTINCT hash({key})) FROM {table.name} WHERE {new}"
    ).fetchone()[0]
    if distinct == inserted:
        return 0
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {REPEATED} AS SELECT {key} FROM {table.name} "
        f"WHERE {new} GROUP BY ALL HAVING count(*) > 1"
    )
    con.execute(
        f"DELETE FROM {table.name} WHERE {new} AND EXISTS "
        f"(SELECT 1 FROM {REPEATED} r WHERE {match_keys(table, 'r', table.name)})"
    )
    names = ", ".join(quote_identifier(c) for c in table.column_names)
    con.execute(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM ({all_rows}) s "
        f"WHERE _reason IS NULL AND EXISTS (SELECT 1 FROM {REPEATED} r WHERE "
        f"{match_keys(table, 'r', 's')}) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _line DESC) = 1"
    )
    con.execute(f"DROP TABLE {REPEATED}")
    return inserted - int(distinct)


def match_keys(table: CanonicalTable, left: str, right: str) -> str:
    return " AND ".join(
        f"{left}.{quote_identifier(k)} = {right}.{quote_identifier(k)}" for k in table.key
    )


def delete_taken_keys(
    con: Any, table: CanonicalTable, old_max: int, inserted: int, after_row: int | None = None
) -> tuple[int, int]:
    """Delete appended rows whose key was stored before this load; return (dropped, replaced).

    Stored rows never change. In a load read in batches (`after_row`: the largest row id
    before its first batch), a key that an earlier batch wrote is a repeat: the earlier copy
    is deleted (`replaced`), so the last copy wins as within one file.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DROPPED} (_line BIGINT)")
    stored = old_max if after_row is None else min(after_row, old_max)
    replaced = 0
    names = [quote_identifier(k) for k in table.key]
    key = names[0] if len(names) == 1 else f"row({', '.join(names)})"
    if inserted and stored < old_max:  # an IN list of the batch's keys: one cheap scan
        earlier = (
            f"rowid > {stored} AND rowid <= {old_max} AND "
            f"{key} IN (SELECT {key} FROM {table.name} WHERE rowid > {old_max})"
        )
        # counted first: a DELETE, even of nothing, stops DuckDB from writing the rest of the
        # transaction's appends to disk as it goes (memory then grows with the load)
        if con.execute(f"SELECT count(*) FROM {table.name} WHERE {earlier}").fetchone()[0]:
            replaced = int(con.execute(f"DELETE FROM {table.name} WHERE {earlier}").fetchone()[0])
    if not inserted or stored < 0:
        return 0, replaced
    con.execute(
        f"INSERT INTO {DROPPED} SELECT n.rowid FROM {table.name} n WHERE n.rowid > {old_max} "
        f"AND EXISTS (SELECT 1 FROM {table.name} o WHERE o.rowid <= {stored} AND "
        f"{match_keys(table, 'o', 'n')})"
    )
    dropped = int(con.execute(f"SELECT count(*) FROM {DROPPED}").fetchone()[0])
    if dropped:
        con.execute(f"DELETE FROM {table.name} WHERE rowid IN (SELECT _line FROM {DROPPED})")
    return dropped, replaced


def mark_duplicates(con: Any, table: CanonicalTable, good: int) -> None:
    """Fill the dropped table with the lines of good rows whose key is already taken."""
    key = ", ".join(quote_identifier(k) for k in table.key)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DROPPED} (_line BIGINT)")
    distinct = con.execute(
        f"SELECT count(DISTINCT hash({key})) FROM {STAGED} WHERE _reason IS NULL"
    ).fetchone()[0]
    if distinct != good:
        con.execute(
            f"INSERT INTO {DROPPED} SELECT _line FROM (SELECT _line, row_number() OVER "
            f"(PARTITION BY {key} ORDER BY _prefer DESC NULLS LAST, _line DESC) AS _n "
            f"FROM {STAGED} WHERE _reason IS NULL) WHERE _n > 1"
        )
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table.name} LIMIT 1)").fetchone()[0]:
        match = " AND ".join(
            f"t.{quote_identifier(k)} = s.{quote_identifier(k)}" for k in table.key
        )
        con.execute(
            f"INSERT INTO {DROPPED} SELECT s._line FROM {STAGED} s WHERE s._reason IS NULL "
            f"AND EXISTS (SELECT 1 FROM {table.name} t WHERE {match}) "
            f"AND s._line NOT IN (SELECT _line FROM {DROPPED})"
        )
