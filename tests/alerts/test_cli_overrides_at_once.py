"""`vitalsign override` re-scores the account's latest snapshot at once; a scoring run keeps it.

The tiny world (tests/world.py) scored on two dates: A is yellow (60) on T, its CSM rating
green (100 points). Overriding the rating to red (0 points) takes 12.5 points off: the
rating is one of two voice signals, and voice one of three groups (weights 2, 1, 1).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.run import backfill, score
from vitalsign.store.workspace import Workspace, open_workspace
from world import FIXTURES, T

WEEK = dt.timedelta(days=7)


@pytest.fixture
def scored(tiny_workspace: Workspace) -> Path:
    """The tiny world scored on T − 7 days and T by its model, whose CSM rating is overridable."""
    text = (FIXTURES / "models" / "tiny.yml").read_text(encoding="utf-8")
    tiny_workspace.model_path.write_text(text + "overrides: {signals: [csm]}\n", encoding="utf-8")
    backfill(tiny_workspace, [T - WEEK, T], show_progress=False)
    tiny_workspace.close()
    return tiny_workspace.root


def _run(root: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "-w", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _rows(root: Path, account: str) -> list[tuple[str, float, str, str]]:
    workspace = open_workspace(root)
    rows = workspace.duckdb.execute(
        "SELECT CAST(snapshot_date AS VARCHAR), score, band, computed_band FROM scores "
        "WHERE account_id = ? ORDER BY snapshot_date",
        [account],
    ).fetchall()
    workspace.close()
    return [(str(d), float(s), str(b), str(c)) for d, s, b, c in rows]


def test_a_band_override_from_the_cli_shows_at_once_and_survives_a_scoring_run(
    scored: Path,
) -> None:
    before = _rows(scored, "A")
    assert before == [
        ("2024-02-23", 55.0, "yellow", "yellow"),
        ("2024-03-01", 60.0, *["yellow"] * 2),
    ]
    out = _run(scored, "override", "A", "--band", "red", "--reason", "exec left", "--by", "ann")
    assert "the snapshot of 2024-03-01 now shows red (computed yellow)" in out
    assert _rows(scored, "A") == [before[0], ("2024-03-01", 60.0, "red", "yellow")]
    report = json.loads(_run(scored, "report", "--format", "json"))  # one line is still JSON
    assert [(o["account_id"], o["band"]) for o in report["overrides"]] == [("A", "red")]
    assert "red (override; computed yellow)" in _run(scored, "explain", "A")
    workspace = open_workspace(scored)
    score(workspace, T)  # scoring the same date again keeps the override
    actions = workspace.duckdb.execute(
        "SELECT actor, action, detail FROM audit_log ORDER BY logged_at"
    ).fetchall()
    workspace.close()
    assert _rows(scored, "A")[1] == ("2024-03-01", 60.0, "red", "yellow")
    assert [(a, b) for a, b, _ in actions] == [("ann", "override.add"), ("ann", "override.rescore")]
    assert json.loads(actions[1][2])["band"] == ["yellow", "red"]


def test_a_signal_override_rescores_the_account_and_a_revocation_ends_it_at_once(
    scored: Path,
) -> None:
    others = _rows(scored, "B")
    out = _run(scored, "override", "A", "--signal", "csm", "--value", "red", "--reason", "QBR")
    assert "the snapshot of 2024-03-01 now shows yellow" in out
    assert _rows(scored, "A")[1] == ("2024-03-01", 47.5, "yellow", "yellow")
    assert _rows(scored, "B") == others  # other accounts are left as they were
    explained = json.loads(_run(scored, "explain", "A", "--format", "json"))
    csm = [s for s in explained["signals"] if s["name"] == "csm"]
    assert [(s["raw"], s["points"]) for s in csm] == [("red (override; computed green)", 0.0)]
    oid = _run(scored, "override", "A", "--band", "green", "--reason", "gut").split()[1]
    assert _rows(scored, "A")[1][2:] == ("green", "yellow")
    out = _run(scored, "override", "--revoke", oid, "--reason", "changed my mind")
    assert "revoked; the snapshot of 2024-03-01 now shows yellow" in out
    assert _rows(scored, "A")[1] == ("2024-03-01", 47.5, "yellow", "yellow")
    workspace = open_workspace(scored)
    score(workspace, T)  # the run agrees: the signal override stays, the band one is gone
    workspace.close()
    assert _rows(scored, "A")[1] == ("2024-03-01", 47.5, "yellow", "yellow")


def test_an_override_of_an_account_without_a_snapshot_applies_from_the_next_run(
    workspace: Workspace,
) -> None:
    root = workspace.root
    workspace.close()
    out = _run(root, "override", "acct-9", "--band", "red", "--reason", "new logo at risk")
    assert "recorded for acct-9; it applies from the next scoring run" in out


def test_an_earlier_overrides_table_gets_the_new_columns(workspace: Workspace) -> None:
    con = workspace.duckdb
    con.execute("ALTER TABLE overrides DROP COLUMN applies_from")
    con.execute("ALTER TABLE overrides DROP COLUMN revoked_from")
    root = workspace.root
    workspace.close()
    reopened = open_workspace(root)
    columns = {
        r[0]
        for r in reopened.duckdb.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'overrides'"
        ).fetchall()
    }
    reopened.close()
    assert {"applies_from", "revoked_from"} <= columns
