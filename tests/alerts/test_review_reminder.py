"""The review reminder: queued once when the quarterly review is due, by e-mail and Slack."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_receivers import HttpReceiver, SmtpReceiver

from vitalsign.alerts.daily import run_daily
from vitalsign.alerts.loading import parse_alert_config
from vitalsign.alerts.review_reminder import due_date, queue_review_reminder
from vitalsign.analytics.review_store import review_folder, reviews_root, write_json
from vitalsign.errors import VitalsignError
from vitalsign.store.workspace import Workspace
from world import T

FIXTURES = Path(__file__).parents[1] / "fixtures"
LEAD = "lead@example.com"


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpReceiver, HttpReceiver]]:
    smtp, http = SmtpReceiver().start(), HttpReceiver().start()
    yield smtp, http
    smtp.stop()
    http.stop()


def _prepare(ws: Workspace, smtp: SmtpReceiver, http: HttpReceiver) -> None:
    shutil.copyfile(FIXTURES / "models" / "tiny.yml", ws.model_path)
    (ws.root / "alerts.yml").write_text(
        f"""
channels:
  console: null
  email: {{host: 127.0.0.1, port: {smtp.port}, from: vitalsign@example.com}}
  slack: {{webhook_url: "{http.url}/slack"}}
owners:
  lead: {{email: {LEAD}, slack: "#cs-ops"}}
review: {{every: 90d, owners: [lead]}}
rules:
  not_invoiced: {{type: gate_failed, severity: critical, delivery: none}}
""",
        encoding="utf-8",
    )


def _reminders(ws: Workspace) -> list[str]:
    rows = ws.duckdb.execute(
        "SELECT message_id FROM outbox WHERE kind = 'review' ORDER BY message_id"
    ).fetchall()
    return [r[0] for r in rows]


def test_the_reminder_is_queued_once_when_due_and_again_a_period_after_the_review(
    tiny_workspace: Workspace, receivers: tuple[SmtpReceiver, HttpReceiver]
) -> None:
    smtp, http = receivers
    _prepare(tiny_workspace, smtp, http)
    day = T
    report = run_daily(tiny_workspace, as_of=day, show_progress=False)
    assert report.ok, report.steps
    assert report.step("review").detail == f"review due since {day}: 2 reminders queued"
    assert _reminders(tiny_workspace) == ["review.first.email", "review.first.slack"]
    [(_, recipients, mail)] = smtp.messages
    assert recipients == [LEAD]
    assert mail["Subject"] == f"Quarterly review due since {day}"
    text = next(part for part in mail.walk() if part.get_content_type() == "text/plain")
    assert "run `vitalsign review`" in text.get_payload(decode=True).decode()
    [post] = http.requests
    assert "Quarterly review due" in json.loads(post.body)["text"]

    later = day + dt.timedelta(days=1)  # due still, but queued already
    again = run_daily(tiny_workspace, as_of=later, show_progress=False)
    assert again.step("review").detail == f"review due since {later}: 0 reminders queued"
    assert len(smtp.messages) == 1 and len(http.requests) == 1

    reviewed = day + dt.timedelta(days=2)  # someone ran the review (its stored JSON)
    root = reviews_root(tiny_workspace)
    write_json(review_folder(root, reviewed) / "review.json", {"as_of": reviewed.isoformat()})
    quiet = run_daily(tiny_workspace, as_of=reviewed + dt.timedelta(days=89), show_progress=False)
    assert quiet.step("review").detail == "no review due"
    due = reviewed + dt.timedelta(days=90)
    run_daily(tiny_workspace, as_of=due, show_progress=False)
    assert _reminders(tiny_workspace)[:2] == [f"review.{due}.email", f"review.{due}.slack"]
    assert len(_reminders(tiny_workspace)) == 4
    assert len(smtp.messages) == 2


def test_without_a_review_setting_the_daily_job_has_no_review_step(
    tiny_workspace: Workspace, receivers: tuple[SmtpReceiver, HttpReceiver]
) -> None:
    smtp, http = receivers
    _prepare(tiny_workspace, smtp, http)
    path = tiny_workspace.root / "alerts.yml"
    path.write_text(path.read_text().replace("review: {every: 90d, owners: [lead]}\n", ""))
    report = run_daily(tiny_workspace, show_progress=False, as_of=dt.date(2024, 3, 1))
    assert "review" not in [s.name for s in report.steps]


def test_due_dates_follow_the_last_review() -> None:
    last = dt.date(2026, 1, 1)
    assert due_date(None, 90, dt.date(2026, 2, 2)) == dt.date(2026, 2, 2)
    assert due_date(last, 90, dt.date(2026, 3, 31)) is None
    assert due_date(last, 90, dt.date(2026, 4, 1)) == dt.date(2026, 4, 1)
    assert due_date(last, 90, dt.date(2026, 5, 1)) == dt.date(2026, 4, 1)


def test_a_channel_that_is_not_configured_is_reported_not_queued(
    tiny_workspace: Workspace,
) -> None:
    config = parse_alert_config(
        "review: {every: 30d, channels: [email]}\nfallback_owner: ops@example.com\n"
        "rules: {g: {type: gate_failed}}\n",
        "alerts.yml",
    )
    result = queue_review_reminder(tiny_workspace.duckdb, config, None, dt.date(2024, 3, 1))
    assert result.queued == 0
    assert result.warnings == ["review.channels: email is not configured in channels"]


def test_a_bad_review_period_is_refused_with_its_key() -> None:
    with pytest.raises(VitalsignError, match="review"):
        parse_alert_config("review: {every: soon}\nrules: {g: {type: gate_failed}}\n", "alerts.yml")
