"""The why builder: losses in the right direction, group shares that add up, conditions."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitalsign.engine.explain import explain_items
from vitalsign.engine.run import backfill
from vitalsign.engine.why import build_why, why_account
from vitalsign.model.loader import LoadedModel, parse_model
from vitalsign.store.workspace import Workspace
from world import FIXTURES, T

# The tiny model with its voice group split into two nested groups, so parents and children
# are both listed (their effective weights, summed flat, pass 100 %).
NESTED = (
    (FIXTURES / "models" / "tiny.yml")
    .read_text()
    .replace(
        "    voice:\n      signals: {nps: 1, csm: 1}\n",
        "    voice:\n      groups:\n        survey:\n          signals: {nps: 1}\n"
        "        rating:\n          weight: 3\n          signals: {csm: 1}\n",
    )
)


@pytest.fixture
def nested(tiny_workspace: Workspace) -> LoadedModel:
    model = parse_model(NESTED)
    assert "survey" in NESTED
    backfill(tiny_workspace, [T - dt.timedelta(days=7), T], model)
    return model


def test_losses_and_contributions_add_up_and_come_largest_loss_first(
    tiny_workspace: Workspace, nested: LoadedModel
) -> None:
    for account in ("A", "B", "C"):
        why = why_account(tiny_workspace.duckdb, nested, account)
        base = why.explanation.base_score
        assert base is not None
        assert sum(s.loss for s in why.losses) == pytest.approx(100.0 - base)
        for line in [*why.losses, *why.groups]:
            points = 0.0 if line.points is None else line.points
            expected = 100.0 * line.weight if line.points is not None else 0.0
            assert line.loss + line.contribution == pytest.approx(expected), line
            assert line.loss == pytest.approx(
                line.weight * (100 - points) if line.points is not None else 0
            )
        losses = [s.loss for s in why.losses]
        assert losses == sorted(losses, reverse=True)


def test_group_weights_add_up_to_100_percent_within_each_parent(
    tiny_workspace: Workspace, nested: LoadedModel
) -> None:
    why = why_account(tiny_workspace.duckdb, nested, "A")
    flat = sum(g.weight for g in why.explanation.groups)
    assert flat > 1.0 + 1e-9  # parents and children listed flat overcount (the old 124 %)
    top = [g for g in why.groups if g.parent == ""]
    assert sum(g.share for g in top) == pytest.approx(1.0)
    assert sum(g.weight for g in top) == pytest.approx(1.0)
    children = [g for g in why.groups if g.parent == "voice"]
    assert {g.name for g in children} == {"survey", "rating"}
    assert sum(g.share for g in children) == pytest.approx(1.0)
    # A: nps 8 (80 points) in survey (weight 1), csm green (100) in rating (weight 3)
    rating = next(g for g in children if g.name == "rating")
    assert rating.share == pytest.approx(0.75)
    # tree order: each child right after its parent
    paths = [g.path for g in why.groups]
    assert paths.index("voice") < paths.index("voice/survey")
    assert paths.index("voice") < paths.index("voice/rating")
    for signal in why.losses:
        siblings = [s for s in why.losses if s.path == signal.path]
        assert sum(s.share for s in siblings) == pytest.approx(1.0)


def test_the_failed_gate_and_fired_flags_carry_their_values(
    tiny_workspace: Workspace, nested: LoadedModel
) -> None:
    c = why_account(tiny_workspace.duckdb, nested, "C")
    assert c.gate is not None and not c.gate.holds
    assert c.gate.values == {"invoices_30d": 0} and c.gate.fix == "invoices_30d ≥ 1 (now 0)"
    b = why_account(tiny_workspace.duckdb, nested, "B")
    assert [f.name for f in b.flags] == ["champion_left"]
    assert b.flags[0].values == {"champion_left_60d": 1}
    assert b.flags[0].fix == "champion_left_60d < 1 (now 1)"
    data = b.to_dict()
    assert data["flags_fired"][0]["values"] == {"champion_left_60d": 1}
    assert data["next_band"]["band"] == "green"
    assert data["losses"][0]["name"] == "csm"  # B's CSM rating red: its largest loss


def test_a_red_account_lists_its_real_problems_first() -> None:
    model = parse_model((FIXTURES / "models" / "tiny.yml").read_text()).spec
    row = {
        "account_id": "R",
        "model_hash": "x",
        "snapshot_date": T,
        "score": 22.5,
        "base_score": 22.5,
        "band": "red",
        "computed_band": "red",
        "coverage": 1.0,
        "gate_pass": True,
        "flags": "[]",
    }
    items = [  # the best signal has the largest contribution, the worst the largest loss
        ("signal", "csm", "voice", "red", 0.0, 0.25, 0.0),
        ("signal", "logins_30d", "usage", "1", 10.0, 0.5, 5.0),
        ("signal", "tickets_90d", "support", "0", 100.0, 0.25, 25.0),
    ]
    explanation = explain_items("tiny", row, items)
    assert explanation.signals[0].name == "tickets_90d"  # by contribution: the best first
    why = build_why(explanation, model)
    assert [s.name for s in why.losses] == ["logins_30d", "csm", "tickets_90d"]
    assert [round(s.loss, 2) for s in why.losses] == [45.0, 25.0, 0.0]


def test_a_snapshot_of_an_older_model_with_a_signal_no_longer_scored_is_explained() -> None:
    tiny = parse_model((FIXTURES / "models" / "tiny.yml").read_text()).spec
    unscaled = tiny.signals["logins_30d"].model_copy(update={"scale": None})
    model = tiny.model_copy(update={"signals": {**tiny.signals, "logins_30d": unscaled}})
    assert model.signals["logins_30d"].scale is None
    row = {
        "account_id": "O",
        "model_hash": "older",
        "snapshot_date": T,
        "score": 50.0,
        "base_score": 50.0,
        "band": "yellow",
        "computed_band": "yellow",
        "coverage": 1.0,
        "gate_pass": True,
        "flags": "[]",
    }
    items = [("signal", "logins_30d", "usage", "5", 50.0, 1.0, 50.0)]
    why = build_why(explain_items("tiny", row, items), model, model_hash="newer")
    assert [s.name for s in why.losses] == ["logins_30d"]  # shown, but not a target
    assert why.next_band.options == [] and not why.next_band.reachable
    assert "scored by model older" in why.notes[0]


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["usage", "support", "voice"]), st.floats(0, 100), st.floats(0.1, 5)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_losses_always_add_up_to_what_the_base_score_misses(
    parts: list[tuple[str, float, float]],
) -> None:
    model = parse_model((FIXTURES / "models" / "tiny.yml").read_text()).spec
    names = ["logins_30d", "tickets_90d", "nps", "csm"]
    total = sum(w for _, _, w in parts)
    items = [
        ("signal", names[i % 4] if i < 4 else f"extra_{i}", path, "1", p, w / total, p * w / total)
        for i, (path, p, w) in enumerate(parts)
    ]
    base = sum(item[6] for item in items)
    row = {
        "account_id": "P",
        "model_hash": "x",
        "snapshot_date": T,
        "score": base,
        "base_score": base,
        "band": "red",
        "computed_band": "green" if base >= 70 else "yellow" if base >= 40 else "red",
        "coverage": 1.0,
        "gate_pass": True,
        "flags": "[]",
    }
    why = build_why(explain_items("tiny", row, items), model)
    assert sum(s.loss for s in why.losses) == pytest.approx(100.0 - base, abs=1e-6)
    losses = [s.loss for s in why.losses]
    assert losses == sorted(losses, reverse=True)
    for line in why.losses:
        assert line.loss + line.contribution == pytest.approx(100.0 * line.weight)


def test_a_gate_whose_input_table_is_empty_is_not_evaluated_not_passed(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    from vitalsign.engine.run import score
    from vitalsign.rendering import to_text, why_renderable

    tiny_workspace.duckdb.execute("DELETE FROM invoices")
    score(tiny_workspace, T, tiny_model)
    why = why_account(tiny_workspace.duckdb, tiny_model, "A")
    assert why.gate is not None and why.gate.holds  # stored: no verdict, it passes
    assert why.gate.missing == "invoices_30d is missing (no data)"
    assert why.to_dict()["gate_condition"]["evaluated"] is False
    text = " ".join(to_text(why_renderable(why)).split())
    assert "Gate invoiced: not evaluated: invoices_30d is missing (no data)" in text
    assert "gate passed" not in text and "not evaluated: invoices_30d" in text


def test_a_gate_on_live_data_is_evaluated(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    from vitalsign.engine.run import score

    score(tiny_workspace, T, tiny_model)
    why = why_account(tiny_workspace.duckdb, tiny_model, "A")
    assert why.gate is not None and why.gate.missing is None and why.gate.evaluated
