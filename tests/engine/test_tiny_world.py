"""The tiny world scored by hand: every number checked to the decimal."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from vitalsign.engine.run import compute_scores, score
from vitalsign.engine.snapshots import read_items, read_scores
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace
from world import FIXTURES, T, ts

# A: usage 50 (w 2), support 50 (w 1), voice (80 + 100) / 2 = 90 (w 1)
#    → (2·50 + 50 + 90) / 4 = 60.0, coverage 1, yellow.
# B: usage 100, support 100, voice = csm 0 only (nps missing)
#    → (200 + 100 + 0) / 4 = 75, coverage 1 − ¼·½ = 0.875; champion left: 75 − 10 = 65, yellow.
# C: usage 0, support 100, voice missing → (0 + 100) / 3 = 33.333…, coverage 0.75;
#    no invoice in 30 days: the gate sets the score to 0, red.
EXPECTED = {
    "A": {
        "score": 60.0,
        "base": 60.0,
        "coverage": 1.0,
        "band": "yellow",
        "gate": True,
        "flags": [],
    },
    "B": {
        "score": 65.0,
        "base": 75.0,
        "coverage": 0.875,
        "band": "yellow",
        "gate": True,
        "flags": ["champion_left"],
    },
    "C": {
        "score": 0.0,
        "base": 100 / 3,
        "coverage": 0.75,
        "band": "red",
        "gate": False,
        "flags": [],
    },
}
CONTRIBUTIONS = {
    "A": {"logins_30d": 25.0, "tickets_90d": 12.5, "nps": 10.0, "csm": 12.5},
    "B": {"logins_30d": 50.0, "tickets_90d": 25.0, "nps": 0.0, "csm": 0.0},
    "C": {"logins_30d": 0.0, "tickets_90d": 100 / 3, "nps": 0.0, "csm": 0.0},
}
RAW = {
    "A": {"logins_30d": 5, "tickets_90d": 1, "nps": 8, "csm": "green"},
    "B": {"logins_30d": 12, "tickets_90d": 0, "nps": None, "csm": "red"},
    "C": {"logins_30d": 0, "tickets_90d": 0, "nps": None, "csm": None},
}


def test_every_score_of_the_tiny_world_matches_the_hand_computation(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    scored = score(tiny_workspace, T, tiny_model)
    rows = scored.scores.set_index("account_id")
    assert sorted(rows.index) == ["A", "B", "C"]  # D starts after T, E churned before
    for account, want in EXPECTED.items():
        row = rows.loc[account]
        assert row["score"] == pytest.approx(want["score"], abs=1e-9)
        assert row["base_score"] == pytest.approx(want["base"], abs=1e-9)
        assert row["coverage"] == pytest.approx(want["coverage"], abs=1e-12)
        assert row["band"] == want["band"]
        assert bool(row["gate_pass"]) is want["gate"]
        assert json.loads(row["flags"]) == want["flags"]


def test_contributions_and_raw_values_are_stored_per_signal(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    for account, expected in CONTRIBUTIONS.items():
        items = read_items(tiny_workspace.duckdb, "tiny", T, account)
        signals = items[items["kind"] == "signal"].set_index("name")
        for name, contribution in expected.items():
            assert signals.loc[name, "contribution"] == pytest.approx(contribution, abs=1e-6)
            raw = RAW[account][name]
            if raw is None:
                assert signals.loc[name, "raw_text"] is None or pd.isna(
                    signals.loc[name, "raw_text"]
                )
            elif isinstance(raw, str):
                assert signals.loc[name, "raw_text"] == raw
            else:
                assert signals.loc[name, "raw_value"] == pytest.approx(raw)
        base = EXPECTED[account]["base"]
        assert signals["contribution"].sum() == pytest.approx(base, abs=1e-6)


def test_group_scores_and_effective_weights_are_stored(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    items = read_items(tiny_workspace.duckdb, "tiny", T, "A")
    groups = items[items["kind"] == "group"].set_index("path")
    assert groups.loc["voice", "points"] == pytest.approx(90.0)
    assert groups.loc["usage", "weight"] == pytest.approx(0.5)
    signals = items[items["kind"] == "signal"].set_index("name")
    assert signals.loc["nps", "weight"] == pytest.approx(0.125)
    assert signals.loc["nps", "points"] == pytest.approx(80.0)


def test_rows_at_or_after_the_scoring_date_change_nothing(
    workspace: Workspace, tiny_model: LoadedModel
) -> None:
    from world import load_tiny_world

    future = {
        "events": [(f"f{i}", "A", ts(-i / 3), "login", "u1", None, None) for i in range(6)],
        "tickets": [("tf", "A", ts(0), None, "urgent", "open", None, None, None)],
        "surveys": [("rf", "A", ts(0), "nps", 0.0, None, None)],
        "csm_ratings": [("A", ts(-1), "red", "ann", None)],
        "invoices": [("if", "C", ts(0), 10.0, "paid", None, None)],
        "business_events": [("A", ts(0), "champion_left", None)],
    }
    load_tiny_world(workspace.duckdb, future)
    scored = compute_scores(workspace.backend, tiny_model, [T]).scores.set_index("account_id")
    for account, want in EXPECTED.items():
        assert scored.loc[account, "score"] == pytest.approx(want["score"], abs=1e-9)
        assert scored.loc[account, "band"] == want["band"]


def test_snapshot_rows_carry_the_model_name_and_hash(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    stored = read_scores(tiny_workspace.duckdb, "tiny", T)
    assert set(stored["model_name"]) == {"tiny"}
    assert set(stored["model_hash"]) == {tiny_model.hash}


@pytest.mark.parametrize(("policy", "nps_points"), [("zero", 0.0), ("50", 50.0)])
def test_a_signal_whose_points_come_from_its_missing_policy_counts_as_covered(
    tiny_workspace: Workspace, policy: str, nps_points: float
) -> None:
    source = (FIXTURES / "models" / "tiny.yml").read_text()
    nps_filter = "    filter: \"kind == 'nps'\""
    model = parse_model(source.replace(nps_filter, f"{nps_filter}\n    missing: {policy}"))
    scored = compute_scores(tiny_workspace.backend, model, [T]).scores.set_index("account_id")
    # B and C have no NPS: it now has points (0 or 50), so it counts as covered
    # (docs/model.md, missing values). B: every signal has points, coverage 1.
    # C: only the CSM rating (nominal weight 1/4 · 1/2) lacks points: coverage 0.875;
    # voice = the NPS points alone, base (2·0 + 100 + voice) / 4.
    assert scored.loc["B", "coverage"] == pytest.approx(1.0)
    assert scored.loc["C", "coverage"] == pytest.approx(0.875)
    assert scored.loc["C", "base_score"] == pytest.approx((100 + nps_points) / 4)
    assert scored.loc["A", "coverage"] == pytest.approx(1.0)


def test_a_failed_gate_with_too_little_data_is_insufficient_data(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    strict = tiny_model.spec.model_copy(update={"min_coverage": 0.9})
    scored = compute_scores(tiny_workspace.backend, LoadedModel(strict, None, "x"), [T]).scores
    rows = scored.set_index("account_id")
    # C fails the gate (score 0) with coverage 0.75 < 0.9: the coverage rule applies
    # whatever the score (docs/model.md, coverage), so too little data is said as such
    assert rows.loc["C", "score"] == 0.0
    assert rows.loc["C", "band"] == "insufficient_data"
    assert rows.loc["B", "band"] == "insufficient_data"  # coverage 0.875 < 0.9
    lenient = compute_scores(tiny_workspace.backend, tiny_model, [T]).scores
    assert lenient.set_index("account_id").loc["C", "band"] == "red"  # 0.75 >= 0.5: the verdict


def test_a_manual_signal_override_is_shown_beside_the_computed_value(
    tiny_workspace: Workspace,
) -> None:
    import datetime as dt

    from vitalsign.engine.explain import explain_account
    from vitalsign.store.overrides import add_override

    source = (FIXTURES / "models" / "tiny.yml").read_text()
    model = parse_model(source + "overrides:\n  signals: [csm]\n")
    add_override(
        tiny_workspace.duckdb, "B", "csm", "green", "exec call went well", "ann",
        created_at=dt.datetime(2024, 2, 1), expires_at=dt.datetime(2024, 6, 1),
    )  # fmt: skip
    scored = score(tiny_workspace, T, model).scores.set_index("account_id")
    # B's CSM view is now 100 instead of 0: (200 + 100 + 1·100) / 4 = 100, minus 10 for the flag
    assert scored.loc["B", "base_score"] == pytest.approx(100.0)
    explanation = explain_account(tiny_workspace.duckdb, "tiny", "B", T)
    csm = next(s for s in explanation.signals if s.name == "csm")
    assert csm.raw == "green (override; computed red)"
