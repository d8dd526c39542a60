"""Where a command may write a file: every output path of the CLI is checked here.

The rules, in order (docs/cli.md, "Output files"):

1. A relative path is relative to the current folder (not to the workspace), as for any
   command-line tool; the absolute path is what gets checked, written and reported.
2. Never, even with `--force`: a folder; a DuckDB database (whatever its name) or its
   `.wal` file; the workspace's database, its `.wal`, `vitalsign.yml`, `alerts.yml` or any
   other `*.yml` at the workspace's top; a file named `vitalsign.yml` anywhere; and, unless
   the command writes a model, the workspace's model files (`models/*.yml` and the model
   named in `vitalsign.yml`).
3. Without `--force`, an existing file only when it is of the kind being written: an
   HTML page for an HTML report, a model proposed by `vitalsign calibrate` for a proposal.

Folders that commands create (`init`, `demo`) are checked by `check_workspace_folder`:
never over a file, and `demo` replaces only a folder that an earlier `demo` built.

>>> path = write_output("report.html", "<!DOCTYPE html>...", "html", "--html")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from vitalsign.errors import VitalsignError

if TYPE_CHECKING:
    from vitalsign.store.workspace import Workspace

OutputKind = Literal["html", "model"]

DUCKDB_MAGIC = b"DUCK"  # bytes 8-12 of every DuckDB database file
PROPOSAL_MARK = "# Proposed by `vitalsign calibrate`"
KIND_NAMES = {"html": "an HTML page", "model": "a model proposed by `vitalsign calibrate`"}
MODEL_SUFFIXES = (".yml", ".yaml")
DEMO_MARK = ".vitalsign-demo"  # written by `vitalsign demo` into the workspace it builds


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def is_duckdb_database(path: Path) -> bool:
    """Return whether `path` is a DuckDB database file (by its header, not its name)."""
    return path.is_file() and _head(path, 12)[8:12] == DUCKDB_MAGIC


def _is_kind(path: Path, kind: OutputKind) -> bool:
    text = _head(path).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if kind == "html":
        lowered = text[:20].lower()
        return lowered.startswith("<!doctype html") or lowered.startswith("<html")
    return text.startswith(PROPOSAL_MARK)


def _workspace_file(real: Path, kind: OutputKind, workspace: Workspace | None) -> str | None:
    """Say which of the workspace's own files `real` is, or None."""
    if workspace is None:
        return None
    root = workspace.root.resolve()
    database = workspace.database_path.resolve()
    if real in (database, database.with_name(database.name + ".wal")):
        return "the workspace's database"
    if real.parent == root and real.suffix in MODEL_SUFFIXES:
        return "a configuration file of the workspace"
    if kind != "model":
        if real == workspace.model_path.resolve():
            return "the workspace's model"
        if real.parent == root / "models" and real.suffix in MODEL_SUFFIXES:
            return "a model file of the workspace"
    return None


def _never(real: Path, kind: OutputKind, workspace: Workspace | None) -> str | None:
    """Say why nothing may ever be written at `real`, or None."""
    if real.is_dir():
        return "is a folder"
    if is_duckdb_database(real):
        return "is a DuckDB database"
    if real.suffix == ".wal" and is_duckdb_database(real.with_suffix("")):
        return "is the write-ahead log of a DuckDB database"
    if real.name == "vitalsign.yml":
        return "is a workspace configuration file"
    mine = _workspace_file(real, kind, workspace)
    return None if mine is None else f"is {mine}"


def check_output_path(
    path: str | Path,
    kind: OutputKind,
    option: str,
    workspace: Workspace | None = None,
    force: bool = False,
) -> Path:
    """Return the absolute path `option` may write `kind` to, or raise VitalsignError.

    >>> check_output_path("report.html", "html", "--html")  # doctest: +SKIP
    PosixPath('/home/ann/report.html')
    """
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    real = absolute.resolve()
    shown = str(absolute) if real == absolute else f"{absolute} (a link to {real})"
    reason = _never(real, kind, workspace)
    if reason is not None:
        raise VitalsignError(
            f"{option} {shown} {reason}; vitalsign never writes an output there. "
            f"To fix this, give another path, e.g. {option} {_example(kind)}"
        )
    if real.exists() and not force and not _is_kind(real, kind):
        raise VitalsignError(
            f"{option} {shown} exists and is not {KIND_NAMES[kind]}. To fix this, give "
            f"another path, or add --force to replace it"
        )
    return absolute


def _example(kind: OutputKind) -> str:
    return "backtest.html" if kind == "html" else "default.proposed.yml"


def write_output(
    path: str | Path,
    text: str,
    kind: OutputKind,
    option: str,
    workspace: Workspace | None = None,
    force: bool = False,
) -> Path:
    """Check `path`, write `text` there atomically (creating folders), return the absolute path.

    >>> write_output("report.html", "<!DOCTYPE html>...", "html", "--html")  # doctest: +SKIP
    PosixPath('/home/ann/report.html')
    """
    target = check_output_path(path, kind, option, workspace, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _mode(target: Path) -> int:
    """The replaced file's permissions, or the usual ones (mkstemp makes files private)."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_workspace_folder(
    path: str | Path, option: str, replace: bool = False, force: bool = False
) -> Path:
    """Return the absolute folder a workspace may be created in (`replace`: wiped first).

    A folder that is to be replaced must be empty, or hold an earlier demo, or `force`.

    >>> check_workspace_folder("demo-workspace", "DIRECTORY", replace=True)  # doctest: +SKIP
    PosixPath('/home/ann/demo-workspace')
    """
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    if absolute.exists() and not absolute.is_dir():
        raise VitalsignError(
            f"{option} {absolute} is a file, not a folder. To fix this, give a new folder's path"
        )
    if (
        replace
        and not force
        and absolute.is_dir()
        and any(absolute.iterdir())
        and not (absolute / DEMO_MARK).exists()
    ):
        raise VitalsignError(
            f"{option} {absolute} exists and was not built by `vitalsign demo`; it would be "
            "deleted. To fix this, give a new folder, or add --force to delete and rebuild it"
        )
    return absolute


def mark_demo(folder: Path) -> None:
    """Mark `folder` as a demo workspace that a later `vitalsign demo` may replace."""
    (folder / DEMO_MARK).write_text(
        "Built by `vitalsign demo`; a later `vitalsign demo` may delete and rebuild it.\n",
        encoding="utf-8",
    )
