"""`vitalsign explain` on the tiny world: losses first, gate and flags with values, next band."""

from __future__ import annotations

import json
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


def _scored(tmp_path: Path) -> tuple[str, str]:
    ws = init_workspace(tmp_path / "ws")
    load_tiny_world(ws.duckdb)
    ws.close()
    model = str(FIXTURES / "models" / "tiny.yml")
    _run("score", "--as-of", T.isoformat(), "-m", model, "-w", str(tmp_path / "ws"))
    return model, str(tmp_path / "ws")


def test_explain_text_lists_losses_first_and_what_it_would_take(tmp_path: Path) -> None:
    model, ws = _scored(tmp_path)
    text = _run("explain", "A", "-m", model, "-w", ws)
    flat = " ".join(text.split())
    assert "What it would take: To reach green: logins_30d ≥ 7 (now 5: 2 more)" in flat
    signals = text[text.index("Signals (largest loss first)") :]
    # A loses 25 on logins (50 points × 0.5), 12.5 on tickets, 2.5 on nps, 0 on csm
    order = [signals.index(name) for name in ("logins_30d", "tickets_90d", "nps", "csm")]
    assert order == sorted(order)
    gate = " ".join(_run("explain", "C", "-m", model, "-w", ws).split())  # unwrapped
    assert "Gate invoiced: FAILED (score 0): invoices_30d >= 1 (invoices_30d = 0)" in gate
    assert "open the gate: invoices_30d ≥ 1 (now 0)" in gate
    flag = " ".join(_run("explain", "B", "-m", model, "-w", ws).split())
    assert "Flag champion_left fired (−10 points, caps the band at yellow)" in flag
    assert "clear flag champion_left: champion_left_60d < 1 (now 1)" in flag


def test_explain_json_carries_losses_conditions_and_next_band(tmp_path: Path) -> None:
    model, ws = _scored(tmp_path)
    data = json.loads(_run("explain", "C", "--json", "-m", model, "-w", ws))
    assert data == json.loads(_run("explain", "C", "--format", "json", "-m", model, "-w", ws))
    assert data["gate_condition"]["values"] == {"invoices_30d": 0}
    assert data["gate_condition"]["holds"] is False
    assert data["next_band"]["gate"] == "invoices_30d ≥ 1 (now 0)"
    step = data["next_band"]["options"][0][0]
    assert step["text"] == "logins_30d ≥ 1 (now 0: 1 more)" and step["target"] == "≥ 1"
    assert [line["name"] for line in data["losses"]] == ["tickets_90d", "logins_30d"] or (
        data["losses"][0]["loss"] >= data["losses"][-1]["loss"]
    )
    top = [g for g in data["group_tree"] if g["parent"] == ""]
    assert abs(sum(g["share"] for g in top) - 1.0) < 1e-9


def test_explain_refuses_an_unknown_format(tmp_path: Path) -> None:
    model, ws = _scored(tmp_path)
    result = runner.invoke(app, ["explain", "A", "--format", "xml", "-m", model, "-w", ws])
    assert result.exit_code == 1 and "use text or json" in str(result.exception)
