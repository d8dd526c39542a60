"""score_dropped with `smooth`: the mean of the last N snapshots, so noise cancels."""

from __future__ import annotations

import statistics

from alert_history import day, holds, write_day
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vitalsign.alerts.messages import describe
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

SMOOTH3 = "type: score_dropped\npoints: 10\nwithin: 28d\nsmooth: 3"


def _weeks(ws: Workspace, model: LoadedModel, a: list[float], b: list[float]) -> None:
    for week, (x, y) in enumerate(zip(a, b, strict=True)):
        write_day(ws.duckdb, model, day(7 * week), {"A": {"score": x}, "B": {"score": y}})


def test_a_one_week_dip_fires_raw_but_not_smoothed(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    # B wobbles: 80 80 80 80 65 (one noisy week); A declines: 80 80 80 70 62 58
    _weeks(tiny_workspace, tiny_model, [80, 80, 80, 70, 62, 58], [80, 80, 80, 80, 65, 80])
    raw = "type: score_dropped\npoints: 10\nwithin: 28d"
    assert set(holds(tiny_workspace.duckdb, tiny_model, raw, day(28))) == {"A", "B"}
    on_28 = holds(tiny_workspace.duckdb, tiny_model, SMOOTH3, day(28))
    # A: mean(80, 70, 62) = 70.67, peak of the means 80 → dropped 9.33: not yet
    # B: mean(80, 80, 65) = 75 → dropped 5
    assert on_28 == {}
    on_35 = holds(tiny_workspace.duckdb, tiny_model, SMOOTH3, day(35))
    assert set(on_35) == {"A"}  # mean(70, 62, 58) = 63.33: 16.67 below the peak 80
    values = on_35["A"][1]
    assert values["peak"] == 80.0  # the means of days 7 and 14 (both 80)
    assert values["peak_date"] in (day(7).isoformat(), day(14).isoformat())
    assert round(values["score"], 2) == 63.33 and values["smoothed_over"] == 3
    assert round(values["dropped"], 2) == 16.67 and values["within_days"] == 28
    assert describe("score_dropped", values).startswith(
        "score (mean of the last 3 snapshots) dropped 16.7 points within 28 days (80.0 on "
    )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(min_value=0, max_value=100), min_size=6, max_size=6))
def test_the_smoothed_drop_is_the_peak_of_the_means_minus_the_latest_mean(
    tiny_workspace: Workspace, tiny_model: LoadedModel, scores: list[float]
) -> None:
    tiny_workspace.duckdb.execute("DELETE FROM score_items")
    tiny_workspace.duckdb.execute("DELETE FROM scores")
    _weeks(tiny_workspace, tiny_model, scores, [50.0] * 6)
    means = [statistics.fmean(scores[max(0, i - 2) : i + 1]) for i in range(6)]
    peak = max(means[1:5])  # the snapshots within 28 days before day 35
    assume(abs(peak - means[5] - 10) > 1e-6)  # no coin toss on the edge
    expected = peak - means[5] >= 10
    found = holds(tiny_workspace.duckdb, tiny_model, SMOOTH3, day(35))
    assert ("A" in found) == expected
    if expected:
        assert abs(found["A"][1]["dropped"] - (peak - means[5])) < 1e-3  # values are rounded
