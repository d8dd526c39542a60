"""Churn and renewals from billing: Stripe-like subscription files loaded by the real ingest."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from ingest_support import count
from typer.testing import CliRunner

from killing import kill_at_commit
from vitalsign.analytics.portfolio import portfolio_report
from vitalsign.cli import app
from vitalsign.engine.run import score
from vitalsign.engine.snapshots import read_scores
from vitalsign.ingest.billing import derive_billing
from vitalsign.ingest.files import load_file
from vitalsign.ingest.mapping import parse_mapping
from vitalsign.ingest.staging import LoadOptions
from vitalsign.ingest.sync import sync_workspace
from vitalsign.store.history import attributes_as_of
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace

NOW = dt.datetime(2024, 12, 31)
HEADER = (
    "id,customer_id,start_date,created,ended_at,canceled_at,status,quantity,mrr,_fivetran_active"
)
# the stripe_subscriptions format, with the MRR the test files carry
STRIPE = parse_mapping(
    {"format": "stripe_subscriptions", "columns": {"mrr": "mrr"}}, "test mapping"
)
Row = tuple[str, str, str, str | None, str, float]  # id, customer, start, end, status, mrr


def _write_subscriptions(path: Path, rows: list[Row]) -> Path:
    lines = [HEADER]
    for sub, customer, start, end, status, mrr in rows:
        canceled = end if status == "canceled" else ""
        lines.append(
            f"{sub},{customer},{start},{start},{end or ''},{canceled},{status},1,{mrr},true"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _workspace(tmp_path: Path, rows: list[Row], config: str = "") -> Workspace:
    """A workspace whose accounts and subscriptions were loaded from files by the real ingest."""
    root = tmp_path / "ws"
    init_workspace(root).close()
    if config:
        with (root / "vitalsign.yml").open("a", encoding="utf-8") as out:
            out.write(config)
    ws = open_workspace(root)
    customers = sorted({row[1] for row in rows})
    accounts = tmp_path / "customers.csv"
    accounts.write_text(
        "id,name,created\n" + "".join(f"{c},{c.title()},2023-01-01\n" for c in customers),
        encoding="utf-8",
    )
    load_file(ws, accounts, "accounts", _customers())
    load_file(ws, _write_subscriptions(tmp_path / "subs.csv", rows), None, STRIPE)
    return ws


def _customers() -> dict[str, str]:
    return {"account_id": "id", "name": "name", "created_at": "created"}


def _outcomes(ws: Workspace) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    rows = ws.duckdb.execute(
        "SELECT account_id, CAST(occurred_at AS DATE), kind, arr_before, arr_after "
        "FROM outcomes WHERE derived_from = 'subscriptions'"
    ).fetchall()
    return {(a, str(d), k): (before, after) for a, d, k, before, after in rows}


def _churned_at(ws: Workspace, account: str, at: str | None = None) -> dt.datetime | None:
    """churned_at today, or as it was in force at `at` (from the account's history)."""
    if at is None:
        sql = "SELECT churned_at FROM accounts WHERE account_id = ?"
        return ws.duckdb.execute(sql, [account]).fetchone()[0]  # type: ignore[no-any-return]
    relation = attributes_as_of(ws.duckdb, dt.datetime.fromisoformat(at))
    rows = relation.filter(f"account_id = '{account}'").fetchall()
    columns = relation.columns
    assert len(rows) == 1, rows
    return rows[0][columns.index("churned_at")]  # type: ignore[no-any-return]


def test_a_cancelled_subscription_churns_its_account_from_its_end(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_gone", "2023-01-01", "2024-03-01", "canceled", 100.0),
            ("sub_2", "cus_stays", "2023-01-01", None, "active", 50.0),
        ],
    )
    assert _churned_at(ws, "cus_gone") is None  # before: a cancellation never reached accounts
    report = derive_billing(ws, NOW)
    assert report.outcomes == {"churned": 1}
    assert _outcomes(ws) == {("cus_gone", "2024-03-01", "churned"): (1200.0, 0.0)}
    assert _churned_at(ws, "cus_gone") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_gone", "2024-02-15") is None  # point-in-time: not yet churned
    assert _churned_at(ws, "cus_gone", "2024-03-02") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_stays") is None
    assert (report.churned_accounts, report.churned_at_changed) == (1, 1)


def test_a_renewal_at_the_same_mrr_is_renewed_only(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_a", "2023-07-01", "2024-07-01", "expired", 100.0),
            ("sub_2", "cus_a", "2024-07-01", None, "active", 100.0),
        ],
    )
    derive_billing(ws, NOW)
    assert _outcomes(ws) == {("cus_a", "2024-07-01", "renewed"): (1200.0, 1200.0)}
    assert _churned_at(ws, "cus_a") is None


def test_a_plan_and_its_add_on_renewed_together_at_the_same_total_are_one_renewal(
    tmp_path: Path,
) -> None:
    # row by row, plan 100 -> 90 is a contraction and add-on 20 -> 30 an expansion
    ws = _workspace(
        tmp_path,
        [
            ("plan_1", "cus_a", "2023-07-01", "2024-07-01", "expired", 100.0),
            ("addon_1", "cus_a", "2023-07-01", "2024-07-01", "expired", 20.0),
            ("plan_2", "cus_a", "2024-07-01", None, "active", 90.0),
            ("addon_2", "cus_a", "2024-07-01", None, "active", 30.0),
        ],
    )
    derive_billing(ws, NOW)
    assert _outcomes(ws) == {("cus_a", "2024-07-01", "renewed"): (1440.0, 1440.0)}


def test_a_higher_mrr_at_renewal_is_an_expansion_and_a_lower_one_a_contraction(
    tmp_path: Path,
) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("up_1", "cus_up", "2023-07-01", "2024-07-01", "expired", 100.0),
            ("up_2", "cus_up", "2024-07-03", None, "active", 150.0),  # two days late: renewed
            ("down_1", "cus_down", "2023-05-01", "2024-05-01", "expired", 100.0),
            ("down_2", "cus_down", "2024-05-01", None, "active", 60.0),
        ],
    )
    report = derive_billing(ws, NOW)
    assert _outcomes(ws) == {
        ("cus_up", "2024-07-01", "renewed"): (1200.0, 1800.0),
        ("cus_up", "2024-07-01", "expanded"): (1200.0, 1800.0),
        ("cus_down", "2024-05-01", "renewed"): (1200.0, 720.0),
        ("cus_down", "2024-05-01", "contracted"): (1200.0, 720.0),
    }
    assert report.outcomes == {"renewed": 2, "expanded": 1, "contracted": 1}


def test_a_subscription_after_the_grace_period_reactivates_a_churned_account(
    tmp_path: Path,
) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0),
            ("sub_2", "cus_a", "2024-06-01", None, "active", 80.0),
        ],
    )
    derive_billing(ws, NOW)
    assert _outcomes(ws) == {
        ("cus_a", "2024-03-01", "churned"): (1200.0, 0.0),
        ("cus_a", "2024-06-01", "reactivated"): (0.0, 960.0),
    }
    assert _churned_at(ws, "cus_a") is None  # a customer again
    assert _churned_at(ws, "cus_a", "2024-02-01") is None
    assert _churned_at(ws, "cus_a", "2024-04-01") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_a", "2024-07-01") is None


@pytest.mark.parametrize(("grace", "churned"), [(30, True), (60, False)])
def test_an_expired_subscription_churns_only_once_the_grace_period_has_passed(
    tmp_path: Path, grace: int, churned: bool
) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("old", "cus_lapsed", "2023-11-15", "2024-11-15", "expired", 10.0),  # 46 days ago
            ("new", "cus_recent", "2023-12-20", "2024-12-20", "expired", 10.0),  # 11 days ago
            ("gap_1", "cus_gap", "2023-05-01", "2024-05-01", "expired", 10.0),
            ("gap_2", "cus_gap", "2024-05-21", None, "active", 10.0),  # 20 days later
        ],
        config=f"billing:\n  churn_after_days: {grace}\n",
    )
    derive_billing(ws, NOW)
    found = _outcomes(ws)
    assert (("cus_lapsed", "2024-11-15", "churned") in found) is churned
    assert (_churned_at(ws, "cus_lapsed") is not None) is churned
    assert _churned_at(ws, "cus_recent") is None  # may still renew
    assert ("cus_gap", "2024-05-01", "renewed") in found
    assert not any(key[0] == "cus_gap" and key[2] == "churned" for key in found)


def test_a_cancellation_that_ends_later_churns_only_once_its_end_has_passed(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path, [("sub_1", "cus_a", "2024-01-15", "2025-01-15", "canceled", 100.0)])
    assert derive_billing(ws, NOW).outcomes == {}  # still a customer until mid-January
    assert _churned_at(ws, "cus_a") is None
    derive_billing(ws, dt.datetime(2025, 1, 20))
    assert _churned_at(ws, "cus_a") == dt.datetime(2025, 1, 15)
    assert _churned_at(ws, "cus_a", "2025-01-10") is None


def test_deriving_again_changes_nothing_and_keeps_loaded_outcomes(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0),
            ("sub_2", "cus_a", "2024-06-01", None, "active", 80.0),
            ("sub_3", "cus_b", "2023-01-01", None, "active", 10.0),
        ],
    )
    loaded = tmp_path / "outcomes.csv"
    loaded.write_text("account,at,kind\ncus_b,2024-02-01,expanded\ncus_a,2024-03-01,churned\n")
    columns = {"account_id": "account", "occurred_at": "at", "kind": "kind"}
    load_file(ws, loaded, "outcomes", columns)
    first = derive_billing(ws, NOW)
    assert first.kept_loaded == 1  # cus_a's churn was loaded already: the loaded row stays
    rows = ws.duckdb.execute("SELECT * FROM outcomes ORDER BY ALL").fetchall()
    versions = count(ws, "SELECT count(*) FROM account_history")
    second = derive_billing(ws, NOW)
    assert ws.duckdb.execute("SELECT * FROM outcomes ORDER BY ALL").fetchall() == rows
    assert count(ws, "SELECT count(*) FROM account_history") == versions
    assert (second.added, second.removed, second.churned_at_changed) == (0, 0, 0)
    assert count(ws, "SELECT count(*) FROM outcomes WHERE derived_from IS NULL") == 2
    assert _churned_at(ws, "cus_a", "2024-04-01") == dt.datetime(2024, 3, 1)


def test_a_renewal_that_arrives_late_undoes_the_churn(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, [("sub_1", "cus_a", "2023-12-20", "2024-12-20", "canceled", 100.0)])
    derive_billing(ws, NOW)
    assert _churned_at(ws, "cus_a") == dt.datetime(2024, 12, 20)
    more = [
        ("sub_1", "cus_a", "2023-12-20", "2024-12-20", "canceled", 100.0),
        ("sub_2", "cus_a", "2024-12-28", None, "active", 100.0),
    ]
    load_file(ws, _write_subscriptions(tmp_path / "later.csv", more), None, STRIPE)
    report = derive_billing(ws, NOW)
    assert (report.added, report.removed) == (1, 1)
    assert _outcomes(ws) == {("cus_a", "2024-12-20", "renewed"): (1200.0, 1200.0)}
    assert _churned_at(ws, "cus_a") is None
    assert _churned_at(ws, "cus_a", "2024-12-24") is None


def test_a_corrected_end_date_removes_a_churn_and_its_reactivation(tmp_path: Path) -> None:
    first = [
        ("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0),
        ("sub_2", "cus_a", "2024-06-01", None, "active", 100.0),
    ]
    ws = _workspace(tmp_path, first)
    derive_billing(ws, NOW)
    assert _churned_at(ws, "cus_a", "2024-04-01") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_a") is None
    fixed = [("sub_1", "cus_a", "2023-01-01", "2024-05-20", "expired", 100.0), first[1]]
    report = load_file(ws, _write_subscriptions(tmp_path / "fixed.csv", fixed), None, STRIPE)
    assert report.updated == 1
    derive_billing(ws, NOW)
    assert _outcomes(ws) == {("cus_a", "2024-05-20", "renewed"): (1200.0, 1200.0)}
    for day in ("2024-02-01", "2024-04-01", "2024-07-01"):
        assert _churned_at(ws, "cus_a", day) is None, day


SNAPSHOT = LoadOptions(snapshot=True, allow_deletes=True)


def _deleted_at(ws: Workspace, subscription: str) -> dt.datetime:
    sql = "SELECT deleted_at FROM subscriptions WHERE subscription_id = ?"
    deleted: dt.datetime = ws.duckdb.execute(sql, [subscription]).fetchone()[0]
    assert deleted is not None
    return deleted


def test_a_snapshot_that_drops_an_ended_subscription_keeps_its_churn(tmp_path: Path) -> None:
    # billing exports often list current subscriptions only (Stripe leaves cancelled ones out)
    gone = ("sub_1", "cus_gone", "2023-01-01", "2024-03-01", "canceled", 100.0)
    stays = ("sub_2", "cus_stays", "2023-01-01", None, "active", 50.0)
    ws = _workspace(tmp_path, [gone, stays])
    derive_billing(ws, NOW)
    assert _churned_at(ws, "cus_gone") == dt.datetime(2024, 3, 1)
    current = _write_subscriptions(tmp_path / "current.csv", [stays])
    assert load_file(ws, current, None, STRIPE, options=SNAPSHOT).deleted == 1
    later = _deleted_at(ws, "sub_1") + dt.timedelta(days=1)
    report = derive_billing(ws, later)
    assert (report.added, report.removed, report.churned_at_changed) == (0, 0, 0)
    assert _outcomes(ws) == {("cus_gone", "2024-03-01", "churned"): (1200.0, 0.0)}
    assert _churned_at(ws, "cus_gone") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_gone", "2024-04-01") == dt.datetime(2024, 3, 1)
    assert _churned_at(ws, "cus_stays") is None


def test_an_open_subscription_gone_from_a_snapshot_ends_when_it_vanished(tmp_path: Path) -> None:
    vanishes = ("sub_1", "cus_a", "2023-01-01", None, "active", 100.0)
    stays = ("sub_2", "cus_b", "2023-01-01", None, "active", 50.0)
    ws = _workspace(tmp_path, [vanishes, stays])
    current = _write_subscriptions(tmp_path / "current.csv", [stays])
    load_file(ws, current, None, STRIPE, options=SNAPSHOT)
    gone = _deleted_at(ws, "sub_1")
    assert derive_billing(ws, gone + dt.timedelta(days=1)).outcomes == {}  # may still renew
    assert _churned_at(ws, "cus_a") is None
    derive_billing(ws, gone + dt.timedelta(days=31))  # the grace period (30 days) has passed
    assert _outcomes(ws) == {
        ("cus_a", str(gone.date()), "churned"): (1200.0, 0.0),
    }
    assert _churned_at(ws, "cus_a") == gone
    assert _churned_at(ws, "cus_a", (gone - dt.timedelta(days=1)).isoformat()) is None
    assert _churned_at(ws, "cus_b") is None


def test_turning_the_derivation_off_derives_nothing(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        [("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0)],
        config="billing:\n  derive: false\n",
    )
    assert not derive_billing(ws, NOW).derived
    assert count(ws, "SELECT count(*) FROM outcomes") == 0
    assert _churned_at(ws, "cus_a") is None


DERIVE = (
    "import sys, datetime as dt; from vitalsign.ingest.billing import derive_billing; "
    "from vitalsign.store.workspace import open_workspace; "
    "derive_billing(open_workspace(sys.argv[1]), dt.datetime(2024, 12, 31))"
)


def test_a_derivation_killed_before_its_commit_leaves_nothing(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0),
            ("sub_2", "cus_b", "2023-07-01", "2024-07-01", "expired", 100.0),
            ("sub_3", "cus_b", "2024-07-01", None, "active", 100.0),
        ],
    )
    versions = count(ws, "SELECT count(*) FROM account_history")
    ws.close()
    kill_at_commit([sys.executable, "-c", DERIVE, str(tmp_path / "ws")], tmp_path / "holding")
    ws = open_workspace(tmp_path / "ws")
    assert count(ws, "SELECT count(*) FROM outcomes") == 0
    assert count(ws, "SELECT count(*) FROM accounts WHERE churned_at IS NOT NULL") == 0
    assert count(ws, "SELECT count(*) FROM account_history") == versions
    assert derive_billing(ws, NOW).outcomes == {"churned": 1, "renewed": 1}
    ws.close()


def test_derive_outcomes_command_prints_what_it_derived(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, [("sub_1", "cus_a", "2023-01-01", "2024-03-01", "canceled", 100.0)])
    ws.close()
    runner = CliRunner()
    args = ["derive-outcomes", "--as-of", "2024-12-31", "-w", str(tmp_path / "ws")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 churned" in result.output and "1 account churned" in result.output
    bad = runner.invoke(app, ["derive-outcomes", "--as-of", "soon", "-w", str(tmp_path / "ws")])
    assert bad.exit_code != 0


SOURCES = """sources:
  - name: stripe_customers
    path: data/customers.csv
    into: accounts
    columns: {account_id: id, name: name, created_at: created}
  - name: stripe_subscriptions
    path: data/subscriptions.csv
    format: stripe_subscriptions
    columns: {mrr: mrr}
"""


def test_a_churned_account_is_scored_before_its_churn_and_never_after(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    with (root / "vitalsign.yml").open("a", encoding="utf-8") as out:
        out.write(SOURCES)
    data = root / "data"
    data.mkdir()
    (data / "customers.csv").write_text(
        "id,name,created\ncus_gone,Gone,2023-01-01\ncus_back,Back,2023-01-01\n"
        "cus_stays,Stays,2023-01-01\n",
        encoding="utf-8",
    )
    rows: list[Row] = [
        ("sub_1", "cus_gone", "2023-01-01", "2024-03-01", "canceled", 100.0),
        ("sub_2", "cus_back", "2023-01-01", "2024-03-01", "canceled", 100.0),
        ("sub_3", "cus_back", "2024-06-01", None, "active", 100.0),
        ("sub_4", "cus_stays", "2023-01-01", None, "active", 100.0),
    ]
    _write_subscriptions(data / "subscriptions.csv", rows)
    ws = open_workspace(root)
    synced = sync_workspace(ws, show_progress=False)  # sources, then the billing derivation
    assert synced.ok and synced.billing is not None and synced.billing.churned_accounts == 1
    assert _churned_at(ws, "cus_gone") == dt.datetime(2024, 3, 1)
    derive_billing(ws, NOW)  # as of the tests' fixed moment
    model = ws.load_model()
    scored = {}
    for day in (dt.date(2024, 2, 1), dt.date(2024, 4, 1), dt.date(2024, 7, 1)):
        score(ws, day, model)
        scored[day] = set(read_scores(ws.duckdb, model.name, day)["account_id"])
    assert scored[dt.date(2024, 2, 1)] == {"cus_gone", "cus_back", "cus_stays"}
    assert scored[dt.date(2024, 4, 1)] == {"cus_stays"}
    assert scored[dt.date(2024, 7, 1)] == {"cus_back", "cus_stays"}  # reactivated in June
    report = portfolio_report(ws.duckdb, model.spec, dt.date(2024, 7, 1))
    assert "cus_gone" not in set(report.insufficient["account_id"])
    assert report.total_accounts == 2
    ws.close()


def test_an_export_of_last_year_is_judged_as_of_its_end_not_today(tmp_path: Path) -> None:
    # the export ends 2024-01-15 (its latest subscription start); cus_annual's period is
    # scheduled to end 2024-06-30, long before today but after the export: not a churn
    ws = _workspace(
        tmp_path,
        [
            ("sub_1", "cus_annual", "2023-07-01", "2024-06-30", "active", 100.0),
            ("sub_2", "cus_gone", "2023-01-01", "2023-11-01", "canceled", 50.0),
            ("sub_3", "cus_new", "2024-01-15", "2024-02-15", "active", 10.0),
        ],
    )
    report = derive_billing(ws)
    assert report.outcomes == {"churned": 1}
    assert _churned_at(ws, "cus_annual") is None
    assert _churned_at(ws, "cus_gone") == dt.datetime(2023, 11, 1)
    today = derive_billing(ws, dt.datetime.now())  # as of today, every period has ended
    assert today.outcomes["churned"] == 3
