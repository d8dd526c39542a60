"""A workspace: one folder with a project config, model files and the DuckDB file."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import ibis
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from vitalsign.errors import WorkspaceError
from vitalsign.model.canonical import (
    ACCOUNT_DERIVED_COLUMNS,
    ACCOUNTS,
    CANONICAL_TABLES,
    DELETED_AT,
    CanonicalTable,
    Column,
    ColumnType,
)
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.engine_config import (
    ENGINE_TYPES,
    DuckDBEngine,
    EngineConfig,
    engine_section,
)
from vitalsign.store.schema import ensure_schema
from vitalsign.store.sso_config import SsoConfig

CONFIG_FILE = "vitalsign.yml"
CONFIG_TEMPLATE = """\
# vitalsign workspace configuration (docs/workspace.md)
backend: duckdb                 # the embedded default: one file in this folder
database: vitalsign.duckdb      # path of the DuckDB file, relative to this folder
model: models/default.yml       # the health model scored by `vitalsign score`
"""


class SourceBase(BaseModel):
    """What every declared source has: a name, a target table and how to map it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    into: str | None = None
    format: str | None = None
    mapping: str | None = None
    columns: dict[str, Any] = Field(default_factory=dict)
    identity: dict[str, str] = Field(default_factory=dict)
    prefer: str | None = None
    require: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    future_tolerance: str = "1d"
    mode: Literal["changes", "snapshot"] = "changes"
    max_delete_share: float = Field(default=0.2, ge=0.0, le=1.0)


class FileSource(SourceBase):
    """Files matched by a path or glob, relative to the workspace (docs/connectors.md)."""

    kind: Literal["file"] = "file"
    path: str


class DatabaseSource(SourceBase):
    """A table or query of a SQL database read incrementally by a watermark column."""

    kind: Literal["database"] = "database"
    url: str | None = None
    url_env: str | None = None
    table: str | None = None
    query: str | None = None
    watermark: str | None = None


class AccountField(BaseModel):
    """A custom account column (a CRM's own field): loaded, historised, read by models."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: ColumnType = "string"
    description: str = ""


class BillingConfig(BaseModel):
    """How churn, renewals and reactivations are derived from `subscriptions` at each sync.

    See docs/connectors.md#churn-and-renewals-from-billing for the rule.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    derive: bool = True
    churn_after_days: int = Field(default=30, ge=0, le=3650)
    canceled_statuses: tuple[str, ...] = ("canceled", "cancelled", "ended")


class WebConfig(BaseModel):
    """vitalsign.yml `web:`: the server's public address and its sign-in limits (docs/web.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    login_attempts: int = Field(default=5, ge=1, le=1000)
    login_attempts_per_address: int = Field(default=20, ge=1, le=100_000)
    lockout: str = Field(default="15m", pattern=r"^[1-9][0-9]*[smhd]$")
    sso: SsoConfig | None = None  # OpenID Connect single sign-on (store/sso_config.py)

    @property
    def lockout_seconds(self) -> float:
        """The lockout as seconds ("15m" is 900)."""
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[self.lockout[-1]]
        return float(int(self.lockout[:-1]) * unit)


def _source_kind(value: Any) -> str:
    """A source's kind: as given, else `database` when it has a URL, else `file`."""
    if isinstance(value, dict):
        default = "database" if {"url", "url_env"} & set(value) else "file"
        return str(value.get("kind", default))
    return str(getattr(value, "kind", "file"))


SourceConfig = Annotated[
    Annotated[FileSource, Tag("file")] | Annotated[DatabaseSource, Tag("database")],
    Discriminator(_source_kind),
]


class WorkspaceConfig(BaseModel):
    """The contents of vitalsign.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["duckdb"] = "duckdb"
    database: str = "vitalsign.duckdb"
    model: str = "models/default.yml"
    sources: list[SourceConfig] = Field(default_factory=list)
    account_fields: list[AccountField] = Field(default_factory=list)
    billing: BillingConfig = Field(default_factory=BillingConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    engine: EngineConfig = Field(default_factory=DuckDBEngine)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: Any) -> Any:
        return engine_section(value)

    @field_validator("account_fields")
    @classmethod
    def _fields_are_new(cls, fields: list[AccountField]) -> list[AccountField]:
        taken = set(ACCOUNTS.column_names) | set(ACCOUNT_DERIVED_COLUMNS) | {DELETED_AT}
        seen: set[str] = set()
        for item in fields:
            if item.name in taken or item.name in seen:
                raise ValueError(
                    f"account field {item.name!r} is already a column of accounts; pick "
                    "another name"
                )
            seen.add(item.name)
        return fields

    def custom_columns(self) -> tuple[Column, ...]:
        """The custom account fields as columns of `accounts`."""
        return tuple(Column(f.name, f.type, False, f.description) for f in self.account_fields)


@dataclass
class Workspace:
    """An open workspace; `backend` connects lazily to its database."""

    root: Path
    config: WorkspaceConfig
    _backend: Any = field(default=None, repr=False)
    engine_backend: Any = field(default=None, repr=False)
    """The scoring engine's Ibis backend once connected (engine/backends.py, connect_engine)."""

    @property
    def database_path(self) -> Path:
        """The DuckDB file."""
        return self.root / self.config.database

    @property
    def model_path(self) -> Path:
        """The default model file."""
        return self.root / self.config.model

    @property
    def backend(self) -> Any:
        """The Ibis backend connected to the workspace database."""
        if self._backend is None:
            self._backend = _connect_waiting(self.database_path, lock_wait_seconds())
            ensure_schema(self._backend.con, self.tables["accounts"])
        return self._backend

    @property
    def tables(self) -> dict[str, CanonicalTable]:
        """The canonical tables of this workspace: `accounts` with its custom fields."""
        custom = self.config.custom_columns()
        return {**CANONICAL_TABLES, "accounts": ACCOUNTS.with_columns(custom)}

    def table(self, name: str) -> CanonicalTable:
        """Return the canonical table `name`, or raise WorkspaceError listing them."""
        found = self.tables.get(name)
        if found is None:
            raise WorkspaceError(f"unknown table {name!r}; known: {', '.join(self.tables)}")
        return found

    @property
    def duckdb(self) -> Any:
        """The raw DuckDB connection under the Ibis backend (for transactions)."""
        return self.backend.con

    def on_new_cursor(self) -> Workspace:
        """This workspace over a new cursor of its database, for work on another thread.

        A DuckDB cursor shares the open database but has transactions of its own, so a
        background job (a page's backtest, a review, a model preview) never interleaves its
        statements with the requests' connection.
        """
        cursor = self.duckdb.cursor()
        return Workspace(
            root=self.root, config=self.config, _backend=ibis.duckdb.from_connection(cursor)
        )

    def load_model(self, path: str | Path | None = None) -> LoadedModel:
        """Load `path` (relative to the workspace) or the configured model."""
        fields = [f.name for f in self.config.account_fields]
        if path is None:
            return load_model(self.model_path, fields)
        candidate = Path(path)
        if not candidate.is_absolute() and not candidate.exists():
            candidate = self.root / candidate
        return load_model(candidate, fields)

    def close(self) -> None:
        """Close the database connection (and the scoring engine's, when it is another)."""
        if self.engine_backend is not None and self.engine_backend is not self._backend:
            disconnect = getattr(self.engine_backend, "disconnect", None)
            if disconnect is not None and getattr(self.engine_backend, "name", "") != "pyspark":
                disconnect()  # a Spark session is shared by the process: never stopped here
        self.engine_backend = None
        if self._backend is not None:
            self._backend.disconnect()
            self._backend = None


LOCK_WAIT_ENV = "VITALSIGN_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 30.0
EXCLUSIVE_COMMAND: ContextVar[str | None] = ContextVar("exclusive_command", default=None)
"""The command being run when it is one a server never runs for you (init, demo, serve…)."""


def lock_wait_seconds() -> float:
    """How long to wait for another process to close the workspace ($VITALSIGN_LOCK_WAIT)."""
    text = os.environ.get(LOCK_WAIT_ENV, "")
    try:
        return max(0.0, float(text)) if text else DEFAULT_LOCK_WAIT
    except ValueError as exc:
        raise WorkspaceError(
            f"{LOCK_WAIT_ENV}={text!r} is not a number of seconds; e.g. {LOCK_WAIT_ENV}=60"
        ) from exc


def _connect_waiting(path: Path, wait: float) -> Any:
    """Connect to the DuckDB file, waiting up to `wait` seconds while another process has it.

    Two commands started at once (a cron job and a person) thus run one after the other
    instead of one failing. `vitalsign serve` holds the file as long as it runs: commands
    reach it through its relay (web/relay.py), so only other programs end up waiting here.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return ibis.duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise WorkspaceError(
                f"{path}: another process has the workspace open (DuckDB allows one "
                f"process to write) and kept it for {wait:g} s. {_holder(exc)}"
                + _lock_advice(EXCLUSIVE_COMMAND.get())
            ) from exc


def _lock_advice(command: str | None) -> str:
    """How to get past the lock: a server runs other commands, never `command` (init, demo…)."""
    if command is not None:
        return (
            f"`vitalsign {command}` never runs inside a server: if that process is "
            "`vitalsign serve` (or `schedule`), stop it first (Ctrl-C in its terminal), run "
            f"`vitalsign {command}` again, then start the server again; otherwise wait for it "
            f"to finish, or raise {LOCK_WAIT_ENV} (seconds)."
        )
    return (
        "If it is `vitalsign serve`, run `vitalsign` commands as usual (the server runs "
        "them) or use its REST API from Python; otherwise wait for it to finish, "
        f"or raise {LOCK_WAIT_ENV} (seconds)."
    )


def ensure_not_open(root: Path) -> None:
    """Wait (as any command does) until no process has the workspace in `root` open, else raise.

    `vitalsign demo` calls it before deleting a folder: a server keeps its handle on a deleted
    file and later writes would go there, lost.
    """
    database = root / WorkspaceConfig().database
    with contextlib.suppress(WorkspaceError):  # no or a bad vitalsign.yml: the default name
        database = open_workspace(root).database_path
    if database.exists():
        _connect_waiting(database, lock_wait_seconds()).disconnect()


def _holder(exc: Exception) -> str:
    """The process DuckDB names as holding the lock ("PID 123"), as a sentence."""
    found = re.search(r"PID (\d+)", str(exc))
    return f"It is process {found.group(1)}. " if found else ""


def init_workspace(directory: str | Path) -> Workspace:
    """Create a workspace in `directory` (config, starter model, tables) and open it.

    >>> ws = init_workspace("/tmp/acme")  # doctest: +SKIP
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_FILE
    if not config_path.exists():
        config_path.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    models = root / "models"
    models.mkdir(exist_ok=True)
    starter = models / "default.yml"
    if not starter.exists():
        source = resources.files("vitalsign.store").joinpath("starter_model.yml")
        with resources.as_file(source) as path:
            shutil.copyfile(path, starter)
    workspace = open_workspace(root)
    ensure_schema(workspace.duckdb, workspace.tables["accounts"])
    return workspace


def existing_parts(directory: str | Path) -> dict[str, Path]:
    """Return the parts of a workspace already in `directory`, which `init_workspace` keeps.

    Keys: "config" (vitalsign.yml), "model" (models/default.yml), "data" (the database file
    the config names).

    >>> existing_parts("/tmp/acme")  # doctest: +SKIP
    {'config': PosixPath('/tmp/acme/vitalsign.yml'), ...}
    """
    root = Path(directory)
    config_path = root / CONFIG_FILE
    database = root / WorkspaceConfig().database
    if config_path.exists():
        database = open_workspace(root).database_path
    candidates = {
        "config": config_path,
        "model": root / "models" / "default.yml",
        "data": database,
    }
    return {part: path for part, path in candidates.items() if path.exists()}


def open_workspace(directory: str | Path = ".") -> Workspace:
    """Open the workspace in `directory`, or raise WorkspaceError saying how to create one."""
    root = Path(directory).resolve()
    config_path = root / CONFIG_FILE
    if not config_path.exists():
        raise WorkspaceError(
            f"{root}: no {CONFIG_FILE} here; create a workspace with `vitalsign init {directory}` "
            "or pass --workspace DIR"
        )
    try:
        raw = YAML(typ="safe").load(config_path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise WorkspaceError(f"{config_path}: not valid YAML: {exc}") from exc
    try:
        config = WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if loc[:1] == ["engine"] and len(loc) > 1 and loc[1] in ENGINE_TYPES:
            del loc[1]  # the union's tag: `engine.remote`, not `engine.spark.remote`
        key = ".".join(loc)
        raise WorkspaceError(f"{config_path} {key}: {first['msg']}") from exc
    return Workspace(root=root, config=config)
