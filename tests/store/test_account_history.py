"""Account history: every change kept, attributes read as in force at T, custom fields."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from killing import kill_at_commit
from live_world import HEADER, MAPPING, live_workspace, load_export
from vitalsign.analytics.leakage import truncation_findings
from vitalsign.engine.run import score
from vitalsign.errors import ModelError
from vitalsign.ingest.files import load_file
from vitalsign.ingest.staging import LoadOptions
from vitalsign.model.loader import parse_model
from vitalsign.store.history import apply_from
from vitalsign.store.workspace import Workspace, open_workspace

MODEL = """\
name: live
min_coverage: 0.1
signals:
  seats: {attribute: seats, scale: {type: linear, low: 0, high: 100}}
  gold: {attribute: "tier == 'gold'", scale: {type: boolean}}
scorecards:
  default:
    main: {signals: {seats: 1, gold: 1}}
  enterprise:
    main: {signals: {seats: 1}}
segments:
  - {name: enterprise, when: "segment == 'enterprise'", scorecard: enterprise}
default_scorecard: default
bands:
  - {name: green, min: 70}
  - {name: yellow, min: 40}
  - {name: red, min: 0}
"""

BEFORE = "a1,Acme,2023-01-01,ann@x.test,smb,20,1000,2025-01-01,silver,true,2024-01-01\n"
AFTER = "a1,Acme,2023-01-01,bob@x.test,enterprise,80,9000,2026-01-01,gold,false,2024-06-01\n"


def _workspace(tmp_path: Path) -> Workspace:
    return live_workspace(tmp_path / "ws", MODEL)


def _load(ws: Workspace, path: Path, row: str) -> None:
    load_export(ws, path, row)


def test_a_change_is_a_new_version_dated_by_updated_at(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE)
    _load(ws, tmp_path / "two.csv", AFTER)
    versions = ws.duckdb.execute(
        "SELECT owner, segment, seats, arr, CAST(renewal_date AS VARCHAR), tier, "
        "integrations_ok, CAST(valid_from AS VARCHAR), CAST(valid_to AS VARCHAR) "
        "FROM account_history ORDER BY valid_from NULLS FIRST"
    ).fetchall()
    assert versions == [
        (
            "ann@x.test",
            "smb",
            20,
            1000.0,
            "2025-01-01",
            "silver",
            True,
            None,
            "2024-06-01 00:00:00",
        ),
        (
            "bob@x.test",
            "enterprise",
            80,
            9000.0,
            "2026-01-01",
            "gold",
            False,
            "2024-06-01 00:00:00",
            None,
        ),
    ]
    _load(ws, tmp_path / "three.csv", AFTER)  # the same again: no new version
    assert ws.duckdb.execute("SELECT count(*) FROM account_history").fetchone()[0] == 2


def test_scores_read_attributes_as_they_were_in_force(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE)
    early, late = dt.date(2024, 3, 1), dt.date(2024, 9, 1)
    old = score(ws, early).scores.iloc[0]
    assert (old["owner"], old["model_segment"], old["score"]) == ("ann@x.test", "default", 10.0)
    _load(ws, tmp_path / "two.csv", AFTER)
    again = score(ws, early).scores.iloc[0]  # the past date, scored after the change
    assert (again["owner"], again["score"], again["band"]) == ("ann@x.test", 10.0, "red")
    new = score(ws, late).scores.iloc[0]
    assert (new["owner"], new["model_segment"], new["score"]) == ("bob@x.test", "enterprise", 80.0)


def test_a_custom_field_is_checked_against_the_workspace(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    assert ws.load_model().spec.signals["gold"].attribute == "tier == 'gold'"
    with pytest.raises(ModelError, match="unknown account column 'tier'"):
        parse_model(MODEL, "live.yml")  # without the workspace's fields, tier is unknown


def test_a_churn_applies_from_its_own_date(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE)
    changed = apply_from(
        ws.duckdb, "SELECT 'a1', TIMESTAMP '2024-05-01', TIMESTAMP '2024-05-01'", "churned_at"
    )
    assert changed == 1
    assert [len(score(ws, d).scores) for d in (dt.date(2024, 4, 1), dt.date(2024, 6, 1))] == [1, 0]
    reactivated = apply_from(ws.duckdb, "SELECT 'a1', TIMESTAMP '2024-08-01', NULL", "churned_at")
    assert reactivated == 1
    counts = [len(score(ws, d).scores) for d in (dt.date(2024, 6, 1), dt.date(2024, 9, 1))]
    assert counts == [0, 1]


LOAD = (
    "import sys; from vitalsign.ingest.files import load_file; "
    "from vitalsign.store.workspace import open_workspace; "
    "load_file(open_workspace(sys.argv[1]), sys.argv[2], 'accounts', {"
    + ", ".join(f"{k!r}: {v!r}" for k, v in MAPPING.items())
    + "})"
)


def test_a_killed_ingest_of_updates_leaves_tables_and_history_as_before(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE)
    before = [
        ws.duckdb.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("accounts", "account_history", "ingest_changes")
    ]
    ws.close()
    update = tmp_path / "two.csv"
    update.write_text(HEADER + AFTER, encoding="utf-8")
    kill_at_commit(
        [sys.executable, "-c", LOAD, str(tmp_path / "ws"), str(update)], tmp_path / "holding"
    )
    ws = open_workspace(tmp_path / "ws")
    after = [
        ws.duckdb.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("accounts", "account_history", "ingest_changes")
    ]
    assert after == before
    report = load_file(ws, update, "accounts", MAPPING)
    assert report.updated == 1


def test_an_account_a_snapshot_dropped_is_scored_before_its_deletion_only(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    two = BEFORE + BEFORE.replace("a1,Acme", "a2,Beta")
    _load(ws, tmp_path / "both.csv", two)
    only = tmp_path / "only.csv"
    only.write_text(HEADER + BEFORE, encoding="utf-8")
    report = load_file(ws, only, "accounts", MAPPING, options=LoadOptions(True, True))
    assert report.deleted == 1
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert sorted(score(ws, tomorrow).scores["account_id"]) == ["a1"]
    assert sorted(score(ws, dt.date(2024, 3, 1)).scores["account_id"]) == ["a1", "a2"]
    versions = ws.duckdb.execute(
        "SELECT count(*), count(deleted_at) FROM account_history WHERE account_id = 'a2'"
    ).fetchone()
    assert versions == (2, 1)


def test_an_account_deleted_by_hand_gets_a_last_version_marked_deleted(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "both.csv", BEFORE + BEFORE.replace("a1,Acme", "a2,Beta"))
    ws.duckdb.execute("DELETE FROM accounts WHERE account_id = 'a2'")
    assert sorted(score(ws, dt.date.today() + dt.timedelta(days=1)).scores["account_id"]) == ["a1"]
    last = ws.duckdb.execute(
        "SELECT deleted_at IS NOT NULL, valid_to IS NULL FROM account_history "
        "WHERE account_id = 'a2' ORDER BY valid_from NULLS FIRST"
    ).fetchall()
    assert last == [(False, False), (True, True)]


def test_a_crm_that_moves_or_clears_a_churn_date_corrects_it_from_the_earlier_date(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE)
    scored = {}

    def churn(value: str | None) -> None:
        ws.duckdb.execute("UPDATE accounts SET churned_at = ? WHERE account_id = 'a1'", [value])
        scored[value] = [
            len(score(ws, dt.date(2024, m, 1)).scores) for m in (3, 5, 7)
        ]  # before, between and after the dates

    churn("2024-04-01")
    churn("2024-06-01")  # moved later: scored again on 2024-05-01
    churn(None)  # cleared: never churned
    assert scored == {"2024-04-01": [1, 0, 0], "2024-06-01": [1, 1, 0], None: [1, 1, 1]}


def test_the_leak_check_copies_custom_fields_and_history_and_finds_no_leak(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path)
    _load(ws, tmp_path / "one.csv", BEFORE + BEFORE.replace("a1,Acme", "a2,Beta"))
    _load(ws, tmp_path / "two.csv", AFTER)  # a1 becomes gold, enterprise, 80 seats in June
    dates = [dt.date(2024, 3, 1), dt.date(2024, 9, 1)]
    found = truncation_findings(ws.duckdb, ws.load_model(), dates, ["a1", "a2"])
    assert found == []
