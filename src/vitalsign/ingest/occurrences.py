"""Identical events without an id stay apart: copies in one source are numbered `:2`, `:3`…

An event row without an `event_id` gets `h:` + the MD5 of its other columns (see
`staging`). Two identical rows of one file, database query or API request are two real
events (a user who clicked twice in the same second), so the copies are numbered by
occurrence: `h:<md5>`, `h:<md5>:2`, `h:<md5>:3`… The first copy keeps the plain hash, so ids
stored before numbering existed still match. The numbers depend only on how many identical
rows the source holds (identical rows cannot be told apart, so their order does not matter):
loading the same source again gives the same ids and adds nothing, and a source with one
more copy adds exactly one. A database load read in batches counts copies across its
batches in `OCCURRENCES`.
"""

from __future__ import annotations

from typing import Any

GENERATED = "regexp_full_match(event_id, 'h:[0-9a-f]{32}')"
OCCURRENCES = "_vs_occurrences"  # (event_id, n): generated ids seen in earlier batches
COPIES = "_vs_copies"


def start_counting(con: Any) -> None:
    """Start counting generated ids across the batches of one load."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {OCCURRENCES} (event_id VARCHAR, n BIGINT)")


def counting(con: Any) -> bool:
    """True when a load in batches is counting generated ids (`start_counting`)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [OCCURRENCES]
    ).fetchone()[0]
    return bool(found)


def stop_counting(con: Any) -> None:
    """Forget the counts of a load in batches."""
    con.execute(f"DROP TABLE IF EXISTS {OCCURRENCES}")


def number_copies(con: Any, relation: str, row: str, where: str) -> int:
    """Number the copies of generated ids among `relation`'s rows `where`; return how many.

    `row` names a column that tells the rows apart (`rowid` of the events table, `_line`
    of a staged table). Copies already seen in earlier batches of the same load count first.
    """
    batch = f"{where} AND {GENERATED}"
    counted = counting(con)
    if not counted:
        repeats = con.execute(
            f"SELECT count(*) - count(DISTINCT event_id) FROM {relation} WHERE {batch}"
        ).fetchone()[0]
        if not repeats:
            return 0
    con.execute(  # each generated id of the batch and its copies, counted once
        f"CREATE OR REPLACE TEMP TABLE {COPIES}_ids AS SELECT event_id, count(*) AS n "
        f"FROM {relation} WHERE {batch} GROUP BY event_id"
    )
    seen = f"LEFT JOIN {OCCURRENCES} o USING (event_id)" if counted else ""
    before = "coalesce(sum(o.n), 0)" if counted else "0"
    also_seen = " OR count(o.n) > 0" if counted else ""
    order = "row_number() OVER (PARTITION BY r.event_id ORDER BY r._row)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {COPIES} AS SELECT r._row, c.before + {order} AS _k, "
        f"r.event_id FROM (SELECT {row} AS _row, event_id FROM {relation} WHERE {batch}) r "
        f"JOIN (SELECT b.event_id, {before} AS before FROM {COPIES}_ids b {seen} "
        f"GROUP BY b.event_id, b.n HAVING b.n > 1{also_seen}) c USING (event_id)"
    )
    if counted:
        con.execute(f"INSERT INTO {OCCURRENCES} SELECT event_id, n FROM {COPIES}_ids")
    con.execute(f"DROP TABLE {COPIES}_ids")
    numbered = int(con.execute(f"SELECT count(*) FROM {COPIES} WHERE _k > 1").fetchone()[0])
    if numbered:
        con.execute(
            f"UPDATE {relation} SET event_id = c.event_id || ':' || c._k FROM {COPIES} c "
            f"WHERE {relation}.{row} = c._row AND c._k > 1"
        )
    con.execute(f"DROP TABLE {COPIES}")
    return numbered
