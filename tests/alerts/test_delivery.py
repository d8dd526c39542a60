"""Delivery through real local servers: SMTP, Slack and signed webhooks, and the outbox."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from alert_history import alert_config, day, write_day
from alert_receivers import HttpReceiver, SmtpReceiver, free_port
from rich.console import Console

from vitalsign.alerts.channels import build_channels, verify_signature
from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.outbox import deliver_due, drain, list_outbox, retry_failed
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


def _config(model: LoadedModel, channels: str) -> AlertConfig:
    return alert_config(
        f"""
channels:
{channels}
owners:
  ann: {{email: ann@example.com, slack: "<@U0ANN>"}}
fallback_owner: team@example.com
outbox: {{backoff: 30s, backoff_max: 5m, max_attempts: 10}}
playbooks:
  rescue: {{title: "Rescue {{account_name}}", steps: [Call the champion], due: 3d}}
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low: {{type: score_below, value: 50, severity: critical, playbook: rescue}}
""",
        model,
    )


def _alerting(ws: Workspace, model: LoadedModel, config: AlertConfig) -> list[str]:
    write_day(
        ws.duckdb, model, day(0), {"A": {"score": 30}, "B": {"score": 20}, "C": {"score": 45}}
    )
    return evaluate_alerts(ws.duckdb, config, model, day(0)).opened


def test_email_goes_over_smtp_to_a_real_local_server(
    tiny_workspace: Workspace, tiny_model: LoadedModel, smtp: SmtpReceiver
) -> None:
    config = _config(
        tiny_model,
        f"  console: null\n  email: {{host: 127.0.0.1, port: {smtp.port}, from: vs@example.com}}",
    )
    opened = _alerting(tiny_workspace, tiny_model, config)
    report = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert report.delivered == 3 and report.ok
    recipients = sorted(r for _, rcpts, _ in smtp.messages for r in rcpts)
    assert recipients == ["ann@example.com", "ann@example.com", "team@example.com"]
    acme = next(m for _, rcpt, m in smtp.messages if "Acme" in m["Subject"])
    assert acme["Subject"] == "[critical] Acme: score 30.0 is below 50"
    assert acme["To"] == "ann@example.com" and acme["From"] == "vs@example.com"
    assert acme["X-Vitalsign-Id"] in {f"{a}.email" for a in opened}
    text = acme.get_payload()[0].get_payload(decode=True).decode()
    assert "vitalsign explain A --as-of 2024-03-04" in text
    assert "Task t-" in text and "Rescue Acme" in text and "Call the champion" in text
    # bob has no address: his alert goes to the fallback owner
    assert [r for _, r, m in smtp.messages if "Beta" in m["Subject"]] == [["team@example.com"]]


def test_slack_gets_a_block_kit_message_from_its_incoming_webhook(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver
) -> None:
    config = _config(tiny_model, f"  console: null\n  slack: {{webhook_url: '{http.url}/slack'}}")
    _alerting(tiny_workspace, tiny_model, config)
    deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert len(http.requests) == 3 and {r.path for r in http.requests} == {"/slack"}
    acme = next(json.loads(r.body) for r in http.requests if b"Acme" in r.body)
    assert acme["text"] == "[critical] Acme: score 30.0 is below 50"
    kinds = [b["type"] for b in acme["blocks"]]
    assert kinds == ["header", "section", "section", "section", "context"]
    fields = [f["text"] for f in acme["blocks"][2]["fields"]]
    assert "*Owner*\n<@U0ANN>" in fields and "*Band*\nred" in fields
    assert "Rescue Acme" in acme["blocks"][3]["text"]["text"]


def test_webhooks_are_signed_with_hmac_sha256_and_carry_an_idempotency_key(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver
) -> None:
    config = _config(
        tiny_model, f"  console: null\n  webhook: {{url: '{http.url}/hook', secret: {SECRET}}}"
    )
    opened = _alerting(tiny_workspace, tiny_model, config)
    deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert len(http.requests) == 3
    for request in http.requests:
        assert verify_signature(SECRET, request.headers, request.body)
        assert not verify_signature("another-secret-entirely", request.headers, request.body)
        assert not verify_signature(SECRET, request.headers, request.body + b" ")
        body = json.loads(request.body)
        assert body["type"] == "alert" and body["id"] == request.headers["Idempotency-Key"]
        assert request.headers["X-Vitalsign-Id"] == body["id"]
        assert body["alert"]["alert_id"] in opened
        assert request.headers["X-Vitalsign-Signature"].startswith("sha256=")
    stale = {**http.requests[0].headers}
    now = int(stale["X-Vitalsign-Timestamp"]) + 3600
    assert not verify_signature(SECRET, stale, http.requests[0].body, now=now)


def test_every_alert_is_delivered_exactly_once_after_an_outage(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    http, smtp = HttpReceiver(port=free_port()), SmtpReceiver()  # both down for now
    config = _config(
        tiny_model,
        f"  console: null\n  webhook: {{url: '{http.url}/hook', secret: {SECRET}}}\n"
        f"  email: {{host: 127.0.0.1, port: {smtp.port}, from: vs@example.com, timeout: 2}}",
    )
    opened = _alerting(tiny_workspace, tiny_model, config)
    clock = [dt.datetime.now(dt.UTC).replace(tzinfo=None)]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)
        if len(waits) == 3:  # the receivers come back after the third wait
            http.start()
            smtp.start()

    try:
        report = drain(
            tiny_workspace.duckdb,
            build_channels(config.channels),
            config.outbox,
            wait_seconds=3600,
            clock=lambda: clock[0],
            sleep=sleep,
        )
        assert report.ok and report.delivered == 6
        assert waits == [30.0, 60.0, 120.0]  # exponential backoff
        keys = Counter(r.headers["Idempotency-Key"] for r in http.requests)
        assert sorted(keys) == sorted(f"{a}.webhook" for a in opened)
        assert set(keys.values()) == {1}
        mails = Counter(m["X-Vitalsign-Id"] for _, _, m in smtp.messages)
        assert sorted(mails) == sorted(f"{a}.email" for a in opened) and set(mails.values()) == {1}
        attempts = list_outbox(tiny_workspace.duckdb)
        assert set(attempts["status"]) == {"delivered"}
        # one message per channel really tried and failed 3 times; the others waited behind it
        assert sorted(attempts["attempts"]) == [1, 1, 1, 1, 4, 4]
        again = deliver_due(
            tiny_workspace.duckdb, build_channels(config.channels), config.outbox, lambda: clock[0]
        )
        assert again.delivered == 0 and len(http.requests) == 3  # nothing is sent twice
    finally:
        http.stop()
        smtp.stop()


def test_a_rejected_message_gives_up_at_once_and_can_be_requeued(
    tiny_workspace: Workspace, tiny_model: LoadedModel, http: HttpReceiver
) -> None:
    config = _config(tiny_model, f"  console: null\n  slack: {{webhook_url: '{http.url}/slack'}}")
    _alerting(tiny_workspace, tiny_model, config)
    http.status = 400
    first = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert first.failed == 3 and first.pending == 0 and "HTTP 400" in first.errors["slack"]
    http.status = 503
    assert retry_failed(tiny_workspace.duckdb) == 3
    second = deliver_due(tiny_workspace.duckdb, build_channels(config.channels), config.outbox)
    assert second.failed == 0 and second.pending == 3  # a 5xx is retried later
    http.status = 200
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=1)
    third = deliver_due(
        tiny_workspace.duckdb, build_channels(config.channels), config.outbox, lambda: later
    )
    assert third.delivered == 3 and third.ok


def test_the_console_channel_prints_each_alert(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    config = _config(tiny_model, "  console: {}")
    _alerting(tiny_workspace, tiny_model, config)
    out = io.StringIO()
    channels = build_channels(config.channels, Console(file=out, width=120, color_system=None))
    assert deliver_due(tiny_workspace.duckdb, channels, config.outbox).delivered == 3
    text = out.getvalue()
    assert "[critical] Acme: score 30.0 is below 50" in text
    assert "Score 30.0, band red" in text and "owner ann" in text
