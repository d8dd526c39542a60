"""GET /api/v1/accounts/{id}/explain: the why builder's answer, typed, and who may read it."""

from __future__ import annotations

import pytest

from conftest import World, red_account
from vitalsign.web.why_api import ExplainBody


def test_explain_answers_losses_first_group_shares_and_the_next_band(world: World) -> None:
    account = red_account(world)
    with world.client("root") as api:
        reply = api.get(f"/api/v1/accounts/{account}/explain")
    assert reply.status_code == 200, reply.text
    body = ExplainBody.model_validate(reply.json())
    losses = [line.loss for line in body.losses]
    assert losses == sorted(losses, reverse=True) and losses[0] > 0
    base = body.base_score or 0.0
    assert sum(losses) == pytest.approx(100.0 - base)
    top = [g for g in body.group_tree if g.parent == ""]
    assert sum(g.share for g in top) == pytest.approx(1.0)
    assert body.next_band.current == "red" and body.next_band.band == "yellow"
    assert body.next_band.summary.startswith("To reach yellow: ")
    assert body.next_band.options or body.next_band.gate or not body.next_band.reachable


def test_explain_since_a_date_carries_the_changes(world: World) -> None:
    with world.client("alice") as api:
        reply = api.get(
            f"/api/v1/accounts/{world.alice_account}/explain",
            params={"since": world.previous.isoformat()},
        )
    body = ExplainBody.model_validate(reply.json())
    assert body.since == world.previous and body.changes
    deltas = [abs(c.delta) for c in body.changes]
    assert deltas == sorted(deltas, reverse=True)


def test_the_openapi_document_types_the_explain_answer(world: World) -> None:
    with world.client() as anonymous:
        document = anonymous.get("/api/v1/openapi.json").json()
    route = document["paths"]["/api/v1/accounts/{account_id}/explain"]["get"]
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ExplainBody"}
    assert "NextBandBody" in document["components"]["schemas"]


def test_explain_refuses_a_stranger_and_a_csm_of_another_book(world: World) -> None:
    url = f"/api/v1/accounts/{world.alice_account}/explain"
    with world.client() as anonymous:
        assert anonymous.get(url).status_code == 401
    with world.client("bob") as bob:
        refused = bob.get(url)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    with world.client("vic") as viewer:  # a viewer reads every account; the route writes nothing
        assert viewer.get(url).status_code == 200
        assert viewer.post(url).status_code == 405


def test_docs_api_names_every_field_of_the_explain_answer() -> None:
    from pathlib import Path

    from vitalsign.web.why_api import LossBody, NextBandBody, StepBody

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = text[text.index("/api/v1/accounts/{account_id}/explain") :][:3000]
    for body in (ExplainBody, LossBody, NextBandBody, StepBody):
        missing = [
            f for f in body.model_fields if f"`{f}`" not in section and f not in COMMON_FIELDS
        ]
        assert not missing, f"docs/api.md does not describe {body.__name__} {missing}"


# fields the explain section names by what they are rather than one by one
COMMON_FIELDS = {
    "account_id", "name", "model_name", "model_hash", "as_of", "score", "base_score", "band",
    "computed_band", "coverage", "gate_pass", "flags", "groups", "signals", "since",
    "score_before", "band_before", "flags_before", "gate_before", "kind", "path", "raw",
    "points", "weight", "current",
}  # fmt: skip


def test_explain_never_targets_the_csm_rating_and_lists_it_apart(world: World) -> None:
    account = red_account(world)
    with world.client("root") as api:
        reply = api.get(f"/api/v1/accounts/{account}/explain")
    body = ExplainBody.model_validate(reply.json())
    steps = [step.signal for option in body.next_band.options for step in option]
    assert "csm_rating" not in steps
    rated = any(s.name == "csm_rating" and s.points is not None for s in body.signals)
    assert any(j.startswith("csm_rating is ") for j in body.next_band.judgements) == rated
    assert reply.json()["gate_condition"]["evaluated"] is (body.gate_condition.missing is None)
    assert body.units["days_since_login"] == "days" and body.units["seat_utilisation"] == "share"
