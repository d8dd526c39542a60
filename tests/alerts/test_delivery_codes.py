"""Delivery means delivered: only a 2xx (or SMTP acceptance) marks a message delivered.

Every test talks to a real local receiver: redirects, refused recipients and refused
messages are answered by real HTTP and SMTP servers, never by a mock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alert_history import alert_config, day, write_day
from alert_receivers import HttpReceiver, SmtpReceiver
from typer.testing import CliRunner

from vitalsign.alerts.channels import build_channels
from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.outbox import deliver_due, list_outbox
from vitalsign.cli import app
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

SECRET = "s3cret-s3cret-s3cret"
REASONS = {
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
}


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def elsewhere() -> Iterator[HttpReceiver]:
    """The host a redirect points to: it must never receive anything."""
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


def _config(model: LoadedModel, channels: str) -> AlertConfig:
    return alert_config(
        f"""
channels:
  console: null
{channels}
owners:
  ann: {{email: ann@example.com, slack: "<@U0ANN>"}}
fallback_owner: team@example.com
outbox: {{backoff: 30s, backoff_max: 5m, max_attempts: 10}}
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low: {{type: score_below, value: 50, severity: critical}}
""",
        model,
    )


def _alerting(ws: Workspace, model: LoadedModel, config: AlertConfig) -> list[str]:
    write_day(
        ws.duckdb, model, day(0), {"A": {"score": 30}, "B": {"score": 20}, "C": {"score": 45}}
    )
    return evaluate_alerts(ws.duckdb, config, model, day(0)).opened


def _channel(kind: str, url: str) -> str:
    if kind == "webhook":
        return f"  webhook: {{url: '{url}/hook', secret: {SECRET}}}"
    return f"  slack: {{webhook_url: '{url}/slack'}}"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_a_redirect_is_a_failure_with_its_reason_and_is_never_followed(
    tiny_workspace: Workspace,
    tiny_model: LoadedModel,
    http: HttpReceiver,
    elsewhere: HttpReceiver,
    kind: str,
    status: int,
) -> None:
    http.status, http.location = status, f"{elsewhere.url}/moved"
    config = _config(tiny_model, _channel(kind, http.url))
    _alerting(tiny_workspace, tiny_model, config)
    report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert report.delivered == 0 and report.failed == 3
    assert len(http.requests) == 3 and elsewhere.requests == []  # not followed anywhere
    outbox = list_outbox(tiny_workspace.duckdb)
    assert set(outbox["status"]) == {"failed"}
    expected = (
        f"{kind} answered {status} {REASONS[status]} to {elsewhere.url}/moved; "
        "redirects are not followed"
    )
    assert all(error.startswith(expected) for error in outbox["last_error"]), outbox["last_error"]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_a_2xx_answer_is_delivered(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver, kind: str, status: int
) -> None:
    http.status = status
    config = _config(tiny_model, _channel(kind, http.url))
    _alerting(tiny_workspace, tiny_model, config)
    report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert report.delivered == 3 and report.ok and len(http.requests) == 3
    assert set(list_outbox(tiny_workspace.duckdb)["status"]) == {"delivered"}


@pytest.mark.parametrize("status", [100, 304, 600])
def test_an_answer_outside_2xx_is_never_counted_as_delivered(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver, status: int
) -> None:
    http.status = status
    config = _config(tiny_model, _channel("webhook", http.url))
    _alerting(tiny_workspace, tiny_model, config)
    report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert report.delivered == 0
    assert "delivered" not in set(list_outbox(tiny_workspace.duckdb)["status"])


def test_the_outbox_command_shows_why_a_redirected_webhook_failed(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver, elsewhere: HttpReceiver
) -> None:
    http.status, http.location = 307, f"{elsewhere.url}/hook"
    config = _config(tiny_model, _channel("webhook", http.url))
    _alerting(tiny_workspace, tiny_model, config)
    deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    tiny_workspace.close()
    result = CliRunner().invoke(
        app,
        ["alerts", "outbox", "--status", "failed", "-w", str(tiny_workspace.root)],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    expected = (
        f"webhook answered 307 Temporary Redirect to {elsewhere.url}/hook; "
        "redirects are not followed"
    )
    assert result.output.count(expected) == 3, result.output


def _smtp_config(model: LoadedModel, smtp: SmtpReceiver) -> AlertConfig:
    return _config(model, f"  email: {{host: 127.0.0.1, port: {smtp.port}, from: vs@example.com}}")


def test_a_refused_recipient_is_a_permanent_failure_and_the_others_are_delivered(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    smtp = SmtpReceiver(refuse=frozenset({"team@example.com"})).start()
    try:
        config = _smtp_config(tiny_model, smtp)
        _alerting(tiny_workspace, tiny_model, config)
        report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    finally:
        smtp.stop()
    assert report.delivered == 2 and report.failed == 1
    assert sorted(r for _, rcpts, _ in smtp.messages for r in rcpts) == [
        "ann@example.com",
        "ann@example.com",
    ]
    outbox = list_outbox(tiny_workspace.duckdb).set_index("recipient")
    failed = outbox.loc["team@example.com"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "team@example.com" in failed["last_error"] and "550" in failed["last_error"]


def test_a_message_the_smtp_server_refuses_is_not_delivered(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    smtp = SmtpReceiver(data_reply="554 5.7.1 message rejected as spam").start()
    try:
        config = _smtp_config(tiny_model, smtp)
        _alerting(tiny_workspace, tiny_model, config)
        report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    finally:
        smtp.stop()
    assert report.delivered == 0 and report.failed == 3 and smtp.messages == []
    errors = set(list_outbox(tiny_workspace.duckdb)["last_error"])
    assert all("554" in e and "rejected as spam" in e for e in errors), errors


def test_a_temporary_smtp_refusal_is_retried(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    smtp = SmtpReceiver(data_reply="451 4.3.0 try again later").start()
    try:
        config = _smtp_config(tiny_model, smtp)
        _alerting(tiny_workspace, tiny_model, config)
        report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    finally:
        smtp.stop()
    assert report.delivered == 0 and report.failed == 0 and report.pending == 3
    assert "451" in report.errors["email"]
