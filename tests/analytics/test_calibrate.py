"""Calibration repairs a bad model out of time and writes a readable, valid model file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from ruamel.yaml import YAML

from vitalsign.analytics.bands import assign_bands
from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.history import read_history
from vitalsign.engine.run import compute_scores
from vitalsign.errors import BacktestError
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace


@pytest.fixture(scope="module")
def repaired(demo_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Calibration:
    """The bad model calibrated with the defaults (same band shares, groups kept)."""
    model = demo_workspace.load_model("models/bad.yml")
    output = tmp_path_factory.mktemp("proposal") / "bad.proposed.yml"
    return calibrate(demo_workspace, model, output=output, replicates=100)


def _document(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = YAML(typ="safe").load(path.read_text())
    return loaded


def test_calibration_improves_the_out_of_time_auc_of_a_bad_model(repaired: Calibration) -> None:
    v = repaired.validation
    assert v.mode == "out-of-time"
    assert v.new_auc.value > v.old_auc.value + 0.1
    assert v.new_auc.low > v.old_auc.value
    assert repaired.comparison.auc_difference.low > 0


def test_it_trains_on_earlier_snapshots_one_horizon_before_the_test_ones(
    repaired: Calibration,
) -> None:
    v = repaired.validation
    assert v.train_dates[-1] + dt.timedelta(days=90) <= v.test_dates[0]
    assert repaired.comparison.rows > 0
    assert {d.isoformat() for d in v.test_dates} == set(
        repaired.to_dict()["validation"]["test_dates"]
    )


def test_the_proposal_is_a_valid_readable_model_with_non_negative_weights(
    repaired: Calibration,
) -> None:
    assert repaired.path is not None and repaired.path.exists()
    proposed = load_model(repaired.path)
    assert proposed.hash == repaired.proposed.hash
    text = repaired.path.read_text()
    assert text.startswith("# Proposed by `vitalsign calibrate`")
    assert "# A deliberately bad model" in text  # the original comments are kept
    groups = proposed.spec.scorecards["default"]
    weights = {s: w for g in groups.values() for s, w in g.signals.items()}
    assert all(w is not None and w > 0 for w in weights.values())
    assert "logins_30d" not in weights  # scored the wrong way round: no weight
    fit = repaired.fits[0]
    assert fit.refitted and abs(sum(fit.new.values()) - 100) < 1e-6
    assert fit.new["csm_rating"] > fit.old["csm_rating"]


def test_band_thresholds_keep_the_old_models_alert_volume(
    repaired: Calibration, demo_workspace: Workspace
) -> None:
    assert "old model's band shares" in repaired.band_rule
    old = repaired.comparison.bands_a.set_index("band")["share"]
    new = repaired.comparison.bands_b.set_index("band")["share"]
    assert abs(new["red"] - old["red"]) < 0.06
    assert [b.name for b in repaired.new_bands] == ["green", "yellow", "red"]


def test_moved_accounts_are_listed_with_their_old_and_new_bands(repaired: Calibration) -> None:
    c = repaired.comparison
    moves = c.moves.to_numpy()
    assert len(c.changed) == moves.sum() - moves.trace()
    assert (c.changed["band_a"] != c.changed["band_b"]).all()
    assert list(c.changed["arr"]) == sorted(c.changed["arr"], reverse=True)


def test_rebanding_agrees_with_the_scoring_engine(
    repaired: Calibration, demo_workspace: Workspace
) -> None:
    day = repaired.validation.test_dates[0]
    scored = compute_scores(demo_workspace.backend, repaired.proposed, [day]).scores
    assert (assign_bands(scored, repaired.proposed.spec) == scored["computed_band"]).all()


def test_reversing_wrong_way_signals_and_target_churn_rates(
    demo_workspace: Workspace, bad_model: LoadedModel, tmp_path: Path
) -> None:
    result = calibrate(
        demo_workspace, bad_model, rates={"red": 0.12, "yellow": 0.03}, reverse=True,
        output=tmp_path / "turned.yml", replicates=50,
    )  # fmt: skip
    assert result.reversed_signals == ["logins_30d"]
    document = _document(tmp_path / "turned.yml")
    signals = document["signals"]
    assert isinstance(signals, dict)
    assert signals["logins_30d"]["scale"]["better"] == "higher"
    assert result.fits[0].new["logins_30d"] > 0
    assert "target churn rates" in result.band_rule
    history = read_history(demo_workspace.duckdb, bad_model)
    assert history.dates  # the stored history was used for training
    tested = result.comparison.bands_b.set_index("band")
    assert tested.loc["red", "churn_rate"] > tested.loc["green", "churn_rate"]


def test_a_flat_proposal_has_one_group_per_scorecard(
    demo_workspace: Workspace, bad_model: LoadedModel, tmp_path: Path
) -> None:
    result = calibrate(
        demo_workspace, bad_model, flat=True, shares={"red": 0.1, "yellow": 0.3},
        output=tmp_path / "flat.yml", replicates=20,
    )  # fmt: skip
    groups = load_model(tmp_path / "flat.yml").spec.scorecards["default"]
    assert list(groups) == ["calibrated"]
    assert "band shares red 10%" in result.band_rule


def test_a_history_too_short_to_split_is_refused(
    demo_workspace: Workspace, bad_model: LoadedModel, tmp_path: Path
) -> None:
    with pytest.raises(BacktestError, match="too short"):
        calibrate(demo_workspace, bad_model, horizon_days=500, output=tmp_path / "x.yml")


def test_the_summary_shows_weights_bands_and_the_alert_list(repaired: Calibration) -> None:
    from vitalsign.analytics.renderables import calibration_renderable
    from vitalsign.rendering import to_text

    text = to_text(calibration_renderable(repaired), width=140)
    assert "out-of-time" in text and "old weight" in text and "new weight" in text
    assert "Alert list (red) on the test dates: old holds" in text
    assert "accounts change band" in text


def test_rebanding_gives_insufficient_data_on_low_coverage_even_when_the_gate_failed(
    repaired: Calibration,
) -> None:
    spec = repaired.proposed.spec
    low = spec.min_coverage / 2
    scored = pd.DataFrame(
        {
            "score": [0.0, 0.0, 90.0],
            "coverage": [low, 1.0, low],
            "gate_pass": [False, False, True],
            "flags": ["[]", "[]", "[]"],
        }
    )
    bands = list(assign_bands(scored, spec))
    assert bands == [spec.insufficient_band, spec.band_names[-1], spec.insufficient_band]
