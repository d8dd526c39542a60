"""The same model gives the same numbers on Spark (pyspark local mode, through Ibis)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vitalsign.engine.run import compute_scores
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.engine.signals import signal_table
from vitalsign.model.canonical import CANONICAL_TABLES
from vitalsign.model.loader import LoadedModel, load_model, parse_model
from vitalsign.store.workspace import Workspace, init_workspace
from world import T, load_tiny_world, ts

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


def _spark_backend(spark: Any, workspace: Workspace, route: str = "arrow") -> Any:
    """Ibis on Spark holding the workspace's tables as temporary views.

    "arrow" hands Spark the Arrow tables (NULL stays NULL); "pandas" goes through an Ibis
    memtable, which pyspark builds from pandas, where a NULL double becomes NaN.
    """
    import ibis

    backend = ibis.pyspark.connect(spark)
    for name in CANONICAL_TABLES:
        arrow = workspace.duckdb.execute(f"SELECT * FROM {name}").arrow()
        arrow = arrow.read_all() if hasattr(arrow, "read_all") else arrow
        if route == "arrow":
            spark.createDataFrame(arrow).createOrReplaceTempView(name)
        else:
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


def test_the_tiny_model_scores_the_same_on_spark_and_duckdb(
    spark: Any, tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    backend = _spark_backend(spark, tiny_workspace)
    duck = compute_scores(tiny_workspace.backend, tiny_model, [T]).scores
    _compare(duck, compute_scores(backend, tiny_model, [T]).scores)


def test_the_starter_model_backfills_the_same_on_spark_and_duckdb(
    spark: Any, tiny_workspace: Workspace
) -> None:
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


# NULLs in double columns (ticket satisfaction and response time, event quantities, ARR)
# and times with fractional seconds; every aggregate that skips NULLs, a `latest` whose
# newest value is NULL, missing policies, a percentile scale and fractional days.
NULL_ROWS: dict[str, list[tuple[Any, ...]]] = {
    "events": [
        (
            f"q{i}",
            "AB"[i % 2],
            ts(i * 0.37 + 0.1234567),
            "login" if i % 3 else "export",
            f"u{i % 4}",
            None,
            None if i % 3 == 0 else float(i),
        )
        for i in range(40)
    ],
    "tickets": [
        (
            f"tq{i}",
            "ABC"[i % 3],
            ts(i * 2.3 + 0.5),
            None,
            "normal",
            "open",
            None,
            None if i % 2 else 3.5 + i % 4,
            None if i % 4 else float(i % 5 + 1),
        )
        for i in range(20)
    ],
}
NULL_MODEL = """\
name: nulls
min_coverage: 0.3
signals:
  sat_mean:
    {table: tickets, aggregate: mean, column: satisfaction, window: 60d,
     scale: {type: linear, low: 1, high: 5}}
  sat_max:
    {table: tickets, aggregate: max, column: satisfaction, window: 60d,
     scale: {type: percentile}}
  sat_latest:
    {table: tickets, aggregate: latest, column: satisfaction, window: 60d, missing: zero,
     scale: {type: linear, low: 1, high: 5}}
  response_min:
    {table: tickets, aggregate: min, column: first_response_hours, window: 60d,
     scale: {type: linear, low: 1, high: 48, better: lower}}
  quantity_sum:
    {table: events, aggregate: sum, column: quantity, window: 30d,
     scale: {type: linear, low: 0, high: 100}}
  quantity_p50:
    {table: events, aggregate: percentile, q: 0.5, column: quantity, window: 30d,
     missing: 40, scale: {type: percentile}}
  users_7d:
    {table: events, aggregate: count_distinct, column: user_id, window: 7d,
     scale: {type: linear, low: 0, high: 4}}
  days_since_login:
    {table: events, aggregate: days_since_last, filter: "event == 'login'", window: 90d,
     scale: {type: linear, low: 0.1, high: 3, better: lower}}
  tenure: {attribute: tenure_days, scale: {type: linear, low: 0, high: 1000}}
  arr: {attribute: arr, missing: 50, scale: {type: linear, low: 0, high: 100000}}
scorecards:
  default:
    usage: {signals: {quantity_sum, quantity_p50, users_7d, days_since_login}}
    support: {signals: {sat_mean, sat_max, sat_latest, response_min}}
    account: {signals: {arr, tenure}}
flags:
  unhappy: {when: "coalesce(sat_max, 0) < 4", subtract: 5}
bands: [{name: green, min: 70}, {name: yellow, min: 40}, {name: red, min: 0}]
freshness: {events: never, tickets: never, invoices: never}
"""


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
