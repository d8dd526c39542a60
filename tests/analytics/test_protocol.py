"""Calibrate reports out-of-sample figures only: per fold, pooled on one scale, and a holdout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.datasets.saas_churn import load_saas_churn
from vitalsign.analytics.holdout import holdout_accounts
from vitalsign.analytics.protocol import CardRows, Spread, to_probability
from vitalsign.analytics.weight_stability import stability, unstable
from vitalsign.analytics.weights import Node
from vitalsign.engine.run import score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace, init_workspace

SAAS = Path(__file__).parents[1] / "fixtures" / "saas_churn" / "churn.csv"


def _saas(folder: Path) -> tuple[Workspace, LoadedModel, object]:
    workspace = init_workspace(folder)
    info = load_saas_churn(workspace, SAAS)
    model = workspace.load_model(info.model_path)
    score(workspace, info.snapshot, model)
    return workspace, model, info


def _calibrate(workspace: Workspace, model: LoadedModel, info: object, out: Path) -> Calibration:
    return calibrate(
        workspace, model, info.horizon_days, until=info.observed_until,  # type: ignore[attr-defined]
        reverse=True, output=out, replicates=50, holdout_share=0.2,
    )  # fmt: skip


@pytest.fixture(scope="module")
def one_date(tmp_path_factory: pytest.TempPathFactory) -> Calibration:
    """saas_churn (one snapshot date, 600 accounts) calibrated with 20% of accounts held out."""
    folder = tmp_path_factory.mktemp("saas")
    workspace, model, info = _saas(folder / "ws")
    result = _calibrate(workspace, model, info, folder / "p.yml")
    workspace.close()
    return result


def test_one_date_is_validated_by_account_folds_and_says_so(one_date: Calibration) -> None:
    p = one_date.validation.protocol
    assert p is not None and p.method == "account folds"
    assert len(p.folds) == 5 and "5 account folds" in p.how
    assert one_date.comparison_sample.startswith("in-sample")
    document = one_date.to_dict()
    assert document["validation"]["protocol"]["pooled"]["scale"].startswith("churn probability")
    assert document["comparison_sample"].startswith("in-sample")


def test_the_pooled_auc_does_not_understate_every_fold(one_date: Calibration) -> None:
    p = one_date.validation.protocol
    assert p is not None
    assert p.new_over_folds.count == 5 and p.new_over_folds.sd > 0
    assert p.pooled_new.value >= p.new_over_folds.low - 0.005
    assert p.pooled_new.value <= p.new_over_folds.high + 0.005
    assert one_date.validation.new_auc == p.pooled_new  # the headline is the pooled figure


def test_one_penalty_serves_every_fold_and_the_final_fit(one_date: Calibration) -> None:
    p = one_date.validation.protocol
    assert p is not None
    assert p.penalties == {fit.scorecard: fit.penalty for fit in one_date.fits if fit.refitted}


def test_held_out_accounts_are_in_no_fold_and_checked_at_the_end(one_date: Calibration) -> None:
    p = one_date.validation.protocol
    assert p is not None and p.holdout is not None
    assert p.holdout.accounts == 120  # 20% of 600
    assert sum(f.rows for f in p.folds) + p.holdout.rows == 600
    assert p.holdout.new_auc.value > p.holdout.old_auc.value


def test_each_signal_has_its_weight_spread_and_wrong_way_points_are_flagged(
    one_date: Calibration,
) -> None:
    p = one_date.validation.protocol
    assert p is not None
    by_name = {s.signal: s for s in p.stability}
    assert set(by_name) == set(one_date.fits[0].new)
    assert all(s.spread.count == 5 for s in by_name.values())
    for name in one_date.reversed_signals:
        assert by_name[name].reversed
        assert any("points disagree" in flag for flag in by_name[name].flags)


def test_the_held_out_accounts_outcomes_change_nothing_that_was_fitted(tmp_path: Path) -> None:
    workspace, model, info = _saas(tmp_path / "ws")
    first = _calibrate(workspace, model, info, tmp_path / "a.yml")
    p = first.validation.protocol
    assert p is not None and p.holdout is not None
    held = holdout_accounts(
        [f"cust-{i + 1:05d}" for i in range(info.customers)],
        0.2,
        0,  # type: ignore[attr-defined]
    )
    workspace.duckdb.execute(
        "DELETE FROM outcomes WHERE account_id IN (SELECT unnest(?))", [sorted(held)]
    )
    second = _calibrate(workspace, model, info, tmp_path / "b.yml")
    workspace.close()
    assert second.fits[0].new == pytest.approx(first.fits[0].new)
    assert [b.min for b in second.new_bands] == [b.min for b in first.new_bands]
    q = second.validation.protocol
    assert q is not None and q.pooled_new == p.pooled_new
    assert q.holdout is None or q.holdout.churned == 0  # the check alone saw the change


def test_a_weight_that_swings_between_fits_is_flagged_unstable() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, size=(200, 2))
    churned = (rng.uniform(size=200) < 0.3).astype("float64")
    accounts = np.array([f"a{i}" for i in range(200)], dtype=object)
    card = CardRows(
        "default", np.ones(200, dtype=bool), points, churned, accounts,
        Node([0, 1]), ["steady", "swinging"], 1.0,
    )  # fmt: skip
    weights = {"steady": [60.0, 62.0, 55.0, 58.0, 61.0], "swinging": [8.0, 23.0, 13.0, 9.0, 21.0]}
    fits = {"default": [np.array([a, b]) for a, b in zip(*weights.values(), strict=True)]}
    found = stability([card], {"default": {"steady": 59.0, "swinging": 14.0}}, fits, set(), 0)
    flags = {s.signal: s.flags for s in found}
    assert not any("unstable" in f for f in flags["steady"])
    assert any(f.startswith("unstable: 8%–22% over the middle 80%") for f in flags["swinging"])
    spread = next(s.spread for s in found if s.signal == "swinging")
    assert (spread.low, spread.high, spread.count) == (8.0, 23.0, 5)


def test_a_weight_given_in_the_folds_but_zero_in_the_final_fit_is_unstable() -> None:
    assert unstable([13.0, 13.0, 12.0, 11.0, 12.5], 0.0) is not None
    assert unstable([13.0, 13.0, 12.0, 11.0, 12.5], 12.0) is None
    assert unstable([0.0, 0.0, 0.2, 0.1, 0.0], 0.0) is None  # never weighed: stable at nothing


def test_folds_without_an_auc_are_left_out_of_the_spread() -> None:
    spread = Spread.of([0.7, None, float("nan"), 0.8])
    assert spread.count == 2 and spread.mean == pytest.approx(0.75)
    assert Spread.of([None]).count == 0 and str(Spread.of([])) == "n/a"


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=300),
    share=st.floats(min_value=0.0, max_value=0.9),
    seed=st.integers(min_value=0, max_value=10),
)
def test_the_holdout_is_a_fixed_share_of_the_accounts(count: int, share: float, seed: int) -> None:
    accounts = [f"acct-{i}" for i in range(count)] * 2  # every account on two dates
    held = holdout_accounts(accounts, share, seed)
    assert held <= set(accounts)
    assert len(held) == round(share * count)
    assert held == holdout_accounts(list(reversed(accounts)), share, seed)  # order-free


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=1000))
def test_one_scale_keeps_the_order_of_a_folds_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train = rng.uniform(0, 100, 80)
    churned = (rng.uniform(size=80) < 1 - train / 100).astype("float64")
    churned[:2] = [0.0, 1.0]
    scores = rng.uniform(0, 100, 40)
    probability = to_probability(train, churned, scores)
    order = np.argsort(scores)
    steps = np.diff(probability[order])
    assert (steps <= 1e-12).all() or (steps >= -1e-12).all()  # a monotone map of the score


def test_out_of_time_the_folds_are_the_test_dates_and_wrong_way_points_are_flagged(
    demo_workspace: Workspace, bad_model: LoadedModel, tmp_path: Path
) -> None:
    result = calibrate(
        demo_workspace, bad_model, output=tmp_path / "bad.yml", replicates=30, holdout_share=0.2
    )
    p = result.validation.protocol
    assert p is not None and p.method == "out of time"
    assert [f.fold for f in p.folds] == [d.isoformat() for d in result.validation.test_dates]
    assert result.comparison_sample.startswith("out of time")
    assert p.holdout is not None and p.holdout.rows > 0 and p.holdout.churned > 0
    logins = next(s for s in p.stability if s.signal == "logins_30d")
    assert any("points disagree" in flag for flag in logins.flags) and not logins.reversed
    assert all(s.spread.count >= 10 for s in p.stability)  # bootstrap refits of the training
    assert p.pooled_new.value > p.pooled_old.value + 0.05


def test_the_summary_labels_every_figure_with_how_it_was_obtained(one_date: Calibration) -> None:
    from vitalsign.analytics.renderables import calibration_renderable
    from vitalsign.rendering import to_text

    text = " ".join(to_text(calibration_renderable(one_date), width=200).split())
    assert "Out of sample (account folds): 5 account folds" in text
    assert "mean ± sd" in text and "pooled on one scale: churn probability" in text
    assert "L2 penalty chosen once" in text
    assert "held-out accounts (120, 20%, kept out of everything)" in text
    assert "Old and new side by side, in-sample:" in text
    assert "over fits" in text and "points disagree with churn" in text


def test_a_holdout_too_small_for_an_auc_is_named_not_shown(tmp_path: Path) -> None:
    workspace, model, info = _saas(tmp_path / "ws")
    result = calibrate(
        workspace, model, info.horizon_days, until=info.observed_until,  # type: ignore[attr-defined]
        output=tmp_path / "p.yml", replicates=20, holdout_share=0.02,
    )  # fmt: skip
    workspace.close()
    p = result.validation.protocol
    assert p is not None and p.holdout is None
    note = next(n for n in p.notes if n.startswith("held-out accounts: 12 accounts, 12 rows"))
    assert "too few" in note and "hold out a larger share" in note
    assert result.to_dict()["validation"]["protocol"]["notes"] == p.notes
