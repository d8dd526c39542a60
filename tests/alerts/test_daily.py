"""`vitalsign run`: sync, score, evaluate, digest, deliver; a failing step leaves the rest whole."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from alert_receivers import HttpReceiver
from typer.testing import CliRunner

from vitalsign.alerts import daily
from vitalsign.alerts.daily import run_daily
from vitalsign.alerts.inbox import list_alerts
from vitalsign.cli import app
from vitalsign.store.workspace import Workspace
from world import T

FIXTURES = Path(__file__).parents[1] / "fixtures"
SECRET = "0123456789abcdef-secret"
runner = CliRunner()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


def _prepare(ws: Workspace, url: str) -> None:
    shutil.copyfile(FIXTURES / "models" / "tiny.yml", ws.model_path)
    (ws.root / "alerts.yml").write_text(
        f"""
channels:
  console: null
  webhook: {{url: "{url}", secret: {SECRET}}}
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  not_invoiced: {{type: gate_failed, severity: critical}}
  champion: {{type: flag_raised, flags: [champion_left]}}
""",
        encoding="utf-8",
    )


def _count(ws: Workspace, table: str) -> int:
    return int(ws.duckdb.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_daily_job_scores_evaluates_and_delivers(
    tiny_workspace: Workspace, http: HttpReceiver
) -> None:
    _prepare(tiny_workspace, http.url + "/hook")
    report = run_daily(tiny_workspace, as_of=T, show_progress=False)
    assert report.ok, report.steps
    assert [s.name for s in report.steps] == [
        "sync",
        "score",
        "config",
        "alerts",
        "digest",
        "deliver",
    ]
    assert report.step("sync").detail == "no sources declared in vitalsign.yml"
    assert "3 accounts as of 2024-03-01 with tiny" in report.step("score").detail
    assert "2 opened" in report.step("alerts").detail
    assert report.step("deliver").detail.startswith("2 delivered, 0 waiting")
    received = sorted(
        (json.loads(r.body)["alert"]["rule"], json.loads(r.body)["alert"]["account_id"])
        for r in http.requests
    )
    assert received == [("champion", "B"), ("not_invoiced", "C")]


class _CommitOnConflict(logging.Handler):
    """Commits another writer's transaction when the job logs that it met it."""

    def __init__(self, writer: duckdb.DuckDBPyConnection) -> None:
        super().__init__(logging.WARNING)
        self.writer = writer
        self.conflicts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "write conflict" in record.getMessage():
            self.conflicts.append(str(record.args[0]) if record.args else "")
            if len(self.conflicts) == 1:
                self.writer.execute("COMMIT")


def test_the_daily_job_retries_a_step_that_meets_a_person_acknowledging_its_alert(
    tiny_workspace: Workspace, http: HttpReceiver
) -> None:
    _prepare(tiny_workspace, http.url + "/hook")
    assert run_daily(tiny_workspace, as_of=T, show_progress=False).ok
    alerts_yml = tiny_workspace.root / "alerts.yml"  # the champion rule goes: its alert resolves
    alerts_yml.write_text(alerts_yml.read_text().split("  champion:")[0], encoding="utf-8")
    alert_id = tiny_workspace.duckdb.execute(
        "SELECT alert_id FROM alerts WHERE rule = 'champion'"
    ).fetchone()[0]
    person = tiny_workspace.duckdb.cursor()  # a request in `vitalsign serve`, mid-transaction
    person.execute("BEGIN TRANSACTION")
    person.execute(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = 'ann' WHERE alert_id = ?",
        [alert_id],
    )
    finishes = _CommitOnConflict(person)  # the person's request ends as the job meets it
    logging.getLogger("vitalsign").addHandler(finishes)
    try:
        report = run_daily(tiny_workspace, as_of=T, sync=False, show_progress=False)
    finally:
        logging.getLogger("vitalsign").removeHandler(finishes)
        person.close()
    assert report.ok, report.steps
    assert finishes.conflicts == ["daily job, step alerts"]
    alerts = report.step("alerts").detail
    assert "1 resolved" in alerts and alerts.endswith("(after 1 write-conflict retry)")
    row = tiny_workspace.duckdb.execute(
        "SELECT status, acknowledged_by FROM alerts WHERE alert_id = ?", [alert_id]
    ).fetchone()
    assert row == ("resolved", "ann")  # the person's write was kept, then the job's


def test_a_channel_outage_fails_the_run_but_keeps_scores_and_alerts(
    tiny_workspace: Workspace,
) -> None:
    down = HttpReceiver()
    _prepare(tiny_workspace, down.url + "/hook")
    ws = str(tiny_workspace.root)
    tiny_workspace.close()
    result = runner.invoke(app, ["run", "--as-of", T.isoformat(), "--no-sync", "-w", ws])
    assert result.exit_code == 1
    assert "waiting for a retry" in result.output and "ConnectError" in result.output
    down.start()
    try:
        waiting = runner.invoke(app, ["alerts", "deliver", "-w", ws], catch_exceptions=False)
        # the first attempt's backoff is not over: nothing is tried yet
        assert waiting.exit_code == 1 and "0 delivered, 2 waiting" in waiting.output
        assert down.requests == []
        pushed = runner.invoke(app, ["alerts", "deliver", "--now", "-w", ws])
        assert pushed.exit_code == 0 and "2 delivered, 0 waiting" in pushed.output
        assert len(down.requests) == 2
        listing = runner.invoke(app, ["alerts", "list", "--format", "json", "-w", ws])
        assert json.loads(listing.output)["total"] == 2
    finally:
        down.stop()


def test_a_failed_sync_still_scores_and_a_broken_alerts_file_skips_only_the_alerts(
    tiny_workspace: Workspace,
) -> None:
    _prepare(tiny_workspace, "http://127.0.0.1:9/hook")
    config = tiny_workspace.root / "vitalsign.yml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "sources:\n  - {name: crm, kind: file, path: missing/*.csv, into: accounts}\n",
        encoding="utf-8",
    )
    (tiny_workspace.root / "alerts.yml").write_text(
        "rules:\n  r: {type: band_entered, bands: [purple]}\n", encoding="utf-8"
    )
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(tiny_workspace.root)
    try:
        report = run_daily(ws, as_of=T, show_progress=False)
        statuses = {s.name: s.status for s in report.steps}
        assert statuses == {
            "sync": "failed",
            "score": "ok",
            "config": "failed",
            "alerts": "skipped",
            "digest": "skipped",
            "deliver": "skipped",
        }
        assert "crm" in report.step("sync").detail
        assert "alerts.yml:2 rules.r.bands.0: model 'tiny' has no band 'purple'" in (
            report.step("config").detail
        )
        assert not report.ok and _count(ws, "scores") == 3
        assert list_alerts(ws.duckdb).total == 0
    finally:
        ws.close()


def test_a_bug_in_one_step_is_reported_with_its_traceback_and_delivery_still_runs(
    tiny_workspace: Workspace, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(tiny_workspace, http.url + "/hook")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(daily, "enqueue_digests", broken)
    report = run_daily(tiny_workspace, as_of=T, sync=False, show_progress=False)
    digest = report.step("digest")
    assert digest.status == "failed" and digest.detail == "RuntimeError: boom"
    assert digest.trace is not None and "Traceback" in digest.trace
    assert report.step("alerts").status == "ok" and report.step("deliver").status == "ok"
    assert len(http.requests) == 2 and not report.ok
