"""Scoring inside the engine equals the driver's pandas/NumPy scoring.

The engine matrix (test_engine_matrix.py) compares whole worlds on DuckDB, PostgreSQL and
Spark; here: percentile ranks (with near ties, NULLs and accounts without a segment)
against engine/points.py's on random columns, a backfill's stored snapshots, and the
refusal of an unknown mode.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine import run as run_module
from vitalsign.engine.engine_scoring import score_in_engine
from vitalsign.engine.points import percentile_points
from vitalsign.engine.run import backfill, compute_scores
from vitalsign.engine.scale_expressions import ranked_points
from vitalsign.errors import VitalsignError
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace, open_workspace
from world import FIXTURES, T

DAYS = [dt.datetime(2025, 6, 2), dt.datetime(2025, 6, 9)]

# a value, or one a hair above another (ties within 1e-12 relative), or missing
values = st.one_of(
    st.none(),
    st.sampled_from([0.0, 1.0, 2.5, 3.0, 1e6]),
    st.builds(
        lambda v, k: v * (1 + k * 4e-13), st.sampled_from([1.0, 2.5, 1e6]), st.integers(1, 5)
    ),
    st.floats(-1e3, 1e3, allow_nan=False),
)
rows = st.lists(
    st.tuples(values, st.sampled_from([None, "smb", "mid"]), st.sampled_from(DAYS)),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="module")
def duck() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, higher=st.booleans())
def test_percentile_points_in_the_engine_equal_the_drivers(
    duck: ibis.BaseBackend, rows: list[tuple[float | None, str | None, dt.datetime]], higher: bool
) -> None:
    frame = pd.DataFrame(rows, columns=["s__x", "model_segment", "as_of"])
    frame["s__x"] = frame["s__x"].astype("float64")
    frame["scorecard"] = "default"
    frame["row"] = np.arange(len(frame))
    keys = ["as_of", "model_segment", "scorecard"]
    table = ranked_points(ibis.memtable(frame), {"s__x": higher}, keys, ["scorecard"])
    got = duck.execute(table.order_by("row"))["s__x__p"].to_numpy(dtype="float64")
    dates = pd.factorize(frame["as_of"])[0]
    segments, names = pd.factorize(frame["model_segment"])
    codes = np.where(segments < 0, -1, dates * max(len(names), 1) + segments)
    expected = percentile_points(frame["s__x"].to_numpy(), codes, ascending=higher)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_an_unknown_scoring_mode_is_refused(duck: ibis.BaseBackend) -> None:
    model = parse_model(
        "name: m\nsignals: {seats: {attribute: seats, scale: {type: linear, low: 0, high: 9}}}\n"
        "scorecards: {default: {g: {signals: {seats: 1}}}}\n"
        "bands: [{name: ok, min: 50}, {name: bad, min: 0}]\n"
    )
    with pytest.raises(VitalsignError, match="scoring must be one of driver, engine"):
        compute_scores(duck, model, [dt.date(2025, 6, 2)], scoring="warehouse")


def test_a_backfill_scored_in_the_engine_stores_the_drivers_snapshots(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    dates = [T - dt.timedelta(weeks=1), T]
    stored = {}
    for scoring in ("driver", "engine"):
        done = backfill(tiny_workspace, dates, tiny_model, show_progress=False, scoring=scoring)
        assert done == dates
        stored[scoring] = {
            table: tiny_workspace.duckdb.execute(
                f"SELECT * EXCLUDE (computed_at) FROM {table} ORDER BY ALL"
                if table == "scores"
                else f"SELECT * FROM {table} ORDER BY snapshot_date, account_id, kind, path, name"
            ).df()
            for table in ("scores", "score_items")
        }
    driver, engine = stored["driver"], stored["engine"]
    assert len(driver["scores"]) == 3 * len(dates) and len(driver["score_items"]) > 0
    pd.testing.assert_frame_equal(driver["scores"], engine["scores"], rtol=1e-9)
    pd.testing.assert_frame_equal(driver["score_items"], engine["score_items"], rtol=1e-9)


def test_vitalsign_yml_scoring_engine_makes_the_cli_score_in_the_engine(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    """`engine: {scoring: engine}` in vitalsign.yml reaches `vitalsign score`, same snapshot."""
    root = tiny_workspace.root
    model_file = FIXTURES / "models" / "tiny.yml"
    tiny_workspace.close()
    config = root / "vitalsign.yml"
    plain = config.read_text()
    runner = CliRunner()
    snapshots = {}
    for scoring in ("driver", "engine"):
        config.write_text(plain + f"engine: {{type: duckdb, scoring: {scoring}}}\n")
        with mock.patch.object(run_module, "score_in_engine", wraps=score_in_engine) as spy:
            args = ["score", "--as-of", T.isoformat(), "-w", str(root), "--model", str(model_file)]
            result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert spy.called == (scoring == "engine")
        ws = open_workspace(root)
        snapshots[scoring] = ws.duckdb.execute(
            "SELECT * EXCLUDE (computed_at) FROM scores ORDER BY ALL"
        ).df()
        ws.close()
    assert len(snapshots["driver"]) == 3
    pd.testing.assert_frame_equal(snapshots["driver"], snapshots["engine"], rtol=1e-9)
