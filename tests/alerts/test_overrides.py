"""Overrides: expiry, shown beside the computed band in reports, listing and revoking with audit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from vitalsign.alerts.overrides import list_overrides, revoke_override
from vitalsign.analytics.portfolio import portfolio_report
from vitalsign.cli import app
from vitalsign.engine.run import backfill
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel
from vitalsign.rendering import report_renderable, to_text
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace
from world import T

runner = CliRunner()
WEEK = dt.timedelta(days=7)


def _bands(ws: Workspace, account: str) -> list[tuple[str, str, str]]:
    rows = ws.duckdb.execute(
        "SELECT CAST(snapshot_date AS VARCHAR), band, computed_band FROM scores "
        "WHERE account_id = ? ORDER BY snapshot_date",
        [account],
    ).fetchall()
    return [(str(d), str(b), str(c)) for d, b, c in rows]


def test_a_band_override_applies_until_its_expiry_date_and_scoring_never_touches_it(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    oid = add_override(
        con,
        "A",
        "band",
        "red",
        "exec sponsor told us they are evaluating a competitor",
        "ann",
        expires_at=dt.datetime.combine(T + WEEK, dt.time()),
        created_at=dt.datetime(2024, 2, 1),
    )
    before = con.execute("SELECT * FROM overrides").fetchall()
    backfill(tiny_workspace, [T, T + WEEK], tiny_model, show_progress=False)
    assert _bands(tiny_workspace, "A") == [
        ("2024-03-01", "red", "yellow"),  # in force: the band is overridden, the computed kept
        ("2024-03-08", "yellow", "yellow"),  # expired at the start of its date
    ]
    assert con.execute("SELECT * FROM overrides").fetchall() == before
    expired = list_overrides(con, include_inactive=True, at=dt.datetime(2024, 3, 9))
    assert list(expired["state"]) == ["expired"] and expired["override_id"][0] == oid
    assert list_overrides(con, at=dt.datetime(2024, 3, 9)).empty


def test_the_portfolio_report_shows_overrides_beside_the_computed_band(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    add_override(
        tiny_workspace.duckdb,
        "A",
        "band",
        "red",
        "gut call",
        "ann",
        created_at=dt.datetime(2024, 2, 1),
    )
    backfill(tiny_workspace, [T], tiny_model, show_progress=False)
    report = portfolio_report(tiny_workspace.duckdb, tiny_model.spec)
    text = to_text(report_renderable(report))
    assert "Band overrides in force" in text and "red (override; computed yellow)" in text
    overrides = report.to_dict()["overrides"]
    assert [(o["account_id"], o["band"], o["computed_band"]) for o in overrides] == [
        ("A", "red", "yellow")
    ]
    assert "overrides" in set(report.to_csv_frame()["section"])


def test_an_override_is_revoked_with_a_reason_and_an_audit_entry(workspace: Workspace) -> None:
    con = workspace.duckdb
    oid = add_override(con, "A", "band", "green", "renewal signed", "ann")
    assert list(list_overrides(con)["override_id"]) == [oid]
    with pytest.raises(AlertError, match="needs a reason"):
        revoke_override(con, oid, "bob", "")
    revoke_override(con, oid, "bob", "renewal fell through")
    assert list_overrides(con).empty
    assert list(list_overrides(con, include_inactive=True)["state"]) == ["revoked"]
    actions = con.execute(
        "SELECT actor, action, detail FROM audit_log ORDER BY logged_at"
    ).fetchall()
    assert [(a, b) for a, b, _ in actions] == [("ann", "override.add"), ("bob", "override.revoke")]
    assert json.loads(actions[1][2]) == {"id": oid, "reason": "renewal fell through"}
    with pytest.raises(AlertError, match="already revoked"):
        revoke_override(con, oid, "bob", "again")
    with pytest.raises(AlertError, match="no override"):
        revoke_override(con, "nope", "bob", "x")


def test_the_override_command_records_lists_and_revokes(workspace: Workspace) -> None:
    ws = str(workspace.root)
    workspace.close()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "-w", ws], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("override", "acct-1", "--band", "red", "--reason", "gut", "--until", "2099-01-01")
    oid = out.split()[1]
    assert "acct-1" in run("override", "--list") and oid in run("overrides", "--all")
    assert "revoked" in run("override", "--revoke", oid, "--reason", "mistake", "--by", "bob")
    assert oid not in run("overrides")
    assert "revoked" in run("overrides", "--all")
    signal = run(
        "override", "acct-2", "--signal", "csm_rating", "--value", "green", "--reason", "QBR"
    )
    assert "recorded for acct-2" in signal
    listed = run("overrides", "acct-2")
    assert "csm_rating" in listed and "green" in listed
    failed = runner.invoke(app, ["override", "acct-1", "--reason", "x", "-w", ws])
    assert failed.exit_code == 1 and "--band BAND or --signal" in str(failed.exception)
