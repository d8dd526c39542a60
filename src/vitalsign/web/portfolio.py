"""The portfolio of the accounts a user may see, as a `PortfolioReport`, aggregated in DuckDB.

`vitalsign.analytics.portfolio.portfolio_report` reads a whole snapshot into pandas and has no
owner filter; a csm's portfolio is their book only, and the page must answer in milliseconds
at 100,000 accounts. So the same report is computed here with SQL aggregates over the
user's rows (tests/web/test_portfolio.py checks it equals `portfolio_report` for everyone's
accounts), and cached per snapshot version in `SnapshotCatalog`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from vitalsign.analytics.portfolio import PortfolioReport
from vitalsign.model.spec import HealthModel
from vitalsign.web.access import Principal, scope_filter

MOVERS = 10


def _frame(connection: Any, sql: str, args: list[Any]) -> pd.DataFrame:
    frame: pd.DataFrame = connection.execute(sql, args).df()
    return frame


def _breakdown(
    connection: Any, rows: str, args: list[Any], by: str, order: list[str]
) -> pd.DataFrame:
    frame = _frame(
        connection,
        f"""SELECT coalesce({by}, '(none)') AS {by}, band, count(*) AS accounts,
                   sum(arr) AS arr
            FROM ({rows}) GROUP BY ALL""",
        args,
    )
    frame["band_rank"] = frame["band"].map({b: i for i, b in enumerate(order)})
    frame = frame.sort_values([by, "band_rank"]).drop(columns="band_rank")
    frame["accounts"] = frame["accounts"].astype("int64")
    return frame.reset_index(drop=True)


def portfolio_summary(
    connection: Any,
    model: HealthModel,
    principal: Principal,
    as_of: dt.date,
    previous: dt.date | None,
    movers: int = MOVERS,
) -> PortfolioReport:
    """Return the portfolio report of `as_of` restricted to the accounts `principal` may see."""
    scope, scope_args = scope_filter(principal)
    rows = f"""SELECT account_id, name, owner, segment, coalesce(arr, 0.0) AS arr, score, band,
                      computed_band, coverage
               FROM scores WHERE model_name = ? AND snapshot_date = ? AND {scope}"""
    args = [model.name, as_of, *scope_args]
    order = [*model.band_names, model.insufficient_band]
    counts = _frame(
        connection,
        f"SELECT band, count(*) AS accounts, sum(arr) AS arr FROM ({rows}) GROUP BY band",
        args,
    ).set_index("band")
    bands = counts.reindex(order, fill_value=0).reset_index()
    bands = bands.rename(columns={bands.columns[0]: "band"})
    bands["accounts"] = bands["accounts"].astype("int64")
    bands["arr"] = bands["arr"].astype("float64")
    total = max(int(bands["accounts"].sum()), 1)
    total_arr = max(float(bands["arr"].sum()), 1e-9)
    bands["account_share"] = bands["accounts"] / total
    bands["arr_share"] = bands["arr"] / total_arr
    mover_columns = [
        "account_id",
        "name",
        "owner",
        "previous_score",
        "score",
        "delta",
        "previous_band",
        "band",
    ]
    mover_frame = pd.DataFrame(columns=mover_columns)
    if previous is not None:
        mover_frame = _frame(
            connection,
            f"""SELECT c.account_id, c.name, c.owner, p.score AS previous_score, c.score,
                       c.score - p.score AS delta, p.band AS previous_band, c.band
                FROM ({rows}) c
                JOIN (SELECT account_id, score, band FROM scores
                      WHERE model_name = ? AND snapshot_date = ?) p
                  ON p.account_id = c.account_id
                WHERE c.score - p.score IS NOT NULL
                ORDER BY abs(c.score - p.score) DESC, c.account_id LIMIT ?""",
            [*args, model.name, previous, movers],
        )[mover_columns]
    insufficient = _frame(
        connection,
        f"SELECT account_id, name, owner, coverage FROM ({rows}) WHERE band = ? "
        "ORDER BY account_id",
        [*args, model.insufficient_band],
    )
    overridden = _frame(
        connection,
        f"SELECT account_id, name, owner, score, band, computed_band FROM ({rows}) "
        "WHERE band <> computed_band ORDER BY account_id",
        args,
    )
    return PortfolioReport(
        model_name=model.name,
        as_of=as_of,
        previous=previous,
        band_order=order,
        at_risk_band=model.band_names[-1],
        bands=bands,
        by_segment=_breakdown(connection, rows, args, "segment", order),
        by_owner=_breakdown(connection, rows, args, "owner", order),
        movers=mover_frame.reset_index(drop=True),
        insufficient=insufficient,
        overrides=overridden,
    )


def band_trend(connection: Any, model_name: str, principal: Principal) -> pd.DataFrame:
    """Return accounts and ARR per snapshot date and band (the distribution over time)."""
    scope, scope_args = scope_filter(principal)
    return _frame(
        connection,
        f"""SELECT snapshot_date, band, count(*) AS accounts, sum(coalesce(arr, 0)) AS arr
            FROM scores WHERE model_name = ? AND {scope}
            GROUP BY ALL ORDER BY snapshot_date, band""",
        [model_name, *scope_args],
    )


def breakdown_table(report: PortfolioReport, by: str) -> list[dict[str, Any]]:
    """Pivot a breakdown to one row per key: accounts per band, ARR, ARR at risk."""
    frame = report.by_segment if by == "segment" else report.by_owner
    table = []
    for key, rows in frame.groupby(by, sort=True):
        counts = dict(zip(rows["band"], rows["accounts"], strict=True))
        at_risk = float(rows.loc[rows["band"] == report.at_risk_band, "arr"].sum())
        table.append(
            {
                by: str(key),
                "bands": {b: int(counts.get(b, 0)) for b in report.band_order},
                "accounts": int(rows["accounts"].sum()),
                "arr": float(rows["arr"].sum()),
                "arr_at_risk": at_risk,
            }
        )
    return table
