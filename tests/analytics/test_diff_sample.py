"""`diff` says when its figures are in-sample: a calibrate proposal trained on those dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vitalsign.analytics.diff import ModelComparison, diff_models
from vitalsign.analytics.folds import sample_of
from vitalsign.cli import app
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.model.loader import load_model
from vitalsign.store.workspace import Workspace

VERDICT = (
    "# NOT SUPPORTED: the out-of-sample AUC change is -0.008 [-0.036, +0.020], an interval that "
    "contains 0 or lies below it;\n# the data does not show this proposal ranks churn better. "
    "Do not deploy it on this evidence.\n"
)


def _proposal(folder: Path, bad: Path, header: str) -> Path:
    """The bad model as if calibrate had written it, with `header` on top (as calibrate does)."""
    path = folder / "proposal.yml"
    path.write_text(header + bad.read_text())
    return path


def _header(first: object, last: object) -> str:
    return (
        VERDICT + "# Proposed by `vitalsign calibrate` from model default (0123456789abcdef), "
        f"horizon 90 days,\n# trained on snapshots {first} to {last}. Review it, then run "
        "`vitalsign diff` before deploying.\n"
    )


@pytest.fixture(scope="module")
def dates(demo_workspace: Workspace) -> list[dt.date]:
    """Six stored dates with labelled outcomes (the last ones lack a full horizon)."""
    return snapshot_dates(demo_workspace.duckdb, "default")[-12:-6]


@pytest.fixture(scope="module")
def in_sample(
    demo_workspace: Workspace, dates: list[dt.date], tmp_path_factory: pytest.TempPathFactory
) -> ModelComparison:
    """The starter model against a 'proposal' trained on the first three of the dates."""
    folder = tmp_path_factory.mktemp("proposal")
    bad = demo_workspace.root / "models" / "bad.yml"
    path = _proposal(folder, bad, _header(dates[0], dates[2]))
    return diff_models(demo_workspace, demo_workspace.load_model(), load_model(path), dates, 90, 20)


def test_a_proposal_trained_on_the_dates_is_labelled_in_sample(
    in_sample: ModelComparison, dates: list[dt.date]
) -> None:
    sample = in_sample.sample
    assert sample.kind == "in-sample" and sample.trained == (dates[0], dates[2])
    assert sample.calibrated == "bad" and sample.verdict is not None
    assert sample.verdict.startswith("NOT SUPPORTED: the out-of-sample AUC change is -0.008")
    later = in_sample.later
    assert later is not None and later.first == dates[3]
    assert 0 < sample.in_sample_rows < in_sample.rows
    assert later.rows == in_sample.rows - sample.in_sample_rows
    payload = in_sample.to_dict()
    assert payload["sample"] == "in-sample" and payload["in_sample_rows"] == sample.in_sample_rows
    assert payload["trained_on"] == [dates[0].isoformat(), dates[2].isoformat()]
    assert payload["later_dates"]["rows"] == later.rows


def test_the_later_dates_figure_is_the_diff_of_those_dates_alone(
    demo_workspace: Workspace, in_sample: ModelComparison, dates: list[dt.date]
) -> None:
    later = in_sample.later
    assert later is not None
    proposal = demo_workspace.root / "models" / "bad.yml"  # the same points, without a header
    alone = diff_models(
        demo_workspace, demo_workspace.load_model(), load_model(proposal), dates[3:], 90, 20
    )
    assert alone.sample.kind == "out-of-sample" and alone.later is None
    assert alone.rows == later.rows and alone.churned == later.churned
    assert alone.auc_difference.value == pytest.approx(later.auc_difference.value)
    assert alone.auc_b.value == pytest.approx(later.auc_b.value)


def test_the_cli_prints_the_label_the_later_dates_and_calibrates_verdict(
    demo_workspace: Workspace, dates: list[dt.date], tmp_path: Path
) -> None:
    bad = demo_workspace.root / "models" / "bad.yml"
    path = _proposal(tmp_path, bad, _header(dates[0], dates[1]))
    span = ["--from", str(dates[0]), "--to", str(dates[3]), "--every", "21d"]
    args = ["diff", "models/default.yml", str(path), *span, "--bootstrap", "10"]
    args += ["-w", str(demo_workspace.root)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (
        "IN-SAMPLE for" in text and f"calibrated on the snapshots {dates[0]} to {dates[1]}" in text
    )
    assert f"the dates from {dates[2]} alone: AUC" in text
    assert "calibrate's out-of-sample verdict: NOT SUPPORTED" in text


def test_a_proposal_without_its_training_dates_is_unknown(
    demo_workspace: Workspace, dates: list[dt.date], tmp_path: Path
) -> None:
    bad = demo_workspace.root / "models" / "bad.yml"
    header = "# Proposed by `vitalsign calibrate` from model default (0123456789abcdef).\n"
    unreadable = load_model(_proposal(tmp_path, bad, header))
    days = pd.Series(dates)
    assert sample_of(days, [demo_workspace.load_model(), unreadable]).kind == "unknown"
    assert sample_of(days, [demo_workspace.load_model(), load_model(bad)]).kind == "out-of-sample"
    year_before = _header(dates[0] - dt.timedelta(days=400), dates[0] - dt.timedelta(days=1))
    trained_before = load_model(_proposal(tmp_path, bad, year_before))
    assert sample_of(days, [trained_before]).kind == "out-of-sample"
