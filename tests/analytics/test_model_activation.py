"""The preview of a model activation: weight shares before and after, the capped comparison."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.analytics.model_activation import (
    PREVIEW_DATES,
    comparison_dates,
    data_findings,
    preview_activation,
    weight_changes,
)
from vitalsign.analytics.outcomes import observed_until
from vitalsign.engine.snapshots import snapshot_dates
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.model.spec import HealthModel
from vitalsign.store.workspace import Workspace

weights = st.floats(min_value=0.1, max_value=10, allow_nan=False)


def two_group_model(a: float, b: float, x: float, y: float) -> HealthModel:
    """A model whose one scorecard has groups weighted a and b; x and y weigh signals in a."""
    scale = {"type": "linear", "low": 0, "high": 1}
    return HealthModel.model_validate(
        {
            "name": "m",
            "signals": {s: {"attribute": "seats", "scale": scale} for s in ("s1", "s2", "s3")},
            "scorecards": {
                "default": {
                    "first": {"weight": a, "signals": {"s1": x, "s2": y}},
                    "second": {"weight": b, "signals": {"s3": None}},
                }
            },
            "bands": [{"name": "green", "min": 70}, {"name": "red", "min": 0}],
        }
    )


@settings(max_examples=30, deadline=None)
@given(weights, weights, weights, weights, weights, weights)
def test_shares_add_up_to_100_and_changes_are_their_difference(
    a: float, b: float, x: float, c: float, d: float, y: float
) -> None:
    before, after = two_group_model(a, b, x, 1.0), two_group_model(c, d, 1.0, y)
    changes = weight_changes(before, after)
    assert abs(sum(w.before or 0 for w in changes) - 100) < 1e-9
    assert abs(sum(w.after or 0 for w in changes) - 100) < 1e-9
    assert abs(sum(w.change for w in changes)) < 1e-9
    s3 = next(w for w in changes if w.signal == "s3")
    assert abs(s3.before - 100 * b / (a + b)) < 1e-9  # type: ignore[operator]
    sizes = [round(abs(w.change), 6) for w in changes]
    assert sizes == sorted(sizes, reverse=True)
    assert all(w.change == 0 for w in weight_changes(before, before))


def test_comparison_dates_are_known_outcomes_and_the_latest_snapshot(
    demo_workspace: Workspace,
) -> None:
    model = demo_workspace.load_model()
    dates = comparison_dates(demo_workspace, model)
    end = observed_until(demo_workspace.duckdb).date()
    latest = snapshot_dates(demo_workspace.duckdb, model.name)[-1]
    labelled = [d for d in dates if d != latest]
    assert len(labelled) == PREVIEW_DATES and latest == dates[-1]
    assert max(labelled) == end - dt.timedelta(days=90)


def test_the_preview_compares_on_the_same_dates_and_says_why_not(
    demo_workspace: Workspace, bad_model: LoadedModel
) -> None:
    starter = demo_workspace.load_model()
    stored = snapshot_dates(demo_workspace.duckdb, "default")
    dates = [stored[-6], stored[-2]]
    preview = preview_activation(demo_workspace, starter, bad_model, dates=dates, replicates=20)
    assert preview.comparison is not None and preview.error is None
    assert preview.comparison.latest == stored[-2]
    assert preview.changed_weights and preview.to_dict()["comparison"]["changed"]
    recent = preview_activation(demo_workspace, starter, bad_model, dates=stored[-1:], replicates=5)
    assert recent.comparison is None and "no labelled rows" in str(recent.error)
    assert recent.weights == preview.weights  # the weights need no history


def test_the_check_against_the_data_names_the_line_of_a_gate_nobody_passes(
    demo_workspace: Workspace,
) -> None:
    text = demo_workspace.model_path.read_text(encoding="utf-8")
    assert '  when: "invoices_90d >= 1"' in text
    failing = text.replace('  when: "invoices_90d >= 1"', '  when: "seats < 0"', 1)
    model = parse_model(failing, "impossible.yml")
    findings = data_findings(demo_workspace, model, failing)
    line = failing.splitlines().index('  when: "seats < 0"') + 1
    errors = [f for f in findings if f.severity == "error"]
    assert errors and (errors[0].key, errors[0].line) == ("gate.when", line)
    assert findings[0] == errors[0]  # errors first
