"""Digests: per owner, daily or weekly; new, open and resolved alerts, tasks and overrides."""

from __future__ import annotations

import datetime as dt
import json

from alert_history import alert_config, day, write_day

from vitalsign.alerts.channels.base import Message
from vitalsign.alerts.channels.email import build_email
from vitalsign.alerts.channels.slack import slack_payload
from vitalsign.alerts.digest import enqueue_digests
from vitalsign.alerts.evaluation import evaluate_alerts
from vitalsign.alerts.messages import digest_lines
from vitalsign.model.loader import LoadedModel
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace

RULES = """
owners:
  ann: {email: ann@example.com, digest: daily}
  bob: {digest: weekly}
digest: {weekday: monday}
playbooks:
  rescue: {title: "Rescue {account_name}", due: 2d}
baseline: false  # these tests exercise the lifecycle, not the first-run baseline
steady:
  persistence: 1
  margin: 0
rules:
  low: {type: score_below, value: 50, playbook: rescue}
  champion: {type: flag_raised, delivery: immediate, severity: critical}
"""


def _outbox(ws: Workspace) -> list[tuple[str, str, str]]:
    rows = ws.duckdb.execute(
        "SELECT kind, recipient, subject FROM outbox ORDER BY created_at, message_id"
    ).fetchall()
    return [(str(k), str(r), str(s)) for k, r, s in rows]


def test_a_daily_digest_holds_new_open_resolved_alerts_tasks_and_overrides(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    config = alert_config(RULES, tiny_model)
    write_day(
        con,
        tiny_model,
        day(0),
        {
            "A": {"score": 30, "flags": ["champion_left"]},
            "C": {"score": 45, "band": "green", "computed_band": "yellow"},
        },
    )
    add_override(
        con, "A", "csm", "red", "QBR went badly", "ann", created_at=dt.datetime(2024, 3, 1)
    )
    add_override(con, "A", "nps", "9", "not overridable", "ann", created_at=dt.datetime(2024, 3, 1))
    evaluate_alerts(con, config, tiny_model, day(0))
    # the digest-mode owner gets no per-alert message, except for a rule that insists
    assert [k for k, _, _ in _outbox(tiny_workspace)] == ["alert"]
    first = enqueue_digests(con, config, "tiny", day(0), overridable=["csm"]).digests
    assert [d["owner"] for d in first] == ["ann"]
    digest = first[0]
    assert [(a["account_id"], a["rule"]) for a in digest["new"]] == [("A", "low"), ("C", "low")]
    assert [(a["account_id"], a["rule"]) for a in digest["open"]] == [("A", "champion")]
    assert digest["resolved"] == []
    assert sorted(t["title"] for t in digest["tasks"]) == ["Rescue Acme", "Rescue Cato"]
    assert digest["overrides"] == [
        {
            "account_id": "C",
            "name": "Cato",
            "score": 45.0,
            "band": "green",
            "computed_band": "yellow",
        },
        {"account_id": "A", "name": "Acme", "signal": "csm", "value": "red"},
    ]
    text = "\n".join(digest_lines(digest))
    assert "Cato (C, green (override; computed yellow)): score 45.0 is below 50" in text
    assert "Overrides in force (2):" in text
    assert "Acme (A): csm set to red by override" in text
    kinds = _outbox(tiny_workspace)
    assert kinds[-1][:2] == ("digest", "ann")
    assert kinds[-1][2] == "vitalsign daily digest for ann, 2024-03-04: 2 new, 1 open, 0 resolved"
    # built once per day
    assert enqueue_digests(con, config, "tiny", day(0)).digests == []

    write_day(
        con,
        tiny_model,
        day(1),
        {"A": {"score": 60, "flags": ["champion_left"]}, "C": {"score": 45}},
    )
    evaluate_alerts(con, config, tiny_model, day(1))
    second = enqueue_digests(con, config, "tiny", day(1)).digests[0]
    assert second["new"] == [] and second["since"] == day(0).isoformat()
    assert [a["account_id"] for a in second["resolved"]] == ["A"]
    assert sorted(a["rule"] + ":" + a["account_id"] for a in second["open"]) == [
        "champion:A",
        "low:C",
    ]
    assert [t["title"] for t in second["tasks"]] == ["Rescue Cato"]  # A's task closed itself
    late = enqueue_digests(con, config, "tiny", day(4), force=True, only_owner="ann").digests[0]
    assert late["tasks"][0]["overdue"] is True


def test_a_weekly_digest_waits_for_its_weekday(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    config = alert_config(RULES, tiny_model)
    for n, score in ((0, 30), (1, 30), (7, 30)):
        write_day(con, tiny_model, day(n), {"B": {"score": score, "flags": [] if n < 1 else ["x"]}})
    built = []
    for n in (0, 1, 7):
        evaluate_alerts(con, config, tiny_model, day(n))
        built.append([d["owner"] for d in enqueue_digests(con, config, "tiny", day(n)).digests])
    assert built == [["bob"], [], ["bob"]]  # 2024-03-04 and 03-11 are Mondays
    weekly = json.loads(
        con.execute("SELECT content FROM alert_digests WHERE as_of = ?", [day(7)]).fetchone()[0]
    )
    assert weekly["frequency"] == "weekly" and weekly["new"] == []
    assert [a["rule"] for a in weekly["open"]] == ["champion", "low"]


def test_owners_without_a_digest_get_each_alert_at_once(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    config = alert_config(RULES.replace("digest: daily", "slack: '@ann'"), tiny_model)
    write_day(con, tiny_model, day(0), {"A": {"score": 30}})
    evaluate_alerts(con, config, tiny_model, day(0))
    assert [k for k, _, _ in _outbox(tiny_workspace)] == ["alert"]
    assert enqueue_digests(con, config, "tiny", day(0)).digests == []


def test_digest_messages_render_for_email_and_slack(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    config = alert_config(RULES, tiny_model)
    write_day(con, tiny_model, day(0), {"A": {"score": 30}, "C": {"score": 20}})
    evaluate_alerts(con, config, tiny_model, day(0))
    digest = enqueue_digests(con, config, "tiny", day(0)).digests[0]
    message = Message(
        "d-1.email", "email", "ann@example.com", "digest", "subject", {"digest": digest}
    )
    email = build_email(message, "vs@example.com")
    body = email.get_body(("plain",))
    assert body is not None and "New alerts (2):" in body.get_content()
    blocks = slack_payload(message)["blocks"]
    assert blocks[0]["text"]["text"] == "Daily digest for ann"
    assert "*New alerts (2)*" in blocks[2]["text"]["text"]


def test_an_alert_still_open_from_an_earlier_snapshot_shows_its_band(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    con = tiny_workspace.duckdb
    rules = RULES + "  red: {type: band_entered, bands: [red], severity: critical}\n"
    config = alert_config(rules, tiny_model)
    write_day(con, tiny_model, day(0), {"A": {"score": 80}})
    evaluate_alerts(con, config, tiny_model, day(0))
    write_day(con, tiny_model, day(1), {"A": {"score": 30}})
    evaluate_alerts(con, config, tiny_model, day(1))
    enqueue_digests(con, config, "tiny", day(1))
    write_day(con, tiny_model, day(2), {"A": {"score": 20}})
    evaluate_alerts(con, config, tiny_model, day(2))  # re-seen: stores band_now, not band
    digest = enqueue_digests(con, config, "tiny", day(2), force=True).digests[0]
    still = [a for a in digest["open"] if a["rule"] == "red"]
    assert [(a["band"], a["score"]) for a in still] == [("red", 20.0)]
    text = "\n".join(digest_lines(digest))
    assert "Acme (A, red): entered red" in text
    assert "None" not in text
