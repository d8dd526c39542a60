"""Map the RavenStack tables into a workspace: the no-leak control for backtests.

RavenStack (by River @ Rivalytics; credit the author) is a synthetic multi-table SaaS dataset:
accounts, subscriptions, feature usage, support tickets and churn events. Its tables were
generated independently of each other, so a backtest on it should find no signal; one that
does has let future data into a past score.

Mapping: feature usage becomes events (`feature_used`, `beta_feature_used`, and
`feature_error` carrying the error count), reaching its account through its subscription;
tickets keep priority (medium → normal), satisfaction and first response (in hours), with
escalated tickets marked by the subject `escalated`; every churn event becomes a `churned`
outcome, and an account flagged as churned gets its last churn date as `churned_at`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from vitalsign.analytics.datasets.tables import write_tables
from vitalsign.errors import IngestError
from vitalsign.store.workspace import Workspace

FILES = {
    "accounts": "ravenstack_accounts.csv",
    "subscriptions": "ravenstack_subscriptions.csv",
    "usage": "ravenstack_feature_usage.csv",
    "tickets": "ravenstack_support_tickets.csv",
    "churn": "ravenstack_churn_events.csv",
}
MODEL_FILE = "ravenstack.yml"
PRIORITY = {"low": "low", "medium": "normal", "high": "high", "urgent": "urgent"}


@dataclass(frozen=True)
class RavenStackWorkspace:
    """What was loaded, and the dates a backtest can use."""

    model_path: Path
    first_day: dt.date
    last_day: dt.date
    accounts: int


def read_ravenstack(folder: Path) -> dict[str, pd.DataFrame]:
    """Read the five CSV files of the RavenStack folder."""
    frames = {}
    for key, name in FILES.items():
        path = folder / name
        if not path.exists():
            raise IngestError(f"{folder}: no {name}; point to the RavenStack folder")
        frames[key] = pd.read_csv(path)
    return frames


def _flag(series: pd.Series) -> pd.Series:
    return series.astype(str).str.lower().eq("true")


def canonical_tables(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """RavenStack as canonical tables: accounts, subscriptions, events, tickets, outcomes."""
    accounts, subs, usage = raw["accounts"], raw["subscriptions"], raw["usage"]
    tickets, churn = raw["tickets"], raw["churn"]
    churn_date = pd.to_datetime(churn["churn_date"])
    last_churn = churn.assign(at=churn_date).groupby("account_id")["at"].max()
    flagged = _flag(accounts["churn_flag"])
    churned_at = accounts["account_id"].map(last_churn).where(flagged)
    open_subs = subs[subs["end_date"].isna()].groupby("account_id")["arr_amount"].sum()
    account_frame = pd.DataFrame(
        {
            "account_id": accounts["account_id"],
            "name": accounts["account_name"],
            "created_at": pd.to_datetime(accounts["signup_date"]),
            "plan": accounts["plan_tier"],
            "industry": accounts["industry"],
            "seats": accounts["seats"].astype("int64"),
            "arr": accounts["account_id"].map(open_subs).fillna(0.0).astype("float64"),
            "churned_at": churned_at.astype("datetime64[ns]"),
        }
    )
    status = np.select(
        [_flag(subs["churn_flag"]), _flag(subs["is_trial"])], ["canceled", "trialing"], "active"
    )
    sub_frame = pd.DataFrame(
        {
            "subscription_id": subs["subscription_id"],
            "account_id": subs["account_id"],
            "started_at": pd.to_datetime(subs["start_date"]),
            "ended_at": pd.to_datetime(subs["end_date"]),
            "plan": subs["plan_tier"],
            "status": status,
            "seats": subs["seats"].astype("int64"),
            "mrr": subs["mrr_amount"].astype("float64"),
        }
    )
    owner = usage["subscription_id"].map(subs.set_index("subscription_id")["account_id"])
    at = pd.to_datetime(usage["usage_date"]) + pd.Timedelta(hours=12)
    used = pd.DataFrame(
        {
            "event_id": usage["usage_id"],
            "account_id": owner,
            "timestamp": at,
            "event": np.where(_flag(usage["is_beta_feature"]), "beta_feature_used", "feature_used"),
            "feature": usage["feature_name"],
            "quantity": usage["usage_count"].astype("float64"),
        }
    )
    failed = usage["error_count"] > 0
    errors = pd.DataFrame(
        {
            "event_id": usage.loc[failed, "usage_id"] + "-errors",
            "account_id": owner[failed],
            "timestamp": at[failed],
            "event": "feature_error",
            "feature": usage.loc[failed, "feature_name"],
            "quantity": usage.loc[failed, "error_count"].astype("float64"),
        }
    )
    ticket_frame = pd.DataFrame(
        {
            "ticket_id": tickets["ticket_id"],
            "account_id": tickets["account_id"],
            "created_at": pd.to_datetime(tickets["submitted_at"]),
            "solved_at": pd.to_datetime(tickets["closed_at"]),
            "priority": tickets["priority"].map(PRIORITY),
            "status": np.where(tickets["closed_at"].notna(), "closed", "open"),
            "subject": pd.Series("escalated", index=tickets.index).where(
                _flag(tickets["escalation_flag"])
            ),
            "first_response_hours": tickets["first_response_time_minutes"] / 60.0,
            "satisfaction": tickets["satisfaction_score"].astype("float64"),
        }
    )
    outcomes = (
        pd.DataFrame(
            {"account_id": churn["account_id"], "occurred_at": churn_date, "kind": "churned"}
        )
        .drop_duplicates(["account_id", "occurred_at"])
        .reset_index(drop=True)
    )
    return {
        "accounts": account_frame,
        "subscriptions": sub_frame,
        "events": pd.concat([used, errors], ignore_index=True).dropna(subset=["account_id"]),
        "tickets": ticket_frame,
        "outcomes": outcomes,
    }


def load_ravenstack(workspace: Workspace, folder: Path) -> RavenStackWorkspace:
    """Load the RavenStack CSV files into an empty workspace and add `models/ravenstack.yml`.

    >>> load_ravenstack(init_workspace("raven"), Path("ravenstack")).accounts  # doctest: +SKIP
    500
    """
    tables = canonical_tables(read_ravenstack(folder))
    write_tables(workspace.duckdb, tables)
    target = workspace.root / "models" / MODEL_FILE
    source = resources.files("vitalsign.analytics.datasets").joinpath(MODEL_FILE)
    with resources.as_file(source) as path:
        shutil.copyfile(path, target)
    created = tables["accounts"]["created_at"]
    last = max(tables["events"]["timestamp"].max(), tables["outcomes"]["occurred_at"].max())
    return RavenStackWorkspace(
        target, created.min().date(), pd.Timestamp(last).date(), len(tables["accounts"])
    )
