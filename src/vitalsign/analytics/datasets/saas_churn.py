"""Map the saas_churn dataset (one row per customer) into a workspace, for benchmarks.

saas_churn (`churn.csv`, Apache-2.0, Square Inc.) has 2,000 SaaS customers with product
adoption, CSAT, engagement and support minutes, a churn label and `months_active`. The
features are one cross-section, so they become rows in the 30 days before one snapshot date
T; a churner's churn is placed `months_active` months after T. `months_active` is the
survival time: it only places the churn in time (for the survival curves) and never feeds a
signal. Every churner churns within HORIZON_DAYS of T, so the backtest's label is the
dataset's label.
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

SNAPSHOT = dt.date(2024, 1, 1)
HORIZON_DAYS = 400
DAYS_PER_MONTH = 30.4
PRODUCTS = {
    "product_travel_expense": "travel_expense",
    "product_payroll": "payroll",
    "product_accounting": "accounting",
}
STATUS = {"Active": "product_active", "Free-Trial": "product_free_trial", "No": "product_none"}
COUNTED = {
    "articles_viewed": "article_viewed",
    "smartphone_notifications_viewed": "notification_viewed",
    "marketing_emails_clicked": "email_clicked",
    "social_media_ads_viewed": "ad_viewed",
}
NUMERIC_FEATURES = [
    "product_data_storage",
    "csat_score",
    "articles_viewed",
    "smartphone_notifications_viewed",
    "marketing_emails_clicked",
    "social_media_ads_viewed",
    "minutes_customer_support",
]
CATEGORICAL_FEATURES = [*PRODUCTS, "company_size"]
MODEL_FILE = "saas_churn.yml"


@dataclass(frozen=True)
class SaasChurnWorkspace:
    """Where the dataset was loaded and how to backtest it."""

    snapshot: dt.date
    horizon_days: int
    observed_until: dt.datetime
    model_path: Path
    customers: int


def read_churn_csv(path: Path) -> pd.DataFrame:
    """Read churn.csv, checking the columns the mapping needs."""
    frame = pd.read_csv(path)
    needed = {*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, "months_active", "churned"}
    missing = needed - set(frame.columns)
    if missing:
        raise IngestError(f"{path}: not the saas_churn file, it lacks {sorted(missing)}")
    return frame


def _stamps(base: dt.datetime, days_before: np.ndarray) -> np.ndarray:
    return np.datetime64(base, "s") - (days_before * 86_400).astype("timedelta64[s]")


def canonical_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The dataset as canonical tables: accounts, events, surveys, subscriptions, outcomes."""
    n = len(frame)
    rng = np.random.default_rng(0)  # only spreads event times inside the 30-day window
    t = dt.datetime.combine(SNAPSHOT, dt.time())
    keys = np.array([f"cust-{i + 1:05d}" for i in range(n)], dtype=object)
    churned = frame["churned"].to_numpy() == 1
    months = frame["months_active"].to_numpy(dtype="float64")
    churn_at = pd.Series(
        np.where(churned, np.datetime64(t, "s") + ((months * DAYS_PER_MONTH + 0.5) * 86_400)
                 .astype("timedelta64[s]"), np.datetime64("NaT", "s"))
    )  # fmt: skip
    created = t - dt.timedelta(days=60)
    accounts = pd.DataFrame(
        {
            "account_id": keys,
            "name": [f"Customer {i + 1}" for i in range(n)],
            "created_at": created,
            "segment": frame["company_size"].astype(str).to_numpy(),
            "churned_at": churn_at,
        }
    )
    events = [
        pd.DataFrame(
            {
                "account_id": keys,
                "timestamp": _stamps(t, rng.uniform(0.1, 29.0, n)),
                "event": frame[column].map(STATUS).to_numpy(),
                "feature": feature,
            }
        )
        for column, feature in PRODUCTS.items()
    ]
    events.append(
        pd.DataFrame(
            {
                "account_id": keys,
                "timestamp": _stamps(t, rng.uniform(0.1, 29.0, n)),
                "event": "storage_plan",
                "quantity": frame["product_data_storage"].to_numpy(dtype="float64"),
            }
        )
    )
    for column, event in COUNTED.items():
        counts = frame[column].to_numpy(dtype="int64")
        owner = np.repeat(np.arange(n), counts)
        events.append(
            pd.DataFrame(
                {
                    "account_id": keys[owner],
                    "timestamp": _stamps(t, rng.uniform(0.1, 29.0, owner.size)),
                    "event": event,
                }
            )
        )
    minutes = frame["minutes_customer_support"].to_numpy(dtype="float64")
    called = np.flatnonzero(minutes > 0)
    events.append(
        pd.DataFrame(
            {
                "account_id": keys[called],
                "timestamp": _stamps(t, rng.uniform(0.1, 29.0, called.size)),
                "event": "support_call",
                "quantity": minutes[called],
            }
        )
    )
    event_frame = pd.concat(events, ignore_index=True)
    event_frame.insert(0, "event_id", [f"evt-{i:07d}" for i in range(len(event_frame))])
    surveys = pd.DataFrame(
        {
            "response_id": [f"csat-{i + 1:05d}" for i in range(n)],
            "account_id": keys,
            "responded_at": _stamps(t, rng.uniform(0.1, 29.0, n)),
            "kind": "csat",
            "score": frame["csat_score"].to_numpy(dtype="float64"),
        }
    )
    subscriptions = pd.DataFrame(
        {
            "subscription_id": [f"sub-{i + 1:05d}" for i in range(n)],
            "account_id": keys,
            "started_at": created,
            "ended_at": churn_at,
            "status": np.where(churned, "canceled", "active"),
        }
    )
    outcomes = pd.DataFrame(
        {
            "account_id": keys[churned],
            "occurred_at": churn_at[churned].to_numpy(),
            "kind": "churned",
        }
    )
    return {
        "accounts": accounts,
        "events": event_frame,
        "surveys": surveys,
        "subscriptions": subscriptions,
        "outcomes": outcomes,
    }


def load_saas_churn(workspace: Workspace, csv_path: Path) -> SaasChurnWorkspace:
    """Load churn.csv into an empty workspace and add the model `models/saas_churn.yml`.

    >>> load_saas_churn(init_workspace("saas"), Path("churn.csv")).snapshot  # doctest: +SKIP
    datetime.date(2024, 1, 1)
    """
    frame = read_churn_csv(csv_path)
    write_tables(workspace.duckdb, canonical_tables(frame))
    target = workspace.root / "models" / MODEL_FILE
    source = resources.files("vitalsign.analytics.datasets").joinpath(MODEL_FILE)
    with resources.as_file(source) as path:
        shutil.copyfile(path, target)
    until = dt.datetime.combine(SNAPSHOT, dt.time()) + dt.timedelta(days=HORIZON_DAYS)
    return SaasChurnWorkspace(SNAPSHOT, HORIZON_DAYS, until, target, len(frame))


def baseline_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The inputs the model reads, for a plain logistic regression: numeric and categorical."""
    return frame[NUMERIC_FEATURES + CATEGORICAL_FEATURES], NUMERIC_FEATURES, CATEGORICAL_FEATURES
