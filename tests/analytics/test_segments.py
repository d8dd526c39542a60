"""Per-segment calibration: enough outcomes, a segment's own weights; too few, the portfolio's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vitalsign.analytics.calibrate import Calibration, calibrate
from vitalsign.analytics.datasets.saas_churn import load_saas_churn
from vitalsign.analytics.segments import MIN_SEGMENT_CHURNED, segment_name
from vitalsign.engine.run import compute_scores, score
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import load_model
from vitalsign.store.workspace import Workspace, init_workspace

SAAS = Path(__file__).parents[1] / "fixtures" / "saas_churn" / "churn.csv"


@pytest.fixture(scope="module")
def saas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, object, Path]:
    """saas_churn (one snapshot date) scored with its model; segment = company size."""
    folder = tmp_path_factory.mktemp("saas")
    workspace = init_workspace(folder / "ws")
    info = load_saas_churn(workspace, SAAS)
    score(workspace, info.snapshot, workspace.load_model(info.model_path))
    return workspace, info, folder


@pytest.fixture(scope="module")
def by_size(saas: tuple[Workspace, object, Path]) -> Calibration:
    """Calibrated per company size."""
    workspace, info, folder = saas
    return calibrate(
        workspace, workspace.load_model(info.model_path), info.horizon_days,  # type: ignore[attr-defined]
        until=info.observed_until, reverse=True, output=folder / "seg.yml",  # type: ignore[attr-defined]
        replicates=30, by_segment="segment",
    )  # fmt: skip


def _expected_segments() -> set[str]:
    frame = pd.read_csv(SAAS)
    counts = frame.groupby("company_size")["churned"].agg(["sum", "count"])
    enough = (counts["sum"] >= MIN_SEGMENT_CHURNED) & (
        counts["count"] - counts["sum"] >= MIN_SEGMENT_CHURNED
    )
    return set(counts.index[enough])


def test_only_segments_with_enough_outcomes_get_their_own_scorecard(
    by_size: Calibration,
) -> None:
    fitted = {fit.segment for fit in by_size.fits if fit.segment is not None}
    assert fitted == _expected_segments() and fitted
    assert all(f.churned >= MIN_SEGMENT_CHURNED for f in by_size.fits if f.segment)
    small = set(pd.read_csv(SAAS)["company_size"]) - fitted
    assert small
    for value in small:
        assert any(repr(value) in n and "portfolio weights" in n for n in by_size.notes)


def test_the_proposal_routes_each_segment_and_keeps_percentile_peers(
    by_size: Calibration, saas: tuple[Workspace, object, Path]
) -> None:
    workspace, info, _ = saas
    proposal = load_model(by_size.path)  # type: ignore[arg-type]
    rules = proposal.spec.segments
    assert {r.scorecard for r in rules} == {
        segment_name("default", v) for v in _expected_segments()
    }
    assert {r.name for r in rules} == {"default"}  # same peers for percentile scales
    scored = compute_scores(workspace.backend, proposal, [info.snapshot]).scores  # type: ignore[attr-defined]
    sizes = workspace.duckdb.execute("SELECT account_id, segment AS size FROM accounts").df()
    rows = scored.merge(sizes, on="account_id")
    assert len(rows) == 600
    for value, part in rows.groupby("size"):
        wanted = segment_name("default", str(value)) if value in _expected_segments() else "default"
        assert set(part["scorecard"]) == {wanted}
    assert set(rows["model_segment"]) == {"default"}


def test_every_account_is_validated_once_by_its_own_or_the_portfolio_weights(
    by_size: Calibration,
) -> None:
    p = by_size.validation.protocol
    assert p is not None and p.method == "account folds"
    assert sum(f.rows for f in p.folds) == 600
    cards = {s.scorecard for s in p.stability}
    assert cards == {"default"} | {segment_name("default", v) for v in _expected_segments()}


def test_an_unknown_segment_column_is_refused_with_the_columns_to_use(
    saas: tuple[Workspace, object, Path],
) -> None:
    workspace, info, folder = saas
    with pytest.raises(VitalsignError, match=r"--by-segment 'sizee'.*segment"):
        calibrate(
            workspace, workspace.load_model(info.model_path), info.horizon_days,  # type: ignore[attr-defined]
            until=info.observed_until, output=folder / "x.yml", replicates=0,  # type: ignore[attr-defined]
            by_segment="sizee",
        )  # fmt: skip
