"""A flag on a windowed count says when it clears by itself, and the engine agrees."""

from __future__ import annotations

import datetime as dt

import pytest

from vitalsign.engine.flag_expiry import events_needed
from vitalsign.engine.run import score
from vitalsign.engine.why import why_account
from vitalsign.model.loader import LoadedModel
from vitalsign.rendering import to_text, why_renderable
from vitalsign.store.workspace import Workspace
from world import T


def _flags(workspace: Workspace, model: LoadedModel, day: dt.date) -> str:
    score(workspace, day, model)
    row = workspace.duckdb.execute(
        "SELECT flags FROM scores WHERE account_id = 'B' AND snapshot_date = ?", [day]
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_champion_left_clears_by_itself_the_day_after_the_date_it_names(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    (event,) = tiny_workspace.duckdb.execute(
        "SELECT max(occurred_at) FROM business_events WHERE account_id = 'B' "
        "AND kind = 'champion_left'"
    ).fetchone()
    last = (event + dt.timedelta(days=60)).date()
    score(tiny_workspace, T, tiny_model)
    why = why_account(tiny_workspace.duckdb, tiny_model, "B")
    (flag,) = why.flags
    assert flag.clears == (
        f"clears by itself after {last}, 60 days after the event on {event.date()}, "
        "unless it happens again"
    )
    assert why.to_dict()["flags_fired"][0]["clears"] == flag.clears
    text = " ".join(to_text(why_renderable(why)).split())
    assert flag.clears in text
    # the engine agrees: raised on that date, gone the day after
    assert "champion_left" in _flags(tiny_workspace, tiny_model, last)
    assert "champion_left" not in _flags(tiny_workspace, tiny_model, last + dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("when", "needed"),
    [
        ("x >= 1", ("x", 1)),
        ("x > 0", ("x", 1)),
        ("x >= 2.5", ("x", 3)),
        ("x > 2", ("x", 3)),
        ("x < 1", None),
        ("x >= 0", None),
        ("x >= 1 and y >= 1", None),
    ],
)
def test_the_events_a_condition_needs(when: str, needed: tuple[str, int] | None) -> None:
    assert events_needed(when) == needed
