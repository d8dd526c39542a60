"""`check` profiles the model against the data: worlds with and without invoices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from vitalsign.cli import app
from vitalsign.engine.profile import ModelProfile, profile_model, profile_workspace
from vitalsign.engine.run import compute_scores
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace
from world import FIXTURES, T

runner = CliRunner()


def _profile(workspace: Workspace, model: LoadedModel | None = None) -> ModelProfile:
    found = profile_workspace(workspace, (model or workspace.load_model()).spec, T)
    assert found is not None
    return found


def _locs(profile: ModelProfile) -> dict[str, str]:
    return {f.loc: f.severity for f in profile.findings}


def test_an_empty_workspace_is_not_profiled(workspace: Workspace) -> None:
    assert profile_workspace(workspace, workspace.load_model().spec, T) is None


def test_the_starter_model_on_the_tiny_world_has_no_error(tiny_workspace: Workspace) -> None:
    profile = _profile(tiny_workspace)
    assert profile.accounts == 3  # D starts after T, E churned before it
    assert profile.errors == []
    assert profile.gate_pass == 3  # every account was invoiced in the 90 days before T
    by_name = {s.name: s for s in profile.signals}
    assert by_name["logins_30d"].with_value == 3
    assert by_name["nps_latest"].with_value == 1  # only A answered NPS in the year
    assert by_name["nps_latest"].percentiles[50] == 8.0
    assert by_name["failed_payment_share_90d"].with_value == 3
    assert profile.table_rows["invoices"] == 3
    assert "tables.invoices" not in _locs(profile)


def _no_recent_invoice(workspace: Workspace) -> None:
    """A gate no account meets on live invoice data (100 invoices in 90 days)."""
    text = workspace.model_path.read_text(encoding="utf-8")
    assert '"invoices_90d >= 1"' in text
    workspace.model_path.write_text(text.replace('"invoices_90d >= 1"', '"invoices_90d >= 100"'))


def test_without_any_invoice_the_gate_is_not_evaluated_and_check_says_so(
    tiny_workspace: Workspace,
) -> None:
    """The issue's case: on data without invoices every account was red (gate failed)."""
    tiny_workspace.duckdb.execute("DELETE FROM invoices")
    profile = _profile(tiny_workspace)
    locs = _locs(profile)
    assert profile.gate_pass == 3  # no verdict on a table that says nothing
    assert "gate.when" not in locs and profile.errors == []
    empty = next(f for f in profile.findings if f.loc == "tables.invoices")
    assert empty.severity == "warning"
    assert "failed_payment_share_90d" in empty.message and "missing for every" in empty.message
    assert profile.table_rows["invoices"] == 0
    share = next(s for s in profile.signals if s.name == "failed_payment_share_90d")
    assert share.with_value == 0 and share.points == {}


def test_a_gate_no_account_meets_is_an_error(
    tiny_workspace: Workspace,
) -> None:
    _no_recent_invoice(tiny_workspace)
    profile = _profile(tiny_workspace, tiny_workspace.load_model())
    assert profile.gate_pass == 0
    gate = next(f for f in profile.findings if f.loc == "gate.when")
    assert gate.severity == "error" and "every account" in gate.message
    assert "tables.invoices" not in _locs(profile)


def test_a_signal_without_invoice_data_earns_no_points(tiny_workspace: Workspace) -> None:
    """The issue's case: failed payments earned 100 "healthy" points on no invoice data."""
    tiny_workspace.duckdb.execute("DELETE FROM invoices")
    model = tiny_workspace.load_model()
    items = compute_scores(tiny_workspace.backend, model, [T]).items
    invoice_signals = {"failed_payment_share_90d", "failed_payments_90d", "invoices_90d"}
    scored = items[(items["kind"] == "signal") & items["name"].isin(invoice_signals)]
    assert len(scored) == 3  # the financial signal of each account, present but unscored
    assert np.isnan(scored["points"].to_numpy()).all()
    assert (scored["contribution"] == 0).all()


def test_a_scale_whose_range_misses_the_data_is_reported_with_percentiles(
    tiny_workspace: Workspace,
) -> None:
    text = (Path(tiny_workspace.model_path)).read_text(encoding="utf-8")
    text = text.replace(
        "scale: {type: linear, low: 0, high: 40}", "scale: {type: linear, low: 100, high: 400}"
    )
    model = parse_model(text, "misses.yml")
    profile = profile_model(tiny_workspace.backend, model.spec, T)
    finding = next(f for f in profile.findings if f.loc == "signals.logins_30d.scale")
    assert "100..400 misses the data" in finding.message
    assert "100% of the values are at or below low" in finding.message
    logins = next(s for s in profile.signals if s.name == "logins_30d")
    assert f"p50 {logins.percentiles[50]:g}" in finding.message


def test_a_flag_raised_on_every_account_is_reported(tiny_workspace: Workspace) -> None:
    text = tiny_workspace.model_path.read_text(encoding="utf-8")
    text = text.replace('when: "acquired_180d >= 1"', 'when: "acquired_180d >= 0"')
    model = parse_model(text, "always.yml")
    profile = profile_model(tiny_workspace.backend, model.spec, T)
    assert profile.flags_raised["acquired"] == profile.accounts
    assert _locs(profile)["flags.acquired.when"] == "warning"
    assert profile.flags_raised["champion_left"] == 1  # B only: not reported
    assert "flags.champion_left.when" not in _locs(profile)


def test_check_exits_1_when_the_gate_fails_for_every_account(tiny_workspace: Workspace) -> None:
    root = str(tiny_workspace.root)
    ok = runner.invoke(app, ["check", "-w", root, "--as-of", T.isoformat()])
    assert ok.exit_code == 0, ok.output
    assert "is valid" in ok.output and "gate passes for 3 of 3" in ok.output
    _no_recent_invoice(tiny_workspace)
    tiny_workspace.duckdb.execute("CHECKPOINT")
    tiny_workspace.close()
    failed = runner.invoke(app, ["check", "-w", root, "--as-of", T.isoformat(), "--json"])
    assert failed.exit_code == 1, failed.output
    import json

    payload = json.loads(failed.output)
    assert payload["profile"]["gate_pass"] == 0
    assert any(f["loc"] == "gate.when" for f in payload["profile"]["findings"])


def test_an_empty_table_makes_its_signals_missing_not_healthy(
    tiny_workspace: Workspace,
) -> None:
    """A count over an empty table was 0 for everyone: "no urgent ticket" earned 100 points."""
    tiny_workspace.duckdb.execute("DELETE FROM tickets")
    profile = _profile(tiny_workspace)
    empty = next(f for f in profile.findings if f.loc == "tables.tickets")
    assert "the table is empty" in empty.message and "urgent_tickets_90d" in empty.message
    assert "missing for every account" in empty.message
    urgent = next(s for s in profile.signals if s.name == "urgent_tickets_90d")
    assert urgent.points == {}
    assert profile.table_rows["tickets"] == 0
    items = compute_scores(tiny_workspace.backend, tiny_workspace.load_model(), [T]).items
    urgent_items = items[(items["kind"] == "signal") & (items["name"] == "urgent_tickets_90d")]
    assert len(urgent_items) == 3 and np.isnan(urgent_items["points"].to_numpy()).all()


def test_check_of_a_model_file_alone_says_how_to_profile_it(tmp_path: Path) -> None:
    model = tmp_path / "alone.yml"
    model.write_text(
        (FIXTURES / "models" / "tiny.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = runner.invoke(app, ["check", str(model), "-w", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "pass -w DIR to profile" in result.output


def test_score_warns_when_the_gate_failed_for_every_account(tiny_workspace: Workspace) -> None:
    root = str(tiny_workspace.root)
    _no_recent_invoice(tiny_workspace)
    tiny_workspace.duckdb.execute("CHECKPOINT")
    tiny_workspace.close()
    result = runner.invoke(app, ["score", "--as-of", T.isoformat(), "-w", root])
    assert result.exit_code == 0, result.output
    assert "warning: the gate 'invoices_90d >= 100' failed for every account" in " ".join(
        result.output.split()
    )


def test_a_date_before_every_account_is_reported(tiny_workspace: Workspace) -> None:
    found = profile_workspace(tiny_workspace, tiny_workspace.load_model().spec, T.replace(1990))
    assert found is not None and found.accounts == 0
    assert [f.loc for f in found.findings] == ["accounts"]
    assert "no loaded account is a customer on 1990-03-01" in found.findings[0].message


def test_check_says_a_gate_whose_inputs_are_missing_is_not_evaluated(
    tiny_workspace: Workspace,
) -> None:
    """Not "gate passes for 3 of 3": with no invoice at all the gate is not evaluated."""
    tiny_workspace.duckdb.execute("DELETE FROM invoices")
    profile = _profile(tiny_workspace)
    assert profile.gate_missing == "invoices_90d is missing (no data)"
    assert profile.to_dict()["gate_missing"] == profile.gate_missing
    root = str(tiny_workspace.root)
    tiny_workspace.duckdb.execute("CHECKPOINT")
    tiny_workspace.close()
    out = runner.invoke(app, ["check", "-w", root, "--as-of", T.isoformat()])
    text = " ".join(out.output.split())
    assert "gate not evaluated for 3 of 3 accounts: invoices_90d is missing (no data)" in text
    assert "gate passes for" not in text


def test_a_gate_on_live_data_has_no_missing_inputs(tiny_workspace: Workspace) -> None:
    assert _profile(tiny_workspace).gate_missing is None
