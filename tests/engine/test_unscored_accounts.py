"""`vitalsign score` says how many loaded accounts it left out and why, never silently."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.run import compute_scores
from vitalsign.engine.unscored import unscored_accounts
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace, init_workspace
from world import FIXTURES, MIDNIGHT, T, load_tiny_world


def test_the_counts_and_the_scored_accounts_add_up_to_the_loaded_ones(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    for day in (T, T + dt.timedelta(days=30)):
        scored = compute_scores(tiny_workspace.backend, tiny_model, [day]).scores
        left_out = unscored_accounts(tiny_workspace.duckdb, day)
        assert left_out.loaded == 5
        assert len(scored) + left_out.total == left_out.loaded
    at_t = unscored_accounts(tiny_workspace.duckdb, T)
    assert (at_t.created_on_or_after, at_t.churned_before) == (1, 1)  # D starts after T, E left


def test_an_account_created_exactly_on_the_date_is_counted_as_not_yet_a_customer(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    tiny_workspace.duckdb.execute(
        "INSERT INTO accounts (account_id, name, created_at) VALUES ('F', 'Foxtrot', ?)",
        [MIDNIGHT],
    )
    scored = compute_scores(tiny_workspace.backend, tiny_model, [T]).scores
    assert "F" not in set(scored["account_id"])
    left_out = unscored_accounts(tiny_workspace.duckdb, T)
    assert left_out.created_on_or_after == 2
    assert "2 of 6 loaded accounts were created on or after 2024-03-01" in left_out.lines()[0]


def test_score_prints_the_accounts_it_left_out(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    load_tiny_world(ws.duckdb)
    ws.close()
    model = str(FIXTURES / "models" / "tiny.yml")
    args = ["score", "--as-of", T.isoformat(), "-m", model, "-w", str(tmp_path / "ws")]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Scored 3 accounts" in out
    assert "Not scored: 1 of 5 loaded accounts were created on or after 2024-03-01" in out
    assert "Not scored: 1 of 5 loaded accounts churned before 2024-03-01" in out
