"""Calibrating a model on churn that no score predicts says so first, and renames the proposal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from histories import permuted

import vitalsign.analytics.calibrate as calibrate_module
from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.outcomes import read_outcomes
from vitalsign.analytics.proposal import proposed_name
from vitalsign.model.loader import load_model
from vitalsign.rendering import to_text
from vitalsign.store.workspace import Workspace

TODAY = dt.date(2026, 12, 3)


@pytest.fixture(scope="module")
def no_signal(demo_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Calibration:
    """The starter model calibrated against outcomes given to random accounts."""
    shuffled = permuted(read_outcomes(demo_workspace.duckdb))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calibrate_module, "read_outcomes", lambda *args, **kwargs: shuffled)
        output = tmp_path_factory.mktemp("noise") / "default.proposed.yml"
        return calibrate(demo_workspace, output=output, replicates=100, today=TODAY)


def test_an_auc_change_whose_interval_holds_zero_is_not_supported(no_signal: Calibration) -> None:
    change = no_signal.validation.auc_change
    assert change.contains(0.0), change
    assert not no_signal.validation.supported
    assert no_signal.verdict.startswith("no improvement supported: AUC change ")
    assert no_signal.to_dict()["supported"] is False


def test_the_summary_says_so_first_and_marks_the_band_moves_unsupported(
    no_signal: Calibration,
) -> None:
    from vitalsign.analytics.renderables import calibration_renderable

    text = to_text(calibration_renderable(no_signal), width=160)
    first = text.strip().splitlines()[0]
    assert first.startswith("no improvement supported: AUC change "), first
    assert str(no_signal.validation.auc_change) in first
    assert "unsupported band moves" in text
    assert "Band moves on" in text and "(unsupported: no AUC improvement)" in text


def test_the_proposal_gets_its_own_model_name(
    no_signal: Calibration, demo_workspace: Workspace
) -> None:
    original = demo_workspace.load_model().name
    assert no_signal.path is not None
    written = load_model(no_signal.path)
    assert written.name == f"{original}-proposed-2026-12-03" == no_signal.proposed.name
    assert written.hash == no_signal.proposed.hash
    assert no_signal.path.read_text(encoding="utf-8").startswith("# NOT SUPPORTED: ")
    assert no_signal.comparison.name_b == written.name != no_signal.comparison.name_a


def test_a_proposal_of_a_proposal_replaces_the_date_suffix() -> None:
    assert proposed_name("default", TODAY) == "default-proposed-2026-12-03"
    assert proposed_name("default-proposed-2026-01-02", TODAY) == "default-proposed-2026-12-03"


def test_a_real_improvement_is_reported_as_supported(
    demo_workspace: Workspace, tmp_path: Path
) -> None:
    model = demo_workspace.load_model("models/bad.yml")
    result = calibrate(demo_workspace, model, output=tmp_path / "bad.yml", replicates=50)
    assert result.validation.supported
    assert result.verdict.startswith("improvement supported: AUC change ")
    assert result.proposed.name.startswith("bad-proposed-")
    assert "NOT SUPPORTED" not in result.text
