"""The same model gives the same scores, bands, items and explanations on every engine.

Each world of engine_worlds (the tiny world, the starter model, NULLs, every aggregation,
overrides) is scored on DuckDB, then on Spark local and on the real PostgreSQL the tests
start, loaded two ways: from Arrow (NULL stays NULL) and "pandas", every NULL double turned
into NaN as a pandas round trip does (NaN must still read as missing). Scores, bands, items and
explanations must agree within 1e-9 relative, for one date and for an evenly spaced
backfill. Scoring inside the engine (`scoring="engine"`, engine/engine_scoring.py) must
agree with DuckDB's driver scoring too: for the weekly backfill (several dates ranked
apart) on DuckDB (every aggregation and scale, overrides) and PostgreSQL (NULLs, every
aggregation), for one date on Spark (NULLs), as each case costs an Ibis compile of a few
seconds and each Spark query more. docs/scaling.md says how to run the same against a
real cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engine_equality import (
    assert_same_explanations,
    assert_same_scores,
    explanations,
)
from engine_worlds import (
    ONE_DATE,
    WEEKLY,
    WORLDS,
    World,
    arrow_tables,
    load_world,
    loaded,
    postgres_backend,
    spark_backend,
)

from vitalsign.engine.run import compute_scores
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.overrides import active_overrides
from vitalsign.store.workspace import init_workspace

# PostgreSQL is quick: every world by both routes. A Spark query of these worlds costs
# 5-40 s on two shared cores: the pandas route only where NULL doubles meet every aggregate.
CASES = [
    *[(name, engine) for name in WORLDS for engine in ("postgres-arrow", "postgres-pandas")],
    *[(name, "spark-arrow") for name in WORLDS],
    ("nulls", "spark-pandas"),
    ("aggregations", "spark-pandas"),
    *[(name, "duckdb-arrow") for name in ("aggregations", "overrides")],
]
ENGINE_SCORED = {
    **{(name, "postgres-arrow"): "weekly backfill" for name in ("nulls", "aggregations")},
    **{(name, "duckdb-arrow"): "weekly backfill" for name in ("aggregations", "overrides")},
    ("nulls", "spark-arrow"): "one date",
}
"""The cases also scored inside the engine, and for which dates, compared with DuckDB's
driver scoring."""


class Prepared:
    """A world loaded into a DuckDB workspace, with DuckDB's results for both date sets."""

    def __init__(self, root: Path, world: World) -> None:
        self.world = world
        self.workspace = init_workspace(root)
        load_world(self.workspace, world)
        self.model: LoadedModel = parse_model(world.model)
        self.tables = arrow_tables(self.workspace)
        self.duck = {
            key: self.scored(self.workspace.backend, dates) for key, dates in DATES.items()
        }

    def scored(self, backend: Any, dates: list[Any], scoring: str = "driver") -> ScoredFrame:
        """Scores of `dates` on `backend`, with the world's overrides in force."""
        overrides = active_overrides(self.workspace.duckdb, dates)
        return compute_scores(backend, self.model, dates, overrides, scoring=scoring)


DATES = {"one date": ONE_DATE, "weekly backfill": WEEKLY}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Prepared]]:
    made: dict[str, Prepared] = {}
    yield made
    for item in made.values():
        item.workspace.close()


def _prepare(made: dict[str, Prepared], name: str, root: Path) -> Prepared:
    if name not in made:
        made[name] = Prepared(root / name, WORLDS[name])
    return made[name]


def test_the_pandas_route_turns_nulls_into_nan_and_keeps_the_rest() -> None:
    """The matrix's pandas route really hands the engines NaN where a double was NULL."""
    table = pa.table({"x": [1.5, None], "n": pa.array([None, 2], pa.int64()), "s": ["a", None]})
    assert loaded(table, "arrow") is table
    nan = loaded(table, "pandas")
    assert math.isnan(nan["x"][1].as_py()) and nan["x"].null_count == 0
    assert nan["n"].to_pylist() == [None, 2] and nan["s"].to_pylist() == ["a", None]


def _backend(request: pytest.FixtureRequest, engine: str, world: Prepared) -> Any:
    kind, route = engine.split("-")
    if kind == "duckdb":
        return world.workspace.backend
    if kind == "spark":
        spark = request.getfixturevalue("spark")
        backend = spark_backend(spark, world.tables, route)
        nans = backend.sql("SELECT count(*) AS n FROM tickets WHERE isnan(satisfaction)")
    else:
        url = request.getfixturevalue("engine_postgres_url")
        schema = f"m_{world.world.name}_{route}"
        backend = postgres_backend(url, schema, world.tables, route)
        nans = backend.sql("SELECT count(*) AS n FROM tickets WHERE satisfaction = 'NaN'")
    loaded_nan = int(nans.execute()["n"].iloc[0])
    nulls = world.tables["tickets"]["satisfaction"].null_count
    assert loaded_nan == (nulls if route == "pandas" else 0)  # the route did what it says
    return backend


@pytest.mark.parametrize(
    ("name", "engine"),
    [pytest.param(*c, marks=[pytest.mark.spark] if "spark" in c[1] else []) for c in CASES],
)
def test_every_world_scores_and_explains_the_same_on_every_engine(
    request: pytest.FixtureRequest,
    prepared: dict[str, Prepared],
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    engine: str,
) -> None:
    world = _prepare(prepared, name, tmp_path_factory.mktemp("worlds"))
    backend = _backend(request, engine, world)
    for key, dates in DATES.items():
        modes = [] if engine.startswith("duckdb") else ["driver"]
        if ENGINE_SCORED.get((name, engine)) == key:
            modes.append("engine")
        for scoring in modes:
            duck, other = world.duck[key], world.scored(backend, dates, scoring)
            where = f"{key}, scoring in the {scoring}"
            assert len(duck.scores) > 0 and len(duck.scores) == len(other.scores), where
            assert_same_scores(duck, other)
            a, b = explanations(duck, world.model), explanations(other, world.model)
            assert a.keys() == b.keys()
            for account in a:
                assert_same_explanations(a[account].to_dict(), b[account].to_dict(), str(account))
