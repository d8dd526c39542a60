"""Are the alerts worth it? Volume, precision (the useful share) and churn after alerts.

An account counts as churned when `accounts.churned_at` or an `outcomes` row of kind
`churned` says so (the earlier of the two). An alert is followed by churn when its
account churned on or after the alert's snapshot date and within the horizon.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vitalsign.alerts.schema import ensure_alert_tables

CHURN_DATES = """
    churn AS (
        SELECT account_id, min(churned) AS churned_at FROM (
            SELECT account_id, churned_at AS churned FROM accounts WHERE churned_at IS NOT NULL
            UNION ALL
            SELECT account_id, occurred_at FROM outcomes WHERE kind = 'churned'
        ) GROUP BY account_id
    )"""


@dataclass(frozen=True)
class AlertStats:
    """Alert volume, precision and churn, in total and per rule."""

    since: dt.date | None
    until: dt.date | None
    horizon_days: int
    alerts: int
    accounts: int
    active: int
    rated: int
    useful: int
    churned_accounts: int
    churners: int
    churners_alerted: int
    by_rule: pd.DataFrame  # rule, alerts, accounts, active, rated, useful, precision, churned
    opened_per_run: list[int] = field(default_factory=list)  # per evaluated snapshot
    resolved_per_run: list[int] = field(default_factory=list)

    def per_run_line(self) -> str:
        """Return "opened 12–30 (median 18) and resolved 10–25 (median 16) per snapshot"."""
        if not self.opened_per_run:
            return "no evaluated snapshot in the period"

        def spread(values: list[int]) -> str:
            return f"{min(values)}–{max(values)} (median {statistics.median(values):g})"

        return (
            f"per evaluated snapshot: opened {spread(self.opened_per_run)}, "
            f"resolved {spread(self.resolved_per_run)}"
        )

    @property
    def precision(self) -> float | None:
        """The useful share of the alerts owners rated (None before any rating)."""
        return self.useful / self.rated if self.rated else None

    @property
    def churn_rate(self) -> float | None:
        """The share of alerted accounts that churned within the horizon."""
        return self.churned_accounts / self.accounts if self.accounts else None

    @property
    def recall(self) -> float | None:
        """The share of churners that had an alert within the horizon before churning."""
        return self.churners_alerted / self.churners if self.churners else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        rules: list[dict[str, Any]] = json.loads(self.by_rule.to_json(orient="records"))
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "horizon_days": self.horizon_days,
            "alerts": self.alerts,
            "accounts": self.accounts,
            "active": self.active,
            "rated": self.rated,
            "useful": self.useful,
            "precision": self.precision,
            "churned_accounts": self.churned_accounts,
            "churn_rate": self.churn_rate,
            "churners": self.churners,
            "churners_alerted": self.churners_alerted,
            "recall": self.recall,
            "by_rule": rules,
            "opened_per_run": self.opened_per_run,
            "resolved_per_run": self.resolved_per_run,
        }


def alert_stats(
    connection: Any,
    since: dt.date | None = None,
    until: dt.date | None = None,
    horizon_days: int = 90,
    model_name: str | None = None,
) -> AlertStats:
    """Return alert volume, precision and churn-after-alert between two snapshot dates.

    >>> alert_stats(ws.duckdb, since=dt.date(2025, 1, 1)).precision  # doctest: +SKIP
    0.62
    """
    ensure_alert_tables(connection)
    params = {
        "since": since or dt.date.min,
        "until": until or dt.date.max,
        "horizon": horizon_days,
        "model": model_name,
    }
    chosen = f"""
        WITH {CHURN_DATES},
        chosen AS (
            SELECT a.*, coalesce(c.churned_at >= a.snapshot_date
                   AND c.churned_at < a.snapshot_date + to_days($horizon::INTEGER), FALSE)
                   AS churned
            FROM alerts a LEFT JOIN churn c USING (account_id)
            WHERE a.snapshot_date BETWEEN $since AND $until
              AND ($model::VARCHAR IS NULL OR a.model_name = $model::VARCHAR)
        )"""
    columns = """count(*) AS alerts, count(DISTINCT account_id) AS accounts,
        CAST(coalesce(count_if(status IN ('open', 'acknowledged')), 0) AS BIGINT) AS active,
        count(useful) AS rated, CAST(coalesce(count_if(useful), 0) AS BIGINT) AS useful,
        count(DISTINCT CASE WHEN churned THEN account_id END) AS churned"""
    by_rule = connection.execute(
        f"{chosen} SELECT rule, {columns} FROM chosen GROUP BY rule ORDER BY alerts DESC, rule",
        params,
    ).df()
    by_rule["precision"] = (by_rule["useful"] / by_rule["rated"]).where(by_rule["rated"] > 0)
    total = connection.execute(f"{chosen} SELECT {columns} FROM chosen", params).fetchone()
    churners = connection.execute(
        f"""WITH {CHURN_DATES}
        SELECT count(*), coalesce(count_if(EXISTS (
            SELECT 1 FROM alerts a WHERE a.account_id = c.account_id
              AND ($model::VARCHAR IS NULL OR a.model_name = $model::VARCHAR)
              AND a.snapshot_date <= c.churned_at
              AND a.snapshot_date > c.churned_at - to_days($horizon::INTEGER))), 0)
        FROM churn c WHERE CAST(c.churned_at AS DATE) BETWEEN $since AND $until""",
        params,
    ).fetchone()
    runs = connection.execute(
        """SELECT r.snapshot_date,
                  (SELECT count(*) FROM alerts a WHERE a.snapshot_date = r.snapshot_date
                     AND a.model_name = r.model_name),
                  (SELECT count(*) FROM alerts a WHERE a.resolved_date = r.snapshot_date
                     AND a.model_name = r.model_name)
           FROM (SELECT DISTINCT model_name, snapshot_date FROM alert_runs
                 WHERE snapshot_date BETWEEN $since AND $until
                   AND ($model::VARCHAR IS NULL OR model_name = $model::VARCHAR)) r
           ORDER BY 1""",
        {k: v for k, v in params.items() if k != "horizon"},
    ).fetchall()
    return AlertStats(
        opened_per_run=[int(r[1]) for r in runs],
        resolved_per_run=[int(r[2]) for r in runs],
        since=since,
        until=until,
        horizon_days=horizon_days,
        alerts=int(total[0]),
        accounts=int(total[1]),
        active=int(total[2]),
        rated=int(total[3]),
        useful=int(total[4]),
        churned_accounts=int(total[5]),
        churners=int(churners[0]),
        churners_alerted=int(churners[1]),
        by_rule=by_rule[
            ["rule", "alerts", "accounts", "active", "rated", "useful", "precision", "churned"]
        ],
    )
