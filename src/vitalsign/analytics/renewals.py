"""Renewals: which accounts renew in the next 30/60/90/180 days, in which band, and ARR at risk.

The next renewal as of a date T follows the engine's `days_to_renewal`: `accounts.renewal_date`
holds the next renewal as of today, so as of an earlier T it is rolled back by whole 365-day
terms to the first one on or after T; a renewal date before T is overdue (negative days).
Bands, scores and ARR are those of the snapshot on T; owner as the accounts table has it now
(as the account list shows it).

>>> day = dt.date(2025, 12, 1)
>>> report = renewals_report(ws.duckdb, "default", day, at_risk_band="red")  # doctest: +SKIP
>>> report.windows[0].arr_by_band  # doctest: +SKIP
{'green': 120000.0, 'red': 30000.0}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

HORIZONS = (30, 60, 90, 180)
TERM_DAYS = 365

# The next renewal on or after $as_of, from a renewal date that is the next one as of today.
_AHEAD = "date_diff('day', CAST(? AS DATE), a.renewal_date)"
NEXT_RENEWAL_SQL = f"""
    CASE WHEN {_AHEAD} >= {TERM_DAYS}
         THEN CAST(
             a.renewal_date - INTERVAL ({TERM_DAYS} * floor({_AHEAD} / {TERM_DAYS})) DAY AS DATE
         )
         ELSE a.renewal_date END"""


def next_renewal(renewal_date: dt.date | None, as_of: dt.date) -> dt.date | None:
    """Return the next renewal on or after `as_of` (the rule of NEXT_RENEWAL_SQL) in Python.

    >>> next_renewal(dt.date(2026, 3, 1), dt.date(2025, 1, 1))
    datetime.date(2025, 3, 1)
    """
    if renewal_date is None:
        return None
    ahead = (renewal_date - as_of).days
    if ahead < TERM_DAYS:
        return renewal_date
    return renewal_date - dt.timedelta(days=TERM_DAYS * (ahead // TERM_DAYS))


@dataclass(frozen=True)
class RenewalWindow:
    """Accounts and ARR per band renewing within `days` of the report's date."""

    days: int
    accounts_by_band: dict[str, int]
    arr_by_band: dict[str, float]

    @property
    def accounts(self) -> int:
        """Accounts renewing in the window."""
        return sum(self.accounts_by_band.values())

    @property
    def arr(self) -> float:
        """Their ARR."""
        return sum(self.arr_by_band.values())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "days": self.days,
            "accounts": self.accounts,
            "arr": self.arr,
            "accounts_by_band": self.accounts_by_band,
            "arr_by_band": self.arr_by_band,
        }


@dataclass(frozen=True)
class RenewalReport:
    """The renewals ahead of one snapshot date for the accounts a user may see."""

    as_of: dt.date
    at_risk_band: str
    windows: list[RenewalWindow]
    months: list[dict[str, Any]]  # month, accounts, arr, arr_at_risk (renewals within the horizon)
    rows: list[dict[str, Any]]  # one per account renewing within the horizon, soonest first
    overdue: int  # accounts whose renewal date lies before as_of (overdue or not yet updated)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "as_of": self.as_of.isoformat(),
            "at_risk_band": self.at_risk_band,
            "windows": [w.to_dict() for w in self.windows],
            "months": self.months,
            "overdue": self.overdue,
            "items": self.rows,
        }


ROW_COLUMNS = [
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "score",
    "band",
    "computed_band",
    "renewal_date",
    "days_to_renewal",
]


def renewal_rows(
    connection: Any,
    model_name: str,
    as_of: dt.date,
    *,
    scope: tuple[str, list[Any]] = ("TRUE", []),
    owner: str | None = None,
    segment: str | None = None,
    within: int | None = max(HORIZONS),
) -> list[dict[str, Any]]:
    """Return the snapshot's accounts with their next renewal, soonest first.

    `scope` is an SQL condition on `s.account_id` (and its parameters) limiting the accounts
    to a user's book; `within` keeps renewals from `as_of` up to that many days ahead (None:
    every account, overdue and without a renewal date included).
    """
    condition, params = scope
    where = ["s.model_name = ?", "s.snapshot_date = ?", condition]
    args: list[Any] = [model_name, as_of, *params]
    if owner:
        where.append("coalesce(a.owner, s.owner) = ?")
        args.append(owner)
    if segment:
        where.append("s.segment = ?")
        args.append(segment)
    window = "" if within is None else "WHERE days_to_renewal BETWEEN 0 AND ?"
    sql = f"""
        WITH renewing AS (
            SELECT s.account_id, s.name, coalesce(a.owner, s.owner) AS owner, s.segment, s.arr,
                   s.score, s.band, s.computed_band, {NEXT_RENEWAL_SQL} AS renewal_date
            FROM scores s LEFT JOIN accounts a ON a.account_id = s.account_id
            WHERE {" AND ".join(where)}
        )
        SELECT *, date_diff('day', CAST(? AS DATE), renewal_date) AS days_to_renewal
        FROM renewing {window}
        ORDER BY renewal_date NULLS LAST, arr DESC NULLS LAST, account_id
    """
    full = [as_of, as_of, *args, as_of, *([] if within is None else [within])]
    cursor = connection.execute(sql, full)
    names = [d[0] for d in cursor.description]
    return [
        {n: _plain(v) for n, v in zip(names, row, strict=True) if n in ROW_COLUMNS}
        for row in cursor.fetchall()
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def renewals_report(
    connection: Any,
    model_name: str,
    as_of: dt.date,
    *,
    at_risk_band: str,
    bands: list[str] | None = None,
    scope: tuple[str, list[Any]] = ("TRUE", []),
    owner: str | None = None,
    segment: str | None = None,
    horizons: tuple[int, ...] = HORIZONS,
) -> RenewalReport:
    """Return the renewals within the longest horizon: per window and band, per month, per account.

    Windows are cumulative (the 60-day window holds the 30-day one); `bands` orders them.
    """
    every = renewal_rows(
        connection, model_name, as_of, scope=scope, owner=owner, segment=segment, within=None
    )
    ahead = [r for r in every if r["days_to_renewal"] is not None]
    overdue = sum(1 for r in ahead if r["days_to_renewal"] < 0)
    rows = [r for r in ahead if 0 <= r["days_to_renewal"] <= max(horizons)]
    order = list(bands or []) + sorted({r["band"] for r in rows} - set(bands or []))
    windows = []
    for days in sorted(horizons):
        inside = [r for r in rows if r["days_to_renewal"] <= days]
        counts = {b: sum(1 for r in inside if r["band"] == b) for b in order}
        arr = {b: sum(r["arr"] or 0.0 for r in inside if r["band"] == b) for b in order}
        windows.append(RenewalWindow(days, counts, arr))
    months: dict[str, dict[str, Any]] = {}
    for r in rows:
        month = r["renewal_date"][:7]
        entry = months.setdefault(
            month, {"month": month, "accounts": 0, "arr": 0.0, "arr_at_risk": 0.0}
        )
        entry["accounts"] += 1
        entry["arr"] += r["arr"] or 0.0
        if r["band"] == at_risk_band:
            entry["arr_at_risk"] += r["arr"] or 0.0
    return RenewalReport(
        as_of=as_of,
        at_risk_band=at_risk_band,
        windows=windows,
        months=[months[m] for m in sorted(months)],
        rows=rows,
        overdue=overdue,
    )
