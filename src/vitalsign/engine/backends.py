"""Connect the scoring engine vitalsign.yml names: DuckDB, Spark or PostgreSQL (docs/scaling.md).

Scoring (`compute_scores`, `score`, `backfill`, `backtest`) takes any Ibis backend holding
the canonical tables; `connect_engine(workspace)` returns the one the workspace's
`engine:` section names, connected once per open workspace. Each engine is an adapter in
`ADAPTERS`: another Ibis backend (BigQuery, Snowflake, ...) is one more adapter, a config
class in store/engine_config.py and a `connect` function here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import ibis

from vitalsign.errors import WorkspaceError
from vitalsign.store.engine_config import PostgresEngine, SparkEngine
from vitalsign.store.workspace import CONFIG_FILE, Workspace

SPARK_DEFAULTS = {"spark.sql.session.timeZone": "UTC"}
"""Timestamps are wall-clock times: a session in another zone would shift every window."""


@dataclass(frozen=True)
class EngineAdapter:
    """How one engine type connects: `connect(config, workspace)` returns an Ibis backend."""

    connect: Callable[[Any, Workspace], Any]
    description: str


def _where(workspace: Workspace, key: str) -> str:
    """`/path/vitalsign.yml engine.key` for error messages."""
    return f"{workspace.root / CONFIG_FILE} engine.{key}"


def _connect_duckdb(config: Any, workspace: Workspace) -> Any:
    return workspace.backend


def _require_accounts(
    backend: Any, workspace: Workspace, key: str, place: str, database: str | None = None
) -> None:
    """Refuse an engine that does not hold the canonical `accounts` table."""
    found = backend.list_tables() if database is None else backend.list_tables(database=database)
    if "accounts" not in found:
        raise WorkspaceError(
            f"{_where(workspace, key)}: {place} has no table `accounts`; load the canonical "
            "tables there (docs/tables.md) or point the engine at where they are "
            "(docs/scaling.md)"
        )


def spark_session(config: SparkEngine) -> Any:
    """Return the Spark session the config names: Spark Connect at `remote`, else local."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if config.remote is not None:
        builder = builder.remote(config.remote)
    else:
        builder = builder.master(config.master).appName("vitalsign")
    for key, value in {**SPARK_DEFAULTS, **config.config}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _table_path(workspace: Workspace, path: str) -> str:
    """A path relative to the workspace folder, unless it is absolute or a URI (s3://...)."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str(workspace.root / path)


def _connect_spark(config: SparkEngine, workspace: Workspace) -> Any:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise WorkspaceError(
            f"{_where(workspace, 'type')}: spark needs pyspark; install it with "
            "`pip install 'vitalsign[spark]'` (and `pyspark[connect]` for a remote URL)"
        ) from exc
    from pyspark.errors import AnalysisException

    session = spark_session(config)
    if config.database is not None:
        name = f"{config.catalog}.{config.database}" if config.catalog else config.database
        try:
            session.sql(f"USE {name}")
        except AnalysisException as exc:
            raise WorkspaceError(
                f"{_where(workspace, 'database')}: Spark has no database {name!r}; name one "
                f"that holds the canonical tables ({_first_line(exc)})"
            ) from exc
    for table, where in config.tables.items():
        path = _table_path(workspace, where.path)
        try:
            frame = session.read.format(where.format).options(**where.options).load(path)
        except AnalysisException as exc:
            raise WorkspaceError(
                f"{_where(workspace, f'tables.{table}.path')}: Spark cannot read {path} as "
                f"{where.format}; fix the path or the format ({_first_line(exc)})"
            ) from exc
        frame.createOrReplaceTempView(table)
    backend = ibis.pyspark.connect(session)
    place = "the Spark session" + (f" (database {config.database})" if config.database else "")
    _require_accounts(backend, workspace, "tables" if config.tables else "database", place)
    return backend


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def postgres_url(config: PostgresEngine, workspace: Workspace) -> str:
    """The PostgreSQL URL: `url`, or the variable `url_env` names."""
    if config.url is not None:
        return config.url
    assert config.url_env is not None
    url = os.environ.get(config.url_env)
    if not url:
        raise WorkspaceError(
            f"{_where(workspace, 'url_env')}: the variable {config.url_env} is not set; set "
            "it to postgresql://user:password@host:5432/database"
        )
    return url


def _connect_postgres(config: PostgresEngine, workspace: Workspace) -> Any:
    import psycopg

    url = postgres_url(config, workspace)
    parts = urlsplit(url)
    key = "url" if config.url is not None else "url_env"
    try:
        backend = ibis.postgres.connect(
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            database=parts.path.lstrip("/") or None,
            schema=config.db_schema,
        )
    except psycopg.OperationalError as exc:
        safe = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise WorkspaceError(
            f"{_where(workspace, key)}: cannot connect to {safe}: {_first_line(exc)}; check "
            "the host, port, user and password"
        ) from exc
    place = f"schema {config.db_schema!r}"
    _require_accounts(backend, workspace, "schema", place, config.db_schema)
    return backend


ADAPTERS: dict[str, EngineAdapter] = {
    "duckdb": EngineAdapter(_connect_duckdb, "the workspace's embedded DuckDB file"),
    "spark": EngineAdapter(_connect_spark, "a Spark session (local or Spark Connect)"),
    "postgres": EngineAdapter(_connect_postgres, "a schema of a PostgreSQL database"),
}


def connect_engine(workspace: Workspace) -> Any:
    """Return the Ibis backend that scores this workspace, connected once per workspace.

    >>> scores = compute_scores(connect_engine(ws), ws.load_model(), [day])  # doctest: +SKIP
    """
    if workspace.engine_backend is None:
        config = workspace.config.engine
        workspace.engine_backend = ADAPTERS[config.type].connect(config, workspace)
    return workspace.engine_backend


def engine_name(workspace: Workspace) -> str:
    """The configured engine's type: duckdb, spark or postgres."""
    return workspace.config.engine.type
