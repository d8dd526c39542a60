"""The web's fast reads give what the library gives: portfolio, explanations, charts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from conftest import BOB, World
from vitalsign.analytics.portfolio import portfolio_report
from vitalsign.engine.explain import explain_account
from vitalsign.web.access import Principal
from vitalsign.web.account_view import account_view
from vitalsign.web.charts import history_figure, waterfall_figure
from vitalsign.web.portfolio import portfolio_summary
from vitalsign.web.users import get_user


def _principal(world: World, name: str) -> Principal:
    return Principal(user=get_user(world.workspace.duckdb.cursor(), name), via="token")


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left.reset_index(drop=True),
        right.reset_index(drop=True),
        check_dtype=False,
        check_index_type=False,
        rtol=1e-9,
    )


def test_the_portfolio_summary_equals_the_portfolio_report(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    spec = world.workspace.load_model().spec
    expected = portfolio_report(con, spec, world.latest)
    got = portfolio_summary(con, spec, _principal(world, "root"), world.latest, world.previous)
    assert got.headline == expected.headline
    _same(got.bands, expected.bands)
    _same(got.by_segment, expected.by_segment)
    _same(got.by_owner, expected.by_owner)
    _same(got.insufficient, expected.insufficient)
    assert sorted(got.movers["delta"].abs().round(9)) == sorted(
        expected.movers["delta"].abs().round(9)
    )


def test_a_csms_portfolio_holds_only_their_book(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    spec = world.workspace.load_model().spec
    report = portfolio_summary(con, spec, _principal(world, "bob"), world.latest, world.previous)
    theirs = con.execute(
        "SELECT count(*), sum(arr) FROM scores WHERE snapshot_date = ? AND account_id IN "
        "(SELECT account_id FROM accounts WHERE owner = ?)",
        [world.latest, BOB],
    ).fetchone()
    assert report.total_accounts == theirs[0] > 0
    assert report.bands["arr"].sum() == pytest.approx(theirs[1])
    assert set(report.by_owner["owner"]) == {BOB}
    assert set(report.movers["owner"]) <= {BOB}


@pytest.mark.parametrize("which", ["latest", "previous"])
def test_the_account_page_explanation_equals_explain_account(world: World, which: str) -> None:
    con = world.workspace.duckdb.cursor()
    day = world.latest if which == "latest" else world.previous
    accounts = [
        r[0]
        for r in con.execute(
            "SELECT account_id FROM scores WHERE snapshot_date = ? ORDER BY account_id LIMIT 5",
            [day],
        ).fetchall()
    ]
    for account in accounts:
        view = account_view(con, "default", account, day)
        assert view.explanation == explain_account(con, "default", account, day)


def test_the_history_chart_marks_each_model_change() -> None:
    rows = [
        {
            "snapshot_date": dt.date(2025, 1, 6) + dt.timedelta(weeks=i),
            "score": 50.0 + i,
            "band": "yellow",
            "computed_band": "red" if i == 3 else "yellow",
            "model_hash": h,
        }
        for i, h in enumerate(["aaaa1111", "aaaa1111", "bbbb2222", "bbbb2222", "cccc3333"])
    ]
    figure = history_figure(rows, {"yellow": "#e0b000"})
    marks = [a["text"] for a in figure["layout"]["annotations"]]
    assert marks == ["model bbbb2222", "model cccc3333"]
    assert [s["x0"] for s in figure["layout"]["shapes"]] == ["2025-01-20", "2025-02-03"]
    assert "override; computed red" in figure["data"][0]["text"][3]


def test_the_waterfall_adds_signals_then_flags_to_the_score(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    flagged = con.execute(
        "SELECT account_id FROM scores WHERE snapshot_date = ? AND score < base_score "
        "AND gate_pass ORDER BY account_id LIMIT 1",
        [world.latest],
    ).fetchone()
    account = flagged[0] if flagged else world.alice_account
    explanation = account_view(con, "default", account).explanation
    trace = waterfall_figure(explanation)["data"][0]
    assert trace["measure"][-1] == "total" and trace["y"][-1] == "score"
    assert trace["x"][-1] == pytest.approx(explanation.score, abs=0.01)
    assert sum(trace["x"][:-1]) == pytest.approx(explanation.score, abs=0.05)
    if flagged:
        assert trace["y"][-2].startswith("flags:")
