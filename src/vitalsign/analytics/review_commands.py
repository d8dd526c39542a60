"""`vitalsign review`: the quarterly review (backtest, drift, band churn, weights, proposal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from vitalsign.analytics.cli_options import (
    BootstrapOption,
    HorizonOption,
    JsonOption,
    ModelOption,
    SeedOption,
    WorkspaceOption,
)
from vitalsign.cli_values import parse_date, parse_days_option

if TYPE_CHECKING:
    from rich.console import RenderableType

    from vitalsign.analytics.review import ReviewReport

console = Console()


def review(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Review date (default: the latest snapshot's)."),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="Length of a review period (a quarter), e.g. 90d.")
    ] = "90d",
    horizon: HorizonOption = "90d",
    model: ModelOption = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--folder",
            help="Folder for review.json, review.html, backtest.html and the proposal "
            "(default: reviews/<as-of>/ in the workspace, where the next review looks).",
        ),
    ] = None,
    propose: Annotated[
        bool,
        typer.Option("--propose/--no-propose", help="Calibrate a proposed model (the slow part)."),
    ] = True,
    leak_dates: Annotated[
        int,
        typer.Option(
            "--leak-dates", help="Snapshot dates the backtest's future-rows leak check re-scores."
        ),
    ] = 1,
    json_: JsonOption = False,
    bootstrap: BootstrapOption = 200,
    seed: SeedOption = 0,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Quarterly review: backtest the last quarter, drift, band churn, weights, a proposal.

    Compares with the previous review in the workspace's reviews/ folder and writes this one
    there (JSON and HTML). See docs/backtest.md, "Quarterly review".
    """
    from vitalsign.analytics.progress import progress_steps
    from vitalsign.analytics.review import REVIEW_STAGES, run_review
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    loaded = ws.load_model(model)
    with progress_steps("Review", REVIEW_STAGES, show=not json_) as step:
        result = run_review(
            ws,
            loaded,
            parse_date(as_of, "--as-of"),
            parse_days_option(period, "--period"),
            parse_days_option(horizon, "--horizon"),
            bootstrap,
            seed,
            folder=None if folder is None else folder.resolve(),
            propose=propose,
            leak_dates=leak_dates,
            progress=step,
        )
    if json_:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    console.print(review_renderable(result))


def review_renderable(result: ReviewReport) -> RenderableType:
    """The review for a terminal: what needs attention, drift, bands, the proposal."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from vitalsign.analytics.review import EARLIER, LATER, quarter_heading
    from vitalsign.analytics.review_compare import previous_auc
    from vitalsign.analytics.review_html import rate

    parts: list[RenderableType] = [
        Text(
            f"Quarterly review of {result.model_name} ({result.model_hash}) as of "
            f"{result.as_of}, period {result.period_days} days",
            style="bold",
        )
    ]
    if result.backtest is not None and result.labelled_quarters is not None:
        quarter = result.labelled_quarters[1]
        parts.append(
            Text(
                f"Backtest of {quarter.first} to {quarter.last}: ROC-AUC "
                f"{result.backtest.roc_auc}, PR-AUC {result.backtest.pr_auc}"
            )
        )
    compared = result.comparison()
    if compared is not None:
        parts.append(Text(f"Previous review {compared['as_of']}: {previous_auc(compared)}"))
    findings = result.findings()
    parts.append(Text("What needs attention:" if findings else result.all_clear()))
    parts += [Text(f"  - {line}") for line in findings]
    dq = result.drift_quarters
    parts.append(
        Text(f"Signal drift, {quarter_heading(EARLIER, dq[0])} → {quarter_heading(LATER, dq[1])}:")
    )
    drift = Table(title="PSI: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 significant")
    for column in ("signal", "PSI", "reading"):
        drift.add_column(column)
    for d in [*result.signal_drift, result.score_drift]:
        drift.add_row(d.signal, "—" if d.psi != d.psi else f"{d.psi:.3f}", d.level)
    parts.append(drift)
    if result.band_drift and result.labelled_quarters is not None:
        lq = result.labelled_quarters
        parts.append(
            Text(
                f"Band churn rates, {quarter_heading(EARLIER, lq[0])} → "
                f"{quarter_heading(LATER, lq[1])}, 95% intervals:"
            )
        )
        bands = Table()
        for column in ("band", EARLIER, LATER, "change", "drift"):
            bands.add_column(column)
        for b in result.band_drift:
            bands.add_row(
                b.band, rate(b.last_rate), rate(b.this_rate), rate(b.change, signed=True),
                "drifting" if b.drifting else "",
            )  # fmt: skip
        parts.append(bands)
    if result.calibration is not None:
        parts.append(Text(f"Proposal {result.calibration.path}: {result.calibration.verdict}"))
    parts += [Text(f"Note: {n}", style="dim") for n in result.notes]
    parts.append(Text(f"Report: {result.folder / 'review.html'}"))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    """Add review to the CLI."""
    app.command()(review)
