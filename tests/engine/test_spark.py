"""The same model gives the same numbers on Spark (pyspark local mode, through Ibis)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from vitalsign.engine.run import compute_scores
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace
from world import T

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark
if shutil.which("java") is None:  # pragma: no cover - Java 17 is on every machine we run on
    pytest.skip("Spark needs Java", allow_module_level=True)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("vitalsign-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_backend(spark: Any, workspace: Workspace) -> Any:
    import ibis

    backend = ibis.pyspark.connect(spark)
    for name in CANONICAL_TABLES:
        arrow = workspace.duckdb.execute(f"SELECT * FROM {name}").arrow()
        backend.create_table(
            name, arrow.read_all() if hasattr(arrow, "read_all") else arrow, overwrite=True
        )
    return backend


def _compare(duck: pd.DataFrame, sparky: pd.DataFrame) -> None:
    keys = ["as_of", "account_id"]
    a = duck.sort_values(keys).reset_index(drop=True)
    b = sparky.sort_values(keys).reset_index(drop=True)
    assert list(a["account_id"]) == list(b["account_id"])
    for column in ("score", "base_score", "coverage"):
        pd.testing.assert_series_equal(a[column], b[column], check_exact=False, atol=1e-9)
    assert list(a["band"]) == list(b["band"])
    assert list(a["flags"]) == list(b["flags"])


def test_the_tiny_model_scores_the_same_on_spark_and_duckdb(
    spark: Any, tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    backend = _spark_backend(spark, tiny_workspace)
    duck = compute_scores(tiny_workspace.backend, tiny_model, [T]).scores
    _compare(duck, compute_scores(backend, tiny_model, [T]).scores)


def test_the_starter_model_backfills_the_same_on_spark_and_duckdb(
    spark: Any, tiny_workspace: Workspace
) -> None:
    from world import ts

    tiny_workspace.duckdb.executemany(
        "INSERT INTO events (event_id, account_id, timestamp, event, user_id) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (
                f"x{i}",
                "AB"[i % 2],
                ts(i * 1.7),
                ["login", "export", "report_created"][i % 3],
                f"u{i % 5}",
            )
            for i in range(120)
        ],
    )
    model = load_model(tiny_workspace.model_path)
    dates = [T - dt.timedelta(days=21), T - dt.timedelta(days=7), T]
    backend = _spark_backend(spark, tiny_workspace)
    duck = compute_scores(tiny_workspace.backend, model, dates)
    sparky = compute_scores(backend, model, dates)
    _compare(duck.scores, sparky.scores)
    merged = duck.items.merge(sparky.items, on=["account_id", "as_of", "kind", "path", "name"])
    assert len(merged) == len(duck.items)
    assert (merged["contribution_x"] - merged["contribution_y"]).abs().max() < 1e-9
