"""vitalsign.yml `engine:`: where scoring runs and reads the canonical tables (docs/scaling.md).

`duckdb` (the default) scores in the workspace's own DuckDB file. `spark` scores on a
Spark session (local, or a Spark Connect URL), reading the tables from a catalog database
or from Parquet/Delta/Iceberg paths. `postgres` scores in a schema of a PostgreSQL
database. Snapshots stay in the workspace (the web app, alerts, `explain` and `report`
read them there); `snapshots: workspace_and_engine` also writes each date's snapshot into
the engine. Connecting is engine/backends.py's job: this module only validates the keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from vitalsign.model.canonical import CANONICAL_TABLES

ENGINE_TYPES = ("duckdb", "spark", "postgres")
SnapshotPlace = Literal["workspace", "workspace_and_engine"]
ScoringPlace = Literal["driver", "engine"]
"""Where points, groups, gate, flags and bands are computed (engine/engine_scoring.py)."""
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
HISTORY_TABLE = "account_history"


class DuckDBEngine(BaseModel):
    """`engine: duckdb`: the workspace's embedded DuckDB file (`database:`) scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["duckdb"] = "duckdb"
    snapshots: Literal["workspace"] = "workspace"
    scoring: ScoringPlace = "driver"


class TablePath(BaseModel):
    """Where Spark reads one canonical table: a path (or glob) and its format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    format: Literal["parquet", "delta", "iceberg", "orc", "csv", "json"] = "parquet"
    options: dict[str, str] = Field(default_factory=dict)


def _known_tables(tables: dict[str, Any]) -> dict[str, Any]:
    """Refuse a table name that is not canonical, listing the canonical ones."""
    known = [*CANONICAL_TABLES, HISTORY_TABLE]
    for name in tables:
        if name not in known:
            raise ValueError(
                f"{name!r} is not a canonical table; use one of {', '.join(known)} (docs/tables.md)"
            )
    return tables


class SparkEngine(BaseModel):
    """`engine: {type: spark}`: a Spark session holds the canonical tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["spark"]
    remote: str | None = Field(default=None, pattern=r"^sc://\S+$")
    master: str = "local[*]"
    config: dict[str, str] = Field(default_factory=dict)
    catalog: str | None = Field(default=None, pattern=_NAME)
    database: str | None = Field(default=None, pattern=_NAME)
    tables: dict[str, TablePath] = Field(default_factory=dict)
    snapshots: SnapshotPlace = "workspace"
    scoring: ScoringPlace = "driver"

    @field_validator("tables", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        """A table given as a plain string is a Parquet path."""
        if isinstance(value, dict):
            value = {k: {"path": v} if isinstance(v, str) else v for k, v in value.items()}
            _known_tables(value)
        return value


class PostgresEngine(BaseModel):
    """`engine: {type: postgres}`: a schema of a PostgreSQL database holds the tables."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["postgres"]
    url: str | None = Field(default=None, pattern=r"^postgres(ql)?://\S+$")
    url_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    db_schema: str = Field(default="public", alias="schema", pattern=_NAME)
    snapshots: SnapshotPlace = "workspace"
    scoring: ScoringPlace = "driver"

    @field_validator("url_env")
    @classmethod
    def _one_url(cls, value: str | None, info: Any) -> str | None:
        if value is not None and info.data.get("url") is not None:
            raise ValueError("give url or url_env, not both")
        return value


def _engine_type(value: Any) -> str:
    """The engine's `type:`; a plain string is the type itself (`engine: spark`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("type", "duckdb"))
    return str(getattr(value, "type", "duckdb"))


EngineConfig = Annotated[
    Annotated[DuckDBEngine, Tag("duckdb")]
    | Annotated[SparkEngine, Tag("spark")]
    | Annotated[PostgresEngine, Tag("postgres")],
    Discriminator(_engine_type),
]


def engine_section(value: Any) -> Any:
    """Normalise `engine:` before validation: a string names the type; refuse unknown types."""
    if value is None:
        return {"type": "duckdb"}
    kind = _engine_type(value)
    if kind not in ENGINE_TYPES:
        raise ValueError(
            f"unknown engine type {kind!r}; use one of {', '.join(ENGINE_TYPES)}, or add an "
            "adapter for another Ibis backend (docs/scaling.md#another-warehouse)"
        )
    if kind == "postgres" and isinstance(value, dict) and not ({"url", "url_env"} & set(value)):
        raise ValueError(
            "a postgres engine needs `url: postgresql://user@host:5432/db` or `url_env: VAR` "
            "(a variable holding that URL, to keep the password out of the file)"
        )
    return {"type": kind} if isinstance(value, str) else value
