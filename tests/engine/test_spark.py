"""The same model gives the same numbers on Spark (pyspark local mode, through Ibis).

The session is the engine tests' shared one (tests/engine/conftest.py); the full matrix of
worlds and engines is test_engine_matrix.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_worlds import NULL_MODEL, NULL_ROWS, arrow_tables, spark_backend

from vitalsign.engine.run import compute_scores
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.engine.signals import signal_table
from vitalsign.model.loader import parse_model
from vitalsign.store.workspace import Workspace, init_workspace
from world import T, load_tiny_world

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark
if shutil.which("java") is None:  # pragma: no cover - Java 17 is on every machine we run on
    pytest.skip("Spark needs Java", allow_module_level=True)


def _spark_backend(spark: Any, workspace: Workspace, route: str = "arrow") -> Any:
    """Ibis on Spark holding the workspace's tables (account_history too) as temporary views.

    "arrow" hands Spark the Arrow tables (NULL stays NULL); "pandas" goes through an Ibis
    memtable, which pyspark builds from pandas, where a NULL double becomes NaN.
    """
    import ibis

    tables = arrow_tables(workspace)
    if route == "arrow":
        return spark_backend(spark, tables, route)
    backend = ibis.pyspark.connect(spark)
    for name, arrow in tables.items():
        backend.create_view(name, ibis.memtable(arrow), overwrite=True)
    return backend


def _compare(duck: pd.DataFrame, sparky: pd.DataFrame, rtol: float = 0.0) -> None:
    keys = ["as_of", "account_id"]
    a = duck.sort_values(keys).reset_index(drop=True)
    b = sparky.sort_values(keys).reset_index(drop=True)
    assert list(a["account_id"]) == list(b["account_id"])
    for column in ("score", "base_score", "coverage"):
        pd.testing.assert_series_equal(
            a[column], b[column], check_exact=False, atol=0 if rtol else 1e-9, rtol=rtol or 1e-5
        )
    assert list(a["band"]) == list(b["band"])
    assert list(a["flags"]) == list(b["flags"])


@pytest.fixture(scope="module")
def null_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = init_workspace(tmp_path_factory.mktemp("nulls") / "ws")
    load_tiny_world(ws.duckdb, NULL_ROWS)
    ws.duckdb.execute("UPDATE accounts SET arr = NULL WHERE account_id = 'B'")
    yield ws
    ws.close()


def _same_items(duck: ScoredFrame, sparky: ScoredFrame) -> None:
    keys = ["account_id", "as_of", "kind", "path", "name"]
    a, b = (
        f.items.astype({"as_of": "datetime64[ns]"}).sort_values(keys).reset_index(drop=True)
        for f in (duck, sparky)
    )
    pd.testing.assert_frame_equal(a[keys], b[keys])
    for column in ("raw_value", "points", "weight", "contribution"):
        same = np.isclose(a[column], b[column], rtol=1e-9, atol=0, equal_nan=True)
        differ = a[~same].assign(spark=b.loc[~same, column])
        assert same.all(), differ[["account_id", "name", column, "spark"]].to_string()
    assert list(a["raw_text"].fillna("-")) == list(b["raw_text"].fillna("-"))


@pytest.mark.parametrize("route", ["arrow", "pandas"])
def test_nulls_stay_null_on_spark_whatever_the_loading_route(
    spark: Any, null_world: Workspace, route: str
) -> None:
    model = parse_model(NULL_MODEL)
    duck = compute_scores(null_world.backend, model, [T])
    sparky = compute_scores(_spark_backend(spark, null_world, route), model, [T])
    raw = duck.items.set_index(["account_id", "name"])["raw_value"]
    assert np.isnan(raw[("C", "sat_latest")]) and np.isnan(raw[("B", "arr")])  # NULLs
    # B's last login is 0.4934567 days (42,634.65 s) before T: fractional days and seconds
    assert raw[("B", "days_since_login")] == pytest.approx(0.37 + 0.1234567, rel=1e-12)
    _compare(duck.scores, sparky.scores, rtol=1e-9)
    _same_items(duck, sparky)


def test_an_evenly_spaced_backfill_counts_distinct_values_on_spark_as_on_duckdb(
    spark: Any, null_world: Workspace
) -> None:
    model = parse_model(NULL_MODEL)
    dates = [T - dt.timedelta(days=14), T - dt.timedelta(days=7), T]  # bit masks on DuckDB
    backend = _spark_backend(spark, null_world)
    sql = str(backend.compile(signal_table(backend, model.spec, dates)))
    assert "bit_or(" in sql.lower()  # the bit masks, through Spark's builtin aggregate
    duck = compute_scores(null_world.backend, model, dates)
    sparky = compute_scores(backend, model, dates)
    assert duck.items[duck.items["name"] == "users_7d"]["raw_value"].nunique() > 2
    _compare(duck.scores, sparky.scores, rtol=1e-9)
    _same_items(duck, sparky)
