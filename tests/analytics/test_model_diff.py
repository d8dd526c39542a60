"""`diff` re-scores history under two models: AUCs, band moves and the accounts affected."""

from __future__ import annotations

import pytest

from vitalsign.analytics.diff import ModelComparison, diff_models
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="module")
def starter_vs_bad(demo_workspace: Workspace) -> ModelComparison:
    """The starter model against the bad model, on every other stored date."""
    dates = snapshot_dates(demo_workspace.duckdb, "default")[::2]
    starter = demo_workspace.load_model()
    bad = demo_workspace.load_model("models/bad.yml")
    return diff_models(demo_workspace, starter, bad, dates, replicates=100)


def test_a_model_compared_with_itself_changes_nothing(demo_workspace: Workspace) -> None:
    model = demo_workspace.load_model()
    dates = snapshot_dates(demo_workspace.duckdb, "default")[-8:-4]
    same = diff_models(demo_workspace, model, model, dates, replicates=20)
    assert same.auc_difference.value == 0
    assert same.changed.empty
    assert same.auc_a == same.auc_b


def test_the_worse_model_loses_auc_and_moves_accounts(starter_vs_bad: ModelComparison) -> None:
    cmp = starter_vs_bad
    assert cmp.auc_difference.high < 0
    assert cmp.auc_a.value > cmp.auc_b.value
    assert 0 < len(cmp.changed) < cmp.accounts_latest
    assert cmp.changed_share == len(cmp.changed) / cmp.accounts_latest
    moves = cmp.moves.to_numpy()
    assert moves.sum() == cmp.accounts_latest


def test_the_diff_names_both_models_and_their_hashes(
    starter_vs_bad: ModelComparison, bad_model: LoadedModel
) -> None:
    payload = starter_vs_bad.to_dict()
    assert payload["model_a"]["name"] == "default"
    assert payload["model_b"] == {"name": "bad", "hash": bad_model.hash}
    assert payload["changed"][0].keys() >= {"account_id", "band_a", "band_b", "arr"}
