"""Account data for pages and API: the filtered, sorted, paged list, and one account's history.

Query shapes matter at 100,000 accounts × a year of weekly snapshots (docs/benchmarks.md):
- an account's history filters on `account_id` alone, so DuckDB answers it from the
  `web_scores_account` index (a second condition in the same WHERE turns the index off);
- a snapshot's rows filter on `snapshot_date` first, which the table's zonemaps prune.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vitalsign.analytics.renewals import NEXT_RENEWAL_SQL
from vitalsign.errors import SnapshotError, VitalsignError
from vitalsign.web.access import Principal, scope_filter

MAX_PAGE = 1_000_000  # bounds page numbers: offsets stay inside 64 bits (422, never 500)
SORTS = {
    "score": "score",
    "name": "name",
    "arr": "arr",
    "account": "account_id",
    "change": "change",
    "coverage": "coverage",
    "renewal": "renewal_date",
}
SPARKLINE_SNAPSHOTS = 12  # the list's sparkline: each account's score on the last 12 snapshots
LIST_COLUMNS = [
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "score",
    "band",
    "computed_band",
    "coverage",
    "gate_pass",
    "flags",
    "previous_score",
    "change",
    "renewal_date",
]


@dataclass(frozen=True)
class AccountQuery:
    """Filters, sort and page of the account list."""

    band: str | None = None
    owner: str | None = None
    segment: str | None = None
    search: str | None = None
    sort: str = "score"
    descending: bool = False
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class AccountPage:
    """One page of accounts and how many match in all."""

    as_of: dt.date
    previous: dt.date | None
    rows: list[dict[str, Any]]
    total: int
    query: AccountQuery

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, math.ceil(self.total / self.query.per_page))


def plain(value: Any) -> Any:
    """Return a JSON-ready value: NaN and NaT → None, dates → ISO text, numpy scalars → Python."""
    if value is None or value is pd.NaT:  # NaT.isoformat() is the text "NaT"
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return plain(value.item())
    return value


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_accounts(
    connection: Any,
    principal: Principal,
    model_name: str,
    as_of: dt.date,
    previous: dt.date | None,
    query: AccountQuery,
    snapshot_dates: Sequence[dt.date] | None = None,
) -> AccountPage:
    """Return one page of the snapshot's accounts that the user may see.

    `snapshot_dates` (the model's, e.g. from the web's snapshot catalog) spares the sparkline
    a scan of the history for them.
    """
    if query.sort not in SORTS:
        raise VitalsignError(f"sort {query.sort!r}: use one of {', '.join(SORTS)}")
    scope, params = scope_filter(principal, "s.account_id")
    where = ["s.model_name = ?", "s.snapshot_date = ?", scope]
    args: list[Any] = [model_name, as_of, *params]
    if query.band:
        where.append("s.band = ?")
        args.append(query.band)
    if query.owner:
        where.append("coalesce(a.owner, s.owner) = ?")
        args.append(query.owner)
    if query.segment:
        where.append("s.segment = ?")
        args.append(query.segment)
    if query.search:
        where.append("(s.name ILIKE ? ESCAPE '\\' OR s.account_id ILIKE ? ESCAPE '\\')")
        args += [_like(query.search), _like(query.search)]
    direction = "DESC" if query.descending else "ASC"
    offset = (max(query.page, 1) - 1) * query.per_page
    sql = f"""
        WITH current AS (
            SELECT s.account_id, s.name, coalesce(a.owner, s.owner) AS owner, s.segment, s.arr,
                   s.score, s.band, s.computed_band, s.coverage, s.gate_pass, s.flags,
                   {NEXT_RENEWAL_SQL} AS renewal_date
            FROM scores s LEFT JOIN accounts a ON a.account_id = s.account_id
            WHERE {" AND ".join(where)}
        ),
        before AS (
            SELECT account_id, score AS previous_score FROM scores
            WHERE model_name = ? AND snapshot_date = ?
        )
        SELECT c.*, b.previous_score, c.score - b.previous_score AS change,
               count(*) OVER () AS total
        FROM current c LEFT JOIN before b ON b.account_id = c.account_id
        ORDER BY {SORTS[query.sort]} {direction} NULLS LAST, c.account_id
        LIMIT ? OFFSET ?
    """
    args = [as_of, as_of, *args, model_name, previous, query.per_page, offset]
    frame = connection.execute(sql, args).df()
    total = int(frame["total"].iloc[0]) if len(frame) else _count(connection, sql, args)
    rows = [
        {k: plain(v) for k, v in zip(LIST_COLUMNS, r, strict=True)}
        for r in frame[LIST_COLUMNS].itertuples(index=False)
    ]
    ids = [r["account_id"] for r in rows]
    recent = recent_scores(connection, model_name, as_of, ids, snapshot_dates=snapshot_dates)
    for row in rows:
        row["flags"] = json.loads(row["flags"]) if row["flags"] else []
        renewal = row["renewal_date"] = row["renewal_date"] and row["renewal_date"][:10]
        row["days_to_renewal"] = (
            None if renewal is None else (dt.date.fromisoformat(renewal) - as_of).days
        )
        row["recent_scores"] = recent.get(row["account_id"], [])
    return AccountPage(as_of=as_of, previous=previous, rows=rows, total=total, query=query)


def _count(connection: Any, sql: str, args: list[Any]) -> int:
    """Count the matches when the requested page is past the end."""
    inner = sql.rsplit("ORDER BY", 1)[0]
    row = connection.execute(f"SELECT count(*) FROM ({inner})", args[:-2]).fetchone()
    return int(row[0]) if row else 0


def recent_scores(
    connection: Any,
    model_name: str,
    as_of: dt.date,
    account_ids: list[str],
    snapshots: int = SPARKLINE_SNAPSHOTS,
    snapshot_dates: Sequence[dt.date] | None = None,
) -> dict[str, list[float | None]]:
    """Return each account's scores on the last `snapshots` snapshots up to `as_of`, oldest first.

    An account not scored on one of those dates has None there (a gap in its sparkline).
    `snapshot_dates` are the model's snapshot dates when the caller knows them (else read).
    """
    if not account_ids:
        return {}
    if snapshot_dates is None:
        snapshot_dates = [
            r[0]
            for r in connection.execute(
                "SELECT DISTINCT snapshot_date FROM scores WHERE model_name = ?", [model_name]
            ).fetchall()
        ]
    dates = sorted(d for d in snapshot_dates if d <= as_of)[-snapshots:]
    if not dates:
        return {a: [] for a in account_ids}
    # a date range (zonemaps prune it) and list_contains: half the time of two IN subqueries
    rows = connection.execute(
        "SELECT account_id, snapshot_date, score FROM scores "
        "WHERE snapshot_date BETWEEN ? AND ? AND model_name = ? "
        "AND list_contains(?::VARCHAR[], account_id)",
        [dates[0], dates[-1], model_name, account_ids],
    ).fetchall()
    found = {(a, d): plain(v) for a, d, v in rows}
    return {a: [found.get((a, d)) for d in dates] for a in account_ids}


def filter_choices(
    connection: Any, principal: Principal, model_name: str, as_of: dt.date
) -> dict[str, list[str]]:
    """Return the owners and segments present in the snapshot (for the list's filters)."""
    scope, params = scope_filter(principal, "s.account_id")
    rows = connection.execute(
        f"""SELECT DISTINCT coalesce(a.owner, s.owner) AS owner, s.segment
            FROM scores s LEFT JOIN accounts a ON a.account_id = s.account_id
            WHERE s.model_name = ? AND s.snapshot_date = ? AND {scope}""",
        [model_name, as_of, *params],
    ).fetchall()
    return {
        "owners": sorted({r[0] for r in rows if r[0]}),
        "segments": sorted({r[1] for r in rows if r[1]}),
    }


CHART_COLUMNS = ["snapshot_date", "model_name", "model_hash", "score", "band", "computed_band"]
HISTORY_COLUMNS = [
    "snapshot_date",
    "score",
    "base_score",
    "band",
    "computed_band",
    "coverage",
    "gate_pass",
    "flags",
    "model_name",
    "model_hash",
]


def account_history(
    connection: Any, model_name: str, account_id: str, columns: list[str] = CHART_COLUMNS
) -> list[dict[str, Any]]:
    """Return one account's snapshot rows under one model, oldest first.

    Each column costs a read per snapshot date: ask only for what is shown.
    """
    wanted = list(dict.fromkeys(["snapshot_date", "model_name", *columns]))
    cursor = connection.execute(
        f"SELECT {', '.join(wanted)} FROM scores WHERE account_id = ?", [account_id]
    )
    rows = [dict(zip(wanted, r, strict=True)) for r in cursor.fetchall()]
    history = sorted(
        (r for r in rows if r["model_name"] == model_name), key=lambda r: r["snapshot_date"]
    )
    if not history:
        raise SnapshotError(
            f"unknown account {account_id!r}: it has no score under model {model_name!r}"
        )
    return history


def score_row(connection: Any, model_name: str, account_id: str, as_of: dt.date) -> dict[str, Any]:
    """Return the full score row of one account on one snapshot date."""
    cursor = connection.execute(
        "SELECT * FROM scores WHERE snapshot_date = ? AND account_id = ? AND model_name = ?",
        [as_of, account_id, model_name],
    )
    found = cursor.fetchone()
    if found is None:
        raise SnapshotError(f"account {account_id!r} was not scored on {as_of} (not active then)")
    return dict(zip([d[0] for d in cursor.description], found, strict=True))


def history_records(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the history as JSON-ready rows."""
    records = []
    for row in history:
        record = {k: plain(row[k]) for k in HISTORY_COLUMNS if k in row}
        if "flags" in record:
            record["flags"] = json.loads(record["flags"]) if record["flags"] else []
        records.append(record)
    return records
