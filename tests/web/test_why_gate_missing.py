"""The account page says a gate whose input table is empty was not evaluated, not "passed"."""

from __future__ import annotations

import re

from vitalsign.alerts.schema import ensure_alert_tables
from vitalsign.engine.run import score
from vitalsign.model.loader import LoadedModel
from vitalsign.store.workspace import Workspace
from vitalsign.web.account_view import account_view
from vitalsign.web.rendering import TEMPLATES
from world import T


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_the_page_says_the_gate_was_not_evaluated_when_its_table_is_empty(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    tiny_workspace.duckdb.execute("DELETE FROM invoices")
    score(tiny_workspace, T, tiny_model)
    ensure_alert_tables(tiny_workspace.duckdb)
    view = account_view(tiny_workspace.duckdb, tiny_model.name, "A", T, model=tiny_model)
    assert view.why is not None and view.why.gate is not None
    assert view.why.gate.missing == "invoices_30d is missing (no data)"
    page = _text(TEMPLATES.env.get_template("_why.html").render(view=view, e=view.explanation))
    assert "Gate invoiced not evaluated : invoices_30d is missing (no data)" in page


def test_on_live_data_the_page_does_not_mention_the_passed_gate(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    score(tiny_workspace, T, tiny_model)
    ensure_alert_tables(tiny_workspace.duckdb)
    view = account_view(tiny_workspace.duckdb, tiny_model.name, "A", T, model=tiny_model)
    assert view.why is not None and view.why.gate is not None and view.why.gate.missing is None
    assert "not evaluated" not in TEMPLATES.env.get_template("_why.html").render(
        view=view, e=view.explanation
    )


def test_the_page_shows_a_flag_s_description_and_when_it_clears_by_itself(
    tiny_workspace: Workspace, tiny_model: LoadedModel
) -> None:
    flag = tiny_model.spec.flags["champion_left"].model_copy(
        update={"description": "The champion left in the last 60 days."}
    )
    spec = tiny_model.spec.model_copy(
        update={"flags": {**tiny_model.spec.flags, "champion_left": flag}}
    )
    model = LoadedModel(**{**tiny_model.__dict__, "spec": spec})
    score(tiny_workspace, T, model)
    ensure_alert_tables(tiny_workspace.duckdb)
    view = account_view(tiny_workspace.duckdb, model.name, "B", T, model=model)
    assert view.why is not None and view.why.flags[0].clears is not None
    page = _text(TEMPLATES.env.get_template("_why.html").render(view=view, e=view.explanation))
    assert "The champion left in the last 60 days." in page
    assert f"It {view.why.flags[0].clears}." in page
