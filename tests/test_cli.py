"""The CLI end to end on the tiny world: init, check, ingest, score, backfill, explain, report."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.store.workspace import init_workspace
from world import T, load_tiny_world

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _tiny(tmp_path: Path) -> str:
    ws = init_workspace(tmp_path / "ws")
    load_tiny_world(ws.duckdb)
    ws.close()
    return str(tmp_path / "ws")


def test_init_creates_config_model_and_tables(tmp_path: Path) -> None:
    out = _run("init", str(tmp_path / "acme"))
    assert "Created workspace" in out
    assert (tmp_path / "acme" / "vitalsign.yml").exists()
    assert (tmp_path / "acme" / "models" / "default.yml").exists()
    assert "is valid" in _run("check", "-w", str(tmp_path / "acme"))


def test_score_backfill_explain_and_report(tmp_path: Path) -> None:
    ws = _tiny(tmp_path)
    model = str(FIXTURES / "models" / "tiny.yml")
    assert "Scored 3 accounts" in _run("score", "--as-of", T.isoformat(), "-m", model, "-w", ws)
    out = _run(
        "backfill",
        "--from",
        "2024-01-05",
        "--to",
        T.isoformat(),
        "--every",
        "1w",
        "-m",
        model,
        "-w",
        ws,
    )
    assert "Stored 9 snapshots" in out
    text = _run("explain", "A", "-m", model, "-w", ws)
    assert "logins_30d" in text and "60.0" in text and "yellow" in text
    since = _run("explain", "B", "--since", "2024-01-05", "-m", model, "-w", ws)
    assert "What changed" in since and "champion_left" in since
    data = json.loads(_run("explain", "B", "--format", "json", "-m", model, "-w", ws))
    assert data["score"] == 65.0 and data["flags"] == ["champion_left"]
    report = _run("report", "-m", model, "-w", ws)
    assert "67% yellow" in report and "33% red" in report and "ARR at risk" in report
    summary = json.loads(_run("report", "--format", "json", "-m", model, "-w", ws))
    assert summary["accounts"] == 3 and summary["arr_at_risk"] == 3000.0
    rows = list(
        csv.DictReader(io.StringIO(_run("report", "--format", "csv", "-m", model, "-w", ws)))
    )
    assert {r["section"] for r in rows} >= {"bands", "segment", "owner"}


def test_ingest_maps_columns_from_a_csv(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    _run("init", ws)
    source = tmp_path / "crm.csv"
    source.write_text("Id,Company,Since,ARR\nx1,Xylo,2023-01-05,1200\nx2,Yak,2023-02-01,\n")
    out = _run(
        "ingest",
        str(source),
        "--into",
        "accounts",
        "--map",
        "account_id=Id",
        "--map",
        "name=Company",
        "--map",
        "created_at=Since",
        "--map",
        "arr=ARR",
        "-w",
        ws,
    )
    assert "read 2: inserted 2, updated 0, unchanged 0" in out
    again = _run(
        "ingest",
        str(source),
        "--into",
        "accounts",
        "--map",
        "account_id=Id",
        "--map",
        "name=Company",
        "--map",
        "created_at=Since",
        "-w",
        ws,
    )
    assert "read 2: inserted 0, updated 0, unchanged 2" in again


def test_a_user_mistake_is_one_line_on_stderr_and_exit_code_1(tmp_path: Path) -> None:
    env = {**os.environ, "VITALSIGN_WORKSPACE": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "vitalsign", "report"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "vitalsign init" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
