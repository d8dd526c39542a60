"""One explanation builder: from items already read, as plain tuples or NumPy arrays."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from vitalsign.engine.explain import (
    ITEM_FIELDS,
    explain_account,
    explain_items,
    explain_row,
    item_rows,
)
from vitalsign.engine.run import score
from vitalsign.engine.snapshots import read_items
from vitalsign.model.loader import parse_model
from vitalsign.store.overrides import add_override
from vitalsign.store.workspace import Workspace
from world import FIXTURES, T

ROW = {
    "account_id": "acct-1",
    "name": "Acme",
    "model_hash": "abc123",
    "snapshot_date": dt.datetime(2025, 5, 26),
    "score": 55.0,
    "base_score": 65.0,
    "band": "yellow",
    "computed_band": "yellow",
    "coverage": 0.75,
    "gate_pass": True,
    "flags": '["champion_left"]',
}
ITEMS = [  # read_items order: kind descending, path, name
    ("signal", "logins", "usage", "12", 40.0, 0.5, 20.0),
    ("signal", "nps", "voice", None, None, 0.25, float("nan")),
    ("signal", "tickets", "support", "3", 90.0, 0.25, 22.5),
    ("group", "support", "support", None, 90.0, 1.0, 22.5),
    ("group", "usage", "usage", None, 40.0, 2.0, 20.0),
    ("computed", "tickets", "support", "7", None, None, None),
]


def test_items_as_tuples_give_signals_by_contribution_groups_in_order_and_overrides() -> None:
    explanation = explain_items("default", ROW, ITEMS)
    assert explanation.as_of == dt.date(2025, 5, 26)
    assert (explanation.score, explanation.base_score) == (55.0, 65.0)
    assert explanation.flags == ["champion_left"]
    assert [s.name for s in explanation.signals] == ["tickets", "logins", "nps"]
    assert explanation.signals[0].raw == "3 (override; computed 7)"
    missing = explanation.signals[2]
    assert (missing.raw, missing.points, missing.contribution) == (None, None, 0.0)
    assert [g.name for g in explanation.groups] == ["support", "usage"]


def test_items_as_numpy_arrays_give_the_same_explanation_as_tuples() -> None:
    columns = list(zip(*ITEMS, strict=True))
    arrays = [np.array(c, dtype=object) for c in columns[:4]]
    arrays += [np.array([math.nan if v is None else v for v in c]) for c in columns[4:]]
    rows = zip(*arrays, strict=True)
    numpy_row = {**ROW, "score": np.float64(55.0), "snapshot_date": dt.date(2025, 5, 26)}
    assert explain_items("default", numpy_row, rows) == explain_items("default", ROW, ITEMS)


def test_a_null_score_reads_as_none_whether_none_or_nan() -> None:
    for missing in (None, float("nan")):
        row = {**ROW, "score": missing, "base_score": missing}
        explanation = explain_items("default", row, ITEMS)
        assert explanation.score is None and explanation.base_score is None


def test_explain_row_and_explain_items_agree_on_stored_snapshots(
    tiny_workspace: Workspace,
) -> None:
    source = (FIXTURES / "models" / "tiny.yml").read_text()
    model = parse_model(source + "overrides:\n  signals: [csm]\n")
    add_override(
        tiny_workspace.duckdb, "B", "csm", "green", "exec call went well", "ann",
        created_at=dt.datetime(2024, 2, 1), expires_at=dt.datetime(2024, 6, 1),
    )  # fmt: skip
    score(tiny_workspace, T, model)
    con = tiny_workspace.duckdb
    for account in ("A", "B", "C"):
        frame = con.execute(
            "SELECT * FROM scores WHERE account_id = ? AND snapshot_date = ?", [account, T]
        ).df()
        row = frame.iloc[0].to_dict()
        items = read_items(con, "tiny", T, account)
        assert list(items[list(ITEM_FIELDS)].columns) == list(ITEM_FIELDS)
        from_items = explain_items("tiny", row, item_rows(items))
        assert from_items == explain_row(con, "tiny", row)
        assert from_items == explain_account(con, "tiny", account, T)
        assert from_items.signals, account
    csm = next(s for s in explain_account(con, "tiny", "B", T).signals if s.name == "csm")
    assert csm.raw == "green (override; computed red)"


def test_changes_since_an_earlier_snapshot_compare_signal_contributions(
    tiny_workspace: Workspace,
) -> None:
    source = (FIXTURES / "models" / "tiny.yml").read_text()
    model = parse_model(source)
    earlier = T - dt.timedelta(days=7)
    score(tiny_workspace, earlier, model)
    score(tiny_workspace, T, model)
    explanation = explain_account(tiny_workspace.duckdb, "tiny", "A", T, since=earlier)
    assert explanation.since == earlier
    names = {c.name for c in explanation.changes}
    assert names == {s.name for s in explanation.signals}
    deltas = [abs(c.delta) for c in explanation.changes]
    assert deltas == sorted(deltas, reverse=True)
    for change in explanation.changes:
        now = next(s for s in explanation.signals if s.name == change.name)
        assert change.contribution_after == now.contribution
        assert change.raw_after == now.raw
