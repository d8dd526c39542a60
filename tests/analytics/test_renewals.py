"""Renewals on the tiny world (hand-computed windows) and the rolling rule in SQL and Python."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.renewals import (
    NEXT_RENEWAL_SQL,
    TERM_DAYS,
    next_renewal,
    renewal_rows,
    renewals_report,
)
from vitalsign.engine.run import score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace
from world import T


@pytest.fixture
def scored(tiny_workspace: Workspace, tiny_model: LoadedModel) -> Workspace:
    """The tiny world scored on T."""
    score(tiny_workspace, T, tiny_model)
    return tiny_workspace


def test_windows_are_cumulative_and_hold_the_hand_computed_accounts(scored: Workspace) -> None:
    # On T = 2024-03-01: B renews 2024-04-01 (31 days), A 2024-06-01 (92), C 2024-09-01 (184).
    bands = {
        r[0]: r[1]
        for r in scored.duckdb.execute(
            "SELECT account_id, band FROM scores WHERE snapshot_date = ?", [T]
        ).fetchall()
    }
    report = renewals_report(scored.duckdb, "tiny", T, at_risk_band="red")
    by_days = {w.days: w for w in report.windows}
    assert by_days[30].accounts == 0
    assert by_days[60].accounts == 1 and by_days[60].arr_by_band == {bands["B"]: 90000.0}
    assert by_days[90].accounts == 1
    assert by_days[180].accounts == 2 and by_days[180].arr == 102000.0
    assert [r["account_id"] for r in report.rows] == ["B", "A"]  # soonest first; C beyond 180
    assert [(r["renewal_date"], r["days_to_renewal"]) for r in report.rows] == [
        ("2024-04-01", 31),
        ("2024-06-01", 92),
    ]
    assert [m["month"] for m in report.months] == ["2024-04", "2024-06"]
    at_risk = sum(m["arr_at_risk"] for m in report.months)
    assert at_risk == sum(r["arr"] for r in report.rows if r["band"] == "red")


def test_filters_and_a_book_scope_narrow_the_renewals(scored: Workspace) -> None:
    con = scored.duckdb
    assert [r["account_id"] for r in renewal_rows(con, "tiny", T, owner="ann")] == ["A"]
    assert [r["account_id"] for r in renewal_rows(con, "tiny", T, segment="enterprise")] == ["B"]
    scope = ("s.account_id IN (SELECT account_id FROM accounts WHERE owner = ?)", ["bob"])
    assert [r["account_id"] for r in renewal_rows(con, "tiny", T, scope=scope)] == ["B"]
    everyone = renewal_rows(con, "tiny", T, within=None)
    assert {r["account_id"] for r in everyone} == {"A", "B", "C"}


def test_a_renewal_date_a_term_ahead_is_rolled_back_to_the_next_one(scored: Workspace) -> None:
    con = scored.duckdb
    con.execute("UPDATE accounts SET renewal_date = DATE '2025-04-10' WHERE account_id = 'C'")
    row = next(r for r in renewal_rows(con, "tiny", T, within=None) if r["account_id"] == "C")
    assert row["renewal_date"] == "2024-04-10"  # 2025-04-10 less one 365-day term
    assert row["days_to_renewal"] == 40


@settings(max_examples=80, deadline=None)
@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 1, 1)),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 1, 1)),
)
def test_sql_and_python_roll_renewal_dates_alike(renewal: dt.date, as_of: dt.date) -> None:
    con = duckdb.connect()
    found = con.execute(
        f"SELECT {NEXT_RENEWAL_SQL} FROM (SELECT CAST(? AS DATE) AS renewal_date) a",
        [as_of, as_of, renewal],
    ).fetchone()
    expected = next_renewal(renewal, as_of)
    assert found is not None and found[0] == expected
    assert expected is not None
    if renewal >= as_of:
        assert as_of <= expected < as_of + dt.timedelta(days=TERM_DAYS)
        assert (renewal - expected).days % TERM_DAYS == 0
    else:
        assert expected == renewal  # overdue: left as it is
