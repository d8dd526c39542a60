"""Edges: a score exactly at a band's minimum, and a first row deleted after T."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from vitalsign.engine.run import compute_scores
from vitalsign.model.loader import parse_model
from vitalsign.store.workspace import Workspace
from world import T

# (2 × 100 + 1 × 10) / 3 is 70 exactly, but the weighted mean gives 69.99999999999999
MODEL = """\
name: edges
min_coverage: 0.1
signals:
  full: {attribute: "1.0", scale: {type: linear, low: 0, high: 1}}
  tenth: {attribute: "0.1", scale: {type: linear, low: 0, high: 1}}
scorecards:
  default:
    heavy: {weight: 2, signals: {full: 1}}
    light: {weight: 1, signals: {tenth: 1}}
default_scorecard: default
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""


def test_a_score_of_seventy_is_green_even_when_the_mean_falls_a_hair_short(
    tiny_workspace: Workspace,
) -> None:
    scores = compute_scores(tiny_workspace.backend, parse_model(MODEL), [T]).scores
    assert len(scores) > 0
    assert scores["score"].round(9).eq(70.0).all()
    assert set(scores["band"]) == {"green"}


FIRST_INVOICE = """\
name: first
min_coverage: 0.1
freshness: {invoices: never}
signals:
  days_to_first_invoice:
    table: invoices
    aggregate: time_to_first
    scale: {type: linear, low: 0, high: 400, better: lower}
scorecards:
  default:
    main: {signals: {days_to_first_invoice: 1}}
default_scorecard: default
bands:
  - {name: green, min: 70}
  - {name: red, min: 0}
"""


def test_a_deleted_first_row_still_counts_before_its_deletion(
    tiny_workspace: Workspace,
) -> None:
    con = tiny_workspace.duckdb
    con.execute("DELETE FROM invoices")
    con.execute(  # i1 came first but was deleted on 2024-02-15; i2 stays
        "INSERT INTO invoices (invoice_id, account_id, issued_at, amount, deleted_at) VALUES "
        "('i1', 'A', TIMESTAMP '2023-12-01', 10, TIMESTAMP '2024-02-15'), "
        "('i2', 'A', TIMESTAMP '2024-01-20', 10, NULL)"
    )
    created = con.execute("SELECT created_at FROM accounts WHERE account_id = 'A'").fetchone()[0]
    expected = {
        dt.date(2024, 2, 1): (dt.datetime(2023, 12, 1) - created).days,
        T: (dt.datetime(2024, 1, 20) - created).days,
    }
    model = parse_model(FIRST_INVOICE)
    for dates in ([dt.date(2024, 2, 1)], [T], sorted(expected)):  # single dates and a backfill
        items = compute_scores(tiny_workspace.backend, model, dates).items
        a = items[(items["account_id"] == "A") & (items["kind"] == "signal")]
        got = dict(zip(pd.to_datetime(a["as_of"]).dt.date, a["raw_value"], strict=True))
        assert got == pytest.approx({d: expected[d] for d in dates})
