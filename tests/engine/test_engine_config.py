"""vitalsign.yml `engine:`: score, backfill, explain and report run on Spark and PostgreSQL.

A DuckDB workspace holds the tiny world; a second workspace, empty, points its engine at
the same tables in PostgreSQL (a schema) or Spark (Parquet paths, a catalog database).
The CLI's answers must be the same; a wrong `engine:` is refused naming the key and fix.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from engine_equality import assert_same_explanations
from engine_worlds import arrow_tables, postgres_backend
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.backends import connect_engine
from vitalsign.engine.explain import Explanation
from vitalsign.errors import WorkspaceError
from vitalsign.store.workspace import Workspace, init_workspace, open_workspace
from world import FIXTURES, T, load_tiny_world

runner = CliRunner()
# `explain`'s "why" (engine/why.py) recomputes gate and flag values from the workspace's
# DuckDB, not the engine: on another engine they are missing, so only the explanation
# proper (scores, groups, signals, changes) is compared here.
EXPLANATION_KEYS = [f.name for f in dataclasses.fields(Explanation)]
BACKFILL = ["backfill", "--from", "2024-02-09", "--to", "2024-03-01", "--every", "7d"]


def _cli(root: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(root: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(root)])
    assert result.exit_code != 0
    assert isinstance(result.exception, WorkspaceError), result.exception
    return str(result.exception)


def _workspace(root: Path, engine: str) -> Path:
    """An empty workspace with the tiny model whose vitalsign.yml has `engine`."""
    init_workspace(root).close()
    (root / "models" / "default.yml").write_text((FIXTURES / "models" / "tiny.yml").read_text())
    config = root / "vitalsign.yml"
    config.write_text(config.read_text() + engine)
    return root


@pytest.fixture
def duck(tmp_path: Path) -> Workspace:
    """The tiny world on DuckDB, scored by the CLI for one date and a weekly backfill."""
    root = _workspace(tmp_path / "duck", "")
    ws = open_workspace(root)
    load_tiny_world(ws.duckdb)
    ws.close()
    _cli(root, "score", "--as-of", str(T))
    _cli(root, *BACKFILL)
    return open_workspace(root)


def _same_answers(duck: Workspace, other: Path, backfill: bool = True, rerun: bool = True) -> None:
    """score, backfill, explain and report answer the same from both workspaces.

    `backfill`: compare the weekly backfill's dates and reports too; without `rerun`, `other`
    is not scored nor backfilled again (it was, just before: Spark's slowest commands).
    """
    if rerun:
        counts = [
            re.search(
                r"Scored (\d+) accounts.*?(\{.*?\})",
                _cli(root, "score", "--as-of", str(T)),
                re.S,
            )
            for root in (duck.root, other)
        ]
        assert counts[0] and counts[1] and counts[0].groups() == counts[1].groups()  # bands
    if backfill and rerun:
        _cli(other, *BACKFILL)
    for day in ("2024-02-16", str(T)) if backfill else (str(T),):
        for account in ("A", "B", "C"):
            a, b = (
                json.loads(_cli(root, "explain", account, "--as-of", day, "--format", "json"))
                for root in (duck.root, other)
            )
            assert_same_explanations(
                {k: a[k] for k in EXPLANATION_KEYS},
                {k: b[k] for k in EXPLANATION_KEYS},
                f"{account} {day}",
            )
        if not backfill:  # the report compares with the previous snapshot: none here
            continue
        report = ["report", "--as-of", day, "--format", "json"]
        assert_same_explanations(
            json.loads(_cli(duck.root, *report)), json.loads(_cli(other, *report))
        )


def test_score_backfill_explain_and_report_run_on_postgres(
    duck: Workspace, engine_postgres_url: str, tmp_path: Path
) -> None:
    postgres_backend(engine_postgres_url, "tiny_cli", arrow_tables(duck), "arrow").disconnect()
    engine = (
        f"engine:\n  type: postgres\n  url: {engine_postgres_url}\n  schema: tiny_cli\n"
        "  snapshots: workspace_and_engine\n"
    )
    other = _workspace(tmp_path / "pg", engine)
    _same_answers(duck, other)
    ws = open_workspace(other)
    assert ws.duckdb.execute("SELECT count(*) FROM accounts").fetchone() == (0,)  # scored there
    copied = connect_engine(ws).sql(
        "SELECT snapshot_date, count(*) AS n FROM vitalsign_scores GROUP BY 1 ORDER BY 1"
    )
    stored = ws.duckdb.execute(
        "SELECT snapshot_date, count(*) FROM scores GROUP BY 1 ORDER BY 1"
    ).fetchall()
    found = copied.execute()
    assert list(zip(found["snapshot_date"].dt.date, found["n"], strict=True)) == stored
    assert len(stored) == 4  # four weekly dates up to T, each replaced by every run
    ws.close()


@pytest.mark.spark
def test_score_backfill_explain_and_report_run_on_spark_from_parquet_paths(
    duck: Workspace, spark: Any, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    tables = arrow_tables(duck)
    for name in tables:
        duck.duckdb.execute(f"COPY {name} TO '{lake / name}.parquet' (FORMAT parquet)")
    paths = "".join(f"    {name}: ../lake/{name}.parquet\n" for name in tables)
    other = _workspace(tmp_path / "sp", f"engine:\n  type: spark\n  tables:\n{paths}")
    _same_answers(duck, other, backfill=False)
    backfill = runner.invoke(app, [*BACKFILL, "--workspace", str(other)])
    assert backfill.exit_code == 0, backfill.output  # failed before 2ed803e (cached memtable)
    _same_answers(duck, other, rerun=False)


@pytest.mark.spark
def test_spark_reads_the_canonical_tables_from_a_catalog_database(
    duck: Workspace, spark: Any, tmp_path: Path
) -> None:
    from vitalsign.engine.run import compute_scores

    spark.sql("CREATE DATABASE IF NOT EXISTS tiny_catalog")
    for name, arrow in arrow_tables(duck).items():
        frame = spark.createDataFrame(arrow)
        frame.write.mode("overwrite").saveAsTable(f"tiny_catalog.{name}")
    spark.sql("USE default")
    other = _workspace(tmp_path / "cat", "engine:\n  type: spark\n  database: tiny_catalog\n")
    ws = open_workspace(other)
    model = ws.load_model()
    a = compute_scores(duck.backend, model, [T]).scores.sort_values("account_id")
    b = compute_scores(connect_engine(ws), model, [T]).scores.sort_values("account_id")
    assert list(a["band"]) == list(b["band"]) and list(a["score"]) == pytest.approx(
        list(b["score"]), rel=1e-9
    )


@pytest.mark.parametrize(
    ("engine", "says"),
    [
        ("engine: bigquery\n", "engine: Value error, unknown engine type 'bigquery'; use one of"),
        ("engine: {type: postgres}\n", "needs `url: postgresql://"),
        ("engine: {type: spark, remote: 'http://x'}\n", "engine.remote: String should match"),
        ("engine: {type: spark, tables: {event: x.parquet}}\n", "'event' is not a canonical table"),
        (
            "engine: {type: postgres, url: 'postgresql://h/d', colour: red}\n",
            "engine.colour: Extra",
        ),
    ],
)
def test_a_wrong_engine_section_is_refused_naming_the_file_and_key(
    tmp_path: Path, engine: str, says: str
) -> None:
    root = _workspace(tmp_path / "ws", engine)
    message = _refused(root, "score", "--as-of", str(T))
    assert "vitalsign.yml" in message and says in message


def test_an_unset_url_variable_or_a_schema_without_tables_is_refused_with_the_fix(
    tmp_path: Path, engine_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VS_TEST_NO_SUCH_URL", raising=False)
    root = _workspace(tmp_path / "a", "engine: {type: postgres, url_env: VS_TEST_NO_SUCH_URL}\n")
    message = _refused(root, "score", "--as-of", str(T))
    assert "engine.url_env: the variable VS_TEST_NO_SUCH_URL is not set" in message
    monkeypatch.setenv("VS_TEST_EMPTY_URL", engine_postgres_url)
    engine = "engine: {type: postgres, url_env: VS_TEST_EMPTY_URL, schema: nothing_here}\n"
    message = _refused(_workspace(tmp_path / "b", engine), "score", "--as-of", str(T))
    assert "engine.schema: schema 'nothing_here' has no table `accounts`" in message
    port = engine_postgres_url.rsplit(":", 1)[1].split("/")[0]
    closed = engine_postgres_url.replace(f":{port}/", ":1/")
    message = _refused(
        _workspace(tmp_path / "c", f"engine: {{type: postgres, url: '{closed}'}}\n"), "score"
    )
    assert "engine.url: cannot connect to postgresql://127.0.0.1:1/postgres" in message


def test_docs_scaling_lists_every_engine_key() -> None:
    """docs/scaling.md documents every key of every engine's `engine:` section."""
    from vitalsign.store.engine_config import ENGINE_TYPES, PostgresEngine, SparkEngine

    text = (Path(__file__).parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    for config in (SparkEngine, PostgresEngine):
        for name, field in config.model_fields.items():
            assert f"`{field.alias or name}`" in text, name
    for kind in ENGINE_TYPES:
        assert f"`{kind}`" in text
