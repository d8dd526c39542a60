"""Expansion and contraction outcomes from hand-built billing rows, and their labels."""

from __future__ import annotations

import pandas as pd
import pytest

from vitalsign.analytics.expansion import growth_events, label_growth
from vitalsign.analytics.outcomes import Outcomes
from vitalsign.errors import BacktestError
from vitalsign.ingest.billing_rule import derive_billing_outcomes
from vitalsign.store.workspace import BillingConfig

RENEWAL = pd.Timestamp("2025-01-01")
END = pd.Timestamp("2025-06-01")
# account: MRR of its first year, MRR after the renewal on 2025-01-01
PLANS = {
    "grew": (100.0, 110.0),  # +10 %: exactly the threshold
    "grew_a_little": (100.0, 105.0),  # +5 %: an expanded row, below the threshold
    "shrank": (100.0, 80.0),  # −20 %
    "shrank_to_threshold": (100.0, 90.0),  # −10 %: exactly the threshold
    "same": (100.0, 100.0),  # renewed only
}


def _subscriptions() -> pd.DataFrame:
    rows = []
    for i, (account, (first, second)) in enumerate(PLANS.items()):
        rows.append((f"s{i}a", account, pd.Timestamp("2024-01-01"), RENEWAL, "active", first))
        rows.append((f"s{i}b", account, RENEWAL, pd.NaT, "active", second))
    columns = ["subscription_id", "account_id", "started_at", "ended_at", "status", "mrr"]
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture(scope="module")
def outcomes() -> Outcomes:
    frame = derive_billing_outcomes(_subscriptions(), END, BillingConfig())
    activity = pd.DataFrame({"account_id": list(PLANS), "at": pd.Timestamp("2024-01-01")}).astype(
        {"at": "datetime64[ns]"}
    )
    return Outcomes(frame, "hand-built subscriptions", END, activity)


def test_the_billing_rule_gives_the_expected_rows(outcomes: Outcomes) -> None:
    kinds = outcomes.frame.groupby("account_id")["kind"].apply(set).to_dict()
    assert kinds["grew"] == {"renewed", "expanded"}
    assert kinds["grew_a_little"] == {"renewed", "expanded"}
    assert kinds["shrank"] == {"renewed", "contracted"}
    assert kinds["same"] == {"renewed"}
    grew = outcomes.frame[(outcomes.frame["account_id"] == "grew")]
    assert grew["arr_before"].max() == 1200 and grew["arr_after"].max() == 1320


@pytest.mark.parametrize(
    ("outcome", "min_change", "expected"),
    [
        ("expanded", 0.10, {"grew"}),  # the threshold itself counts
        ("expanded", 0.11, set()),
        ("expanded", 0.0, {"grew", "grew_a_little"}),
        ("contracted", 0.10, {"shrank", "shrank_to_threshold"}),
        ("contracted", 0.25, set()),
    ],
)
def test_growth_events_keep_changes_from_the_threshold_up(
    outcomes: Outcomes, outcome: str, min_change: float, expected: set[str]
) -> None:
    assert set(growth_events(outcomes, outcome, min_change)["account_id"]) == expected


def test_a_row_without_arr_counts_as_the_source_said(outcomes: Outcomes) -> None:
    extra = pd.DataFrame(
        [("crm", RENEWAL, "expanded", float("nan"), float("nan"))],
        columns=["account_id", "occurred_at", "kind", "arr_before", "arr_after"],
    )
    frame = pd.concat([outcomes.frame, extra], ignore_index=True)
    known = Outcomes(frame, "x", END, outcomes.activity)
    assert "crm" in set(growth_events(known, "expanded", 0.5)["account_id"])


def _snapshots(as_of: str) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(PLANS), "as_of": pd.Timestamp(as_of)})


def test_the_window_is_half_open_at_the_horizon_end(outcomes: Outcomes) -> None:
    # 2024-10-03 + 90 days is 2025-01-01: the expansion is just outside [T, T + 90 days)
    edge = label_growth(_snapshots("2024-10-03"), outcomes, 90, "expanded", 0.1)
    assert not edge["grew"].any()
    inside = label_growth(_snapshots("2024-10-04"), outcomes, 90, "expanded", 0.1)
    assert set(inside.loc[inside["grew"], "account_id"]) == {"grew"}
    on_the_day = label_growth(_snapshots("2025-01-01"), outcomes, 90, "expanded", 0.1)
    assert set(on_the_day.loc[on_the_day["grew"], "account_id"]) == {"grew"}  # T itself counts
    after = label_growth(_snapshots("2025-01-02"), outcomes, 90, "expanded", 0.1)
    assert not after["grew"].any()


def test_contraction_labels_and_too_recent_rows(outcomes: Outcomes) -> None:
    rows = label_growth(_snapshots("2024-12-01"), outcomes, 90, "contracted", 0.1)
    assert set(rows.loc[rows["grew"], "account_id"]) == {"shrank", "shrank_to_threshold"}
    assert (rows["status"] == "labelled").all()
    late = label_growth(_snapshots("2025-04-01"), outcomes, 90, "contracted", 0.1)
    assert (late["status"] == "censored").all()  # 2025-04-01 + 90 days is after 2025-06-01


def test_a_bad_outcome_or_threshold_says_what_to_use(outcomes: Outcomes) -> None:
    with pytest.raises(BacktestError, match="expanded, contracted"):
        growth_events(outcomes, "churned", 0.1)
    with pytest.raises(BacktestError, match="--min-change"):
        growth_events(outcomes, "expanded", 1.5)
