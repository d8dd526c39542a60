"""Counts in alerts output agree with their nouns: "1 account in reminders", "2 tasks opened"."""

from __future__ import annotations

import datetime as dt
import re

from alert_history import alert_config, day, write_day
from hypothesis import given
from hypothesis import strategies as st

from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.messages import describe, plural
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace

RULES = """
channels: {console: {}}
playbooks:
  rescue: {title: "Rescue {account_name}", due: 7d}
baseline: false  # these tests count one of each, not the first-run baseline
steady: {persistence: 1, margin: 0}
rules:
  low: {type: score_below, value: 50, playbook: rescue, delivery: immediate}
  rate_me: {type: csm_rating_stale, days: 30d}
"""

ONE_PLURAL = re.compile(r"\b1 [a-z]+s\b")


def test_the_evaluation_line_says_1_account_1_task_1_message(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    for account in ("B", "C"):  # rated recently: only A needs a rating
        con.execute(
            "INSERT INTO csm_ratings (account_id, rated_at, rating) VALUES (?, ?, 'green')",
            [account, dt.datetime.combine(day(10), dt.time(9))],
        )
    write_day(con, tiny_model, day(14), {"A": {"score": 30}, "B": {}, "C": {}})
    report = evaluate_alerts(con, alert_config(RULES, tiny_model), tiny_model, day(14))
    assert (report.reminders, report.tasks_opened, report.queued) == (1, 1, 1), report.line()
    line = report.line()
    assert "1 account in reminders" in line and "1 task opened" in line
    assert "1 message queued" in line
    assert not ONE_PLURAL.search(line), line


def test_a_one_day_window_says_day() -> None:
    text = describe("score_dropped", {"dropped": 20, "within_days": 1, "peak": 80, "score": 60})
    assert "within 1 day " in text
    stale = describe("data_stale", {"source": "events", "days_silent": 1, "last_seen": "x"})
    assert "for 1 day " in stale


@given(st.integers(min_value=0, max_value=10**6))
def test_plural_agrees_with_the_count(count: int) -> None:
    text = plural(count, "account")
    assert text.startswith(f"{count} ")
    assert text.endswith("accounts") == (count != 1)
