"""The quarterly review on a small demo world whose key actions jump in the last quarter.

Two reviews are run once for the module: one a quarter and a bit before the end (by the CLI,
without a proposal) and one at the end (by the Python API, with a proposal). The second
must find the shifted signal drifting, leave an unchanged one stable, and compare itself
with the first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from histories import build, snapshot_dates
from typer.testing import CliRunner

from vitalsign.analytics.review import EARLIER, LATER, ReviewReport, run_review
from vitalsign.analytics.review_commands import review_renderable
from vitalsign.analytics.review_compare import previous_auc
from vitalsign.analytics.review_store import (
    last_review_date,
    review_folder,
    reviews_root,
    stored_reviews,
)
from vitalsign.cli import app
from vitalsign.demo.world import generate_world
from vitalsign.errors import BacktestError
from vitalsign.model.loader import load_model
from vitalsign.store.workspace import Workspace

ACCOUNTS = 250
SHIFTED = "key_actions_30d"  # its events quadruple from a month before the last quarter
UNCHANGED = "urgent_tickets_90d"


@dataclass
class Reviewed:
    """The workspace and its two reviews."""

    workspace: Workspace
    first: dict[str, Any]  # the CLI's JSON
    second: ReviewReport


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reviewed]:
    world = generate_world(accounts=ACCOUNTS, seed=11)
    dates = snapshot_dates(world, every_days=28)
    end = dates[-1]
    start_of_shift = end - dt.timedelta(days=90 + 30)
    events = world.tables["events"]
    views = (events["event"] == "dashboard_view") & (
        events["timestamp"] >= dt.datetime.combine(start_of_shift, dt.time())
    )
    events.loc[views, "event"] = "report_created"  # a key action now
    workspace = build(tmp_path_factory.mktemp("review") / "ws", world, every_days=28)
    first_day = dates[-5]
    stem = workspace.load_model().path.stem  # type: ignore[union-attr]
    stale = review_folder(reviews_root(workspace), first_day) / f"{stem}.proposed.yml"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("# an earlier run's proposal\n", encoding="utf-8")
    answer = CliRunner().invoke(
        app,
        ["review", "-w", str(workspace.root), "--as-of", first_day.isoformat(), "--no-propose",
         "--json", "--bootstrap", "50", "--leak-dates", "0"],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    second = run_review(workspace, replicates=50, leak_dates=0)
    yield Reviewed(workspace, json.loads(answer.stdout), second)
    workspace.close()


def test_the_shifted_signal_drifts_and_an_unchanged_one_does_not(reviewed: Reviewed) -> None:
    drift = {d.signal: d for d in reviewed.second.signal_drift}
    assert drift[SHIFTED].level == "significant"
    assert drift[SHIFTED].this_median > drift[SHIFTED].last_median
    assert drift[UNCHANGED].level == "stable"
    assert any(SHIFTED in line for line in reviewed.second.findings())
    assert not any(UNCHANGED in line and "drift" in line for line in reviewed.second.findings())


def test_before_the_shift_the_signal_was_stable(reviewed: Reviewed) -> None:
    drift = {d["signal"]: d for d in reviewed.first["signal_drift"]}
    assert drift[SHIFTED]["level"] == "stable"


def test_the_backtest_covers_the_last_quarter_whose_outcomes_are_known(
    reviewed: Reviewed,
) -> None:
    r = reviewed.second
    assert r.backtest is not None and r.labelled_quarters is not None
    before, done = r.labelled_quarters
    assert done.last + dt.timedelta(days=r.horizon_days) <= r.observed_until.date()
    assert (done.last - done.first).days == r.period_days - 1
    assert r.backtest.dates == done.dates
    assert before.dates and before.last < done.first
    assert 0.5 < r.backtest.roc_auc.value <= 1


def test_band_churn_rates_come_with_intervals_for_both_quarters(reviewed: Reviewed) -> None:
    bands = {b.band: b for b in reviewed.second.band_drift}
    assert set(bands) == set(reviewed.workspace.load_model().spec.band_names)
    worst = bands[reviewed.workspace.load_model().spec.band_names[-1]]
    assert worst.last_rows > 0 and worst.this_rows > 0
    assert worst.this_rate.low <= worst.this_rate.value <= worst.this_rate.high
    assert worst.change.value == pytest.approx(worst.this_rate.value - worst.last_rate.value)


def test_the_second_review_compares_with_the_first(reviewed: Reviewed) -> None:
    compared = reviewed.second.comparison()
    assert compared is not None
    assert compared["as_of"] == reviewed.first["as_of"]
    auc = compared["roc_auc"]
    assert auc["previous"] == reviewed.first["backtest"]["roc_auc"]["value"]
    assert auc["change"] == pytest.approx(auc["now"] - auc["previous"], abs=1e-6)
    psi = {p["signal"]: p for p in compared["psi"]}
    assert psi[SHIFTED]["previous"] < 0.1 <= psi[SHIFTED]["now"]
    assert reviewed.first["previous"] is None


def test_the_proposal_is_written_next_to_the_report_with_weight_stability(
    reviewed: Reviewed,
) -> None:
    r = reviewed.second
    assert r.calibration is not None and r.calibration.path is not None
    assert r.calibration.path.parent == r.folder
    assert load_model(r.calibration.path).hash == r.calibration.proposed.hash
    assert {s.signal for s in r.stability} >= {SHIFTED, UNCHANGED}
    assert all(s.spread.count > 0 for s in r.stability)
    assert reviewed.first["proposal"] is None  # --no-propose


def test_each_review_is_stored_as_json_and_self_contained_html(reviewed: Reviewed) -> None:
    root = reviews_root(reviewed.workspace)
    stored = stored_reviews(root)
    assert [s["as_of"] for s in stored] == [reviewed.first["as_of"], str(reviewed.second.as_of)]
    assert last_review_date(root) == reviewed.second.as_of
    html = (reviewed.second.folder / "review.html").read_text()
    assert "<script src=" not in html and "Plotly.newPlot" in html
    assert SHIFTED in html and "significant" in html
    assert (reviewed.second.folder / "backtest.html").exists()
    on_disk = json.loads((reviewed.second.folder / "review.json").read_text())
    assert on_disk["findings"] == reviewed.second.findings()


def test_a_review_without_a_quarter_before_it_says_how_to_get_one(
    reviewed: Reviewed, tmp_path: Path
) -> None:
    first = min(d["as_of"] for d in [reviewed.first])
    early = dt.date.fromisoformat(first) - dt.timedelta(days=420)
    with pytest.raises(BacktestError, match=r"vitalsign backfill --from|pick a later --as-of"):
        run_review(reviewed.workspace, as_of=early, propose=False, folder=tmp_path)


def test_every_option_of_review_is_explained_in_the_docs() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["review"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    text = (Path(__file__).parents[2] / "docs" / "backtest.md").read_text(encoding="utf-8")
    section = text.split("## Quarterly review", 1)[1].split("\n## ", 1)[0]
    missing = sorted(o for o in options - {"--workspace", "--help"} if o not in section)
    assert not missing, f"docs/backtest.md, Quarterly review, does not mention {missing}"


def test_a_review_dated_after_the_data_reads_the_outcomes_only_to_the_datas_end(
    reviewed: Reviewed, tmp_path: Path
) -> None:
    later = reviewed.second.as_of + dt.timedelta(days=40)  # after the data ends
    review = run_review(
        reviewed.workspace, as_of=later, propose=False, replicates=10, leak_dates=0,
        folder=tmp_path,
    )  # fmt: skip
    assert review.observed_until == reviewed.second.observed_until
    assert review.folder == tmp_path.resolve() and (tmp_path / "review.json").exists()
    assert review.previous is not None and review.previous["as_of"] == str(reviewed.second.as_of)


def quarter_phrases(quarters: dict[str, Any]) -> tuple[str, str]:
    """How every surface names the two compared periods (JSON keys `last` and `this`)."""
    last, this = quarters["last"], quarters["this"]
    return (
        f"{EARLIER} ({last['from']} to {last['to']})",
        f"{LATER} ({this['from']} to {this['to']})",
    )


def assert_names_quarters(text: str, quarters: dict[str, Any], where: str) -> None:
    """Both periods named with their dates, the earlier first."""
    earlier, later = quarter_phrases(quarters)
    flat = " ".join(text.split())
    assert earlier in flat and later in flat, f"{where}: {earlier!r} / {later!r} missing"
    assert flat.index(earlier) < flat.index(later), f"{where}: the later quarter comes first"
    for old in ("last quarter", "this quarter", "Quarter before", "Last quarter"):
        assert old not in flat, f"{where} still says {old!r}"


def test_the_cli_and_the_html_report_name_the_quarters_alike_earlier_first(
    reviewed: Reviewed,
) -> None:
    from rich.console import Console

    stored = json.loads((reviewed.second.folder / "review.json").read_text())
    console = Console(width=400, record=True)
    console.print(review_renderable(reviewed.second))
    cli = console.export_text()
    html = (reviewed.second.folder / "review.html").read_text()
    drift_part = html.split('id="drift-quarters"', 1)[1].split("</p>", 1)[0]
    band_part = html.split('id="band-quarters"', 1)[1].split("</p>", 1)[0]
    cli_drift, cli_bands = cli.split("Signal drift", 1)[1].split("Band churn", 1)
    assert_names_quarters(cli_drift, stored["drift_quarters"], "CLI signal drift")
    assert_names_quarters(cli_bands, stored["labelled_quarters"], "CLI band churn")
    assert_names_quarters(drift_part, stored["drift_quarters"], "HTML signal drift")
    assert_names_quarters(band_part, stored["labelled_quarters"], "HTML band churn")
    assert stored["drift_quarters"]["last"]["to"] < stored["drift_quarters"]["this"]["from"]


def test_the_previous_reviews_auc_is_rounded_and_judged_against_the_noise(
    reviewed: Reviewed,
) -> None:
    compared = reviewed.second.comparison()
    assert compared is not None
    line = previous_auc(compared)
    assert re.search(r"\d\.\d{4}", line) is None, line
    auc = compared["roc_auc"]
    assert f"{auc['previous']:.3f}" in line and f"{auc['now']:.3f}" in line
    assert auc["change_low"] <= auc["change"] <= auc["change_high"]
    assert ("beyond the noise" in line) == auc["fell"]


def test_without_a_proposal_the_review_says_weights_were_not_checked(
    reviewed: Reviewed,
) -> None:
    first = reviewed.first
    assert first["proposal"] is None
    assert first["weights_unchecked"] == "weight stability was not checked (--no-propose)"
    assert "weight stability was not checked (--no-propose)" in first["all_clear"]
    [note] = [n for n in first["notes"] if n.startswith("no calibrated proposal")]
    assert "not proposed this time (--no-propose)" in note
    assert "from an earlier run, not this review's" in note  # the stale file the fixture left
    assert reviewed.second.weights_unchecked() is None
    assert "weights stable" in reviewed.second.all_clear()
