"""alerts.yml: validation with file:line errors, checks against the model, env variables."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from vitalsign.alerts.config import DataStale
from vitalsign.alerts.loading import load_alert_config, parse_alert_config
from vitalsign.errors import AlertError
from vitalsign.model.loader import LoadedModel, load_model
from vitalsign.store.workspace import Workspace

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _error(text: str, model: LoadedModel | None = None) -> str:
    with pytest.raises(AlertError) as caught:
        parse_alert_config(text, "alerts.yml", model.spec if model else None)
    return str(caught.value)


def test_a_misspelt_option_is_reported_with_its_line_and_key() -> None:
    message = _error("rules:\n  low:\n    type: score_below\n    valeu: 50\n")
    assert "alerts.yml:4 rules.low.valeu: Extra inputs are not permitted" in message
    assert "alerts.yml:2 rules.low.value: Field required" in message


def test_an_unknown_rule_type_names_the_valid_ones() -> None:
    message = _error("rules:\n  low:\n    type: score_under\n")
    assert message.startswith("alerts.yml:3 rules.low.type:")
    assert "score_below" in message and "csm_rating_stale" in message


def test_names_are_checked_against_the_model_with_their_lines(tiny_model: LoadedModel) -> None:
    text = """\
rules:
  red:
    type: band_entered
    bands: [red, crimson]
  quiet:
    type: signal_threshold
    signal: invoices_30d
    below: 1
  flagged:
    type: flag_raised
    flags: [acquired]
  stale:
    type: data_stale
    table: accounts
    days: 7d
  act:
    type: gate_failed
    playbook: missing
    channels: [slack]
"""
    lines = _error(text, tiny_model).splitlines()
    assert len(lines) == 6
    expected = [
        "alerts.yml:4 rules.red.bands.1: model 'tiny' has no band 'crimson'",
        "alerts.yml:7 rules.quiet.signal: model 'tiny' scores no signal 'invoices_30d'",
        "alerts.yml:11 rules.flagged.flags.0: model 'tiny' has no flag 'acquired'",
        "alerts.yml:14 rules.stale.table: use one of",
        "alerts.yml:18 rules.act.playbook: unknown playbook 'missing'",
        "alerts.yml:19 rules.act.channels.0: channel slack is not configured",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), start


def test_playbook_placeholders_are_checked() -> None:
    text = (
        "playbooks:\n  p:\n    title: 'Call {acount_name}'\nrules:\n  g:\n    type: gate_failed\n"
    )
    assert "alerts.yml:3 playbooks.p.title: unknown placeholder {acount_name}" in _error(text)


def test_secrets_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    text = """\
channels:
  email: {host: 127.0.0.1, from: vs@example.com, password: "${SMTP_PASSWORD}"}
  webhook: {url: "${HOOK_URL:-http://127.0.0.1:9/hook}", secret: "${HOOK_SECRET}"}
rules:
  g: {type: gate_failed}
"""
    message = _error(text)
    assert (
        "alerts.yml:2 channels.email.password: environment variable SMTP_PASSWORD is not set"
        in message
    )
    assert "alerts.yml:3 channels.webhook.secret: environment variable HOOK_SECRET" in message
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("HOOK_SECRET", "0123456789abcdef0123")
    config = parse_alert_config(text)
    assert config.channels.email is not None and config.channels.email.password == "hunter2"
    assert config.channels.webhook is not None
    assert config.channels.webhook.url == "http://127.0.0.1:9/hook"


def test_a_webhook_secret_must_be_long_enough() -> None:
    text = (
        "channels:\n  webhook: {url: 'http://127.0.0.1:9', secret: short}\n"
        "rules:\n  g: {type: gate_failed}\n"
    )
    assert (
        "alerts.yml:2 channels.webhook.secret: String should have at least 16 characters"
        in _error(text)
    )


def test_rule_options_have_documented_defaults() -> None:
    config = parse_alert_config(
        "rules:\n  q:\n    type: data_stale\n    table: events\n    days: 2w\n"
    )
    rule = config.rules["q"]
    assert isinstance(rule, DataStale)
    assert (rule.severity, rule.cooldown_days, rule.delivery, rule.include_never) == (
        "warning",
        7,
        "owner",
        True,
    )
    assert config.channels.names == ["console"]
    assert config.outbox.backoff_seconds == 30 and config.outbox.backoff_max_seconds == 3600


def test_a_missing_alerts_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(AlertError, match="vitalsign alerts init"):
        load_alert_config(tmp_path / "alerts.yml")


def test_the_starter_alerts_file_fits_the_starter_model(workspace: Workspace) -> None:
    text = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")
    config = parse_alert_config(text, "starter_alerts.yml", load_model(workspace.model_path).spec)
    assert "entered_red" in config.rules and config.rules["entered_red"].playbook == "save_plan"


def test_no_starter_playbook_step_assumes_the_champion_is_still_there(
    workspace: Workspace,
) -> None:
    """A red account whose champion just left must not be told to call the champion."""
    text = resources.files("vitalsign.alerts").joinpath("starter_alerts.yml").read_text("utf-8")
    config = parse_alert_config(text, "starter_alerts.yml", load_model(workspace.model_path).spec)
    flagged = [name for name, rule in config.rules.items() if rule.type == "flag_raised"]
    assert flagged, "the starter has a champion_left rule"
    for name, playbook in config.playbooks.items():
        for step in playbook.steps:
            if "champion" in step.lower():
                assert "left" in step and "new sponsor" in step, f"{name}: {step!r}"


@pytest.mark.parametrize("rules", ["rules: {}\n", ""])
def test_an_alerts_file_without_rules_is_valid_for_reminders_and_digests(rules: str) -> None:
    config = parse_alert_config(f"review: {{every: 90d}}\n{rules}")
    assert config.rules == {} and config.review is not None


def test_the_daily_job_runs_a_review_reminder_without_any_alert_rule(
    tiny_workspace: Workspace,
) -> None:
    from vitalsign.alerts.daily import run_daily
    from world import T

    shutil.copyfile(FIXTURES / "models" / "tiny.yml", tiny_workspace.model_path)
    (tiny_workspace.root / "alerts.yml").write_text(
        "fallback_owner: lead\nowners:\n  lead: {email: lead@example.com}\n"
        "review: {every: 90d}\nrules: {}\n",
        encoding="utf-8",
    )
    report = run_daily(tiny_workspace, as_of=T, show_progress=False)
    assert report.ok, report.steps
    assert report.step("config").detail == "alerts.yml: 0 rules"
    assert report.step("review").detail.startswith(f"review due since {T}")
