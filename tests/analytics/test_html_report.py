"""The HTML report is one self-contained file whose charts render offline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from vitalsign.analytics.backtest import BacktestReport, run_backtest
from vitalsign.analytics.html_report import render_html, write_html
from vitalsign.store.workspace import Workspace

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def report(demo_workspace: Workspace) -> BacktestReport:
    """A quick backtest of the starter model (no future-rows check)."""
    return run_backtest(demo_workspace, replicates=50, leak_dates=0)


def test_the_page_embeds_plotly_and_loads_nothing_from_the_network(report: BacktestReport) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert get_plotlyjs()[:200] in page
    assert not re.search(r"<script[^>]*\bsrc=", page, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", page, flags=re.IGNORECASE)
    assert page.count("Plotly.newPlot") >= 5  # curves, bands, survival, over time, signals, CSM


def test_the_page_holds_every_section(report: BacktestReport) -> None:
    page = render_html(report)
    for heading in ("Ranking", "Bands", "Survival per band", "Over time", "Signals",
                    "CSM gut versus the score", "Leak check details"):  # fmt: skip
        assert f"<h2>{heading}" in page
    assert str(report.roc_auc) in page
    assert "Leak check: nothing found" in page


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is installed by scripts/install-system-deps.sh"
)
def test_the_charts_render_in_a_browser_with_the_network_cut(
    report: BacktestReport, tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    path = write_html(report, tmp_path / "report.html")
    outside: list[str] = []

    def block(route: Route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", block)
            page.goto(path.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length > 5"
            )
            charts = page.eval_on_selector_all(".js-plotly-plot", "nodes => nodes.length")
        finally:
            browser.close()
    assert outside == []
    assert charts >= 6
