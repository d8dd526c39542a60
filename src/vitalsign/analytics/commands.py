"""CLI commands of the analytics part: backtest, calibrate, diff, outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vitalsign.analytics.cli_options import (
    BootstrapOption,
    EveryOption,
    FromOption,
    HorizonOption,
    JsonOption,
    ModelOption,
    SeedOption,
    ToOption,
    UntilOption,
    WorkspaceOption,
    date_list,
    emit_json,
    print_data_end,
    share_pairs,
    until_moment,
)
from vitalsign.cli_values import parse_date, parse_days_option
from vitalsign.errors import VitalsignError
from vitalsign.store.output_paths import check_output_path

console = Console()


def backtest(
    horizon: HorizonOption = "90d",
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write a self-contained HTML report to this file (relative to the current "
            "folder); an existing HTML file is replaced.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing --html file that is not an HTML page."),
    ] = False,
    json_: JsonOption = False,
    model: ModelOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    every: EveryOption = "7d",
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="Re-score in memory with this model version instead of reading snapshots.",
        ),
    ] = False,
    until: UntilOption = None,
    bootstrap: BootstrapOption = 200,
    seed: SeedOption = 0,
    leak_dates: Annotated[
        int,
        typer.Option(
            "--leak-dates", help="Snapshot dates the future-rows leak check re-scores (0 skips it)."
        ),
    ] = 2,
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome",
            help="churned, or expanded/contracted: does the score (or the model's expansion "
            "score) rank the accounts whose ARR grew (shrank)?",
        ),
    ] = "churned",
    min_change: Annotated[
        str,
        typer.Option(
            "--min-change", help="With expanded/contracted: the ARR change that counts, e.g. 10%."
        ),
    ] = "10%",
    score: Annotated[
        str | None,
        typer.Option(
            "--score",
            help="With expanded/contracted: expansion or health (default: the expansion score "
            "for expanded when the model has one, else health).",
        ),
    ] = None,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Backtest the score against churn (or expansion): AUCs, bands, survival, signals, CSM view,
    leak check."""
    from vitalsign.analytics.backtest import EVALUATE_STAGES, run_backtest
    from vitalsign.analytics.history import history_from_scored
    from vitalsign.analytics.progress import progress_steps
    from vitalsign.engine.backends import connect_engine
    from vitalsign.engine.run import backfill, compute_scores
    from vitalsign.engine.snapshots import snapshot_dates
    from vitalsign.store.workspace import open_workspace

    if outcome not in ("churned", "expanded", "contracted"):
        raise VitalsignError(f"--outcome {outcome!r}: use churned, expanded or contracted")
    if outcome != "churned" and html is not None:
        raise VitalsignError("--html reports churn backtests; leave it out with --outcome")
    ws = open_workspace(workspace)
    if html is not None:  # refused before hours of work, not after
        html = check_output_path(html, "html", "--html", ws, force)
    loaded = ws.load_model(model)
    dates = date_list(from_, to, every)
    stored = snapshot_dates(ws.duckdb, loaded.name)
    observed = print_data_end(ws.duckdb, until, json_)
    if dates is None and not stored:  # like for like: the active model's snapshot dates
        from vitalsign.analytics.backfill_dates import backfill_plan

        cut = until_moment(until)
        end = (cut or observed.to_pydatetime()).date()
        dates, why = backfill_plan(ws, loaded, end, None if cut is None else cut.date())
        Console(stderr=True).print(why, highlight=False, soft_wrap=True)
    if dates is not None and not rescore:  # the backfill draws its own bar
        backfill(ws, dates, loaded, show_progress=not json_)
    if outcome != "churned":
        from vitalsign.analytics.expansion_report import growth_command

        share = share_pairs([f"change={min_change}"], "--min-change")["change"]
        horizon_days = parse_days_option(horizon, "--horizon")
        rescored = dates or stored if rescore else None
        growth_command(ws, loaded, outcome, horizon_days, share, score, bootstrap, seed,
                       until_moment(until), dates, rescored, json_)  # fmt: skip
        return
    stages = EVALUATE_STAGES + 2 + (html is not None)  # history (or re-score), outcomes, html
    with progress_steps("Backtest", stages, show=not json_) as step:
        history = None
        if rescore:
            days = dates or stored
            step(f"re-scoring {len(days)} dates under {loaded.name}")
            engine = connect_engine(ws)  # vitalsign.yml engine: (docs/scaling.md)
            history = history_from_scored(compute_scores(engine, loaded, days), loaded)
        report = run_backtest(
            ws,
            loaded,
            parse_days_option(horizon, "--horizon"),
            bootstrap,
            seed,
            until_moment(until),
            dates=dates,
            history=history,
            leak_dates=leak_dates,
            progress=step,
        )
        if html is not None:
            from vitalsign.analytics.html_report import write_html

            step("writing the HTML report")
            html = write_html(report, html, ws, force)
    if json_:
        emit_json({**report.to_dict(), **({"html_report": str(html)} if html else {})})
        return
    from vitalsign.analytics.renderables import backtest_renderable

    console.print(backtest_renderable(report))
    if html is not None:
        console.print(f"HTML report: {html}", highlight=False, soft_wrap=True)


def calibrate(
    horizon: HorizonOption = "90d",
    model: ModelOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Proposed model file, relative to the current folder (default: "
            "MODEL.proposed.yml next to the model); an earlier proposal is replaced.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace an existing output file that is not an earlier proposal."
        ),
    ] = False,
    test_share: Annotated[
        float,
        typer.Option(
            "--test-share", help="Share of the latest snapshot dates held out for testing."
        ),
    ] = 0.33,
    split: Annotated[
        str | None,
        typer.Option(
            "--split", help="Test on snapshots from this date on (instead of --test-share)."
        ),
    ] = None,
    band_share: Annotated[
        list[str] | None,
        typer.Option(
            "--band-share", help="BAND=SHARE of accounts a band should hold, e.g. red=0.1."
        ),
    ] = None,
    band_rate: Annotated[
        list[str] | None,
        typer.Option(
            "--band-rate", help="BAND=RATE: lowest churn rate a band should have, e.g. red=0.3."
        ),
    ] = None,
    alert_share: Annotated[
        float | None,
        typer.Option(
            "--alert-share", help="Share of accounts in the worst band (the alert volume)."
        ),
    ] = None,
    flat: Annotated[
        bool, typer.Option("--flat", help="One group per scorecard instead of keeping the groups.")
    ] = False,
    reverse: Annotated[
        bool,
        typer.Option("--reverse", help="Reverse the scales of signals that point the wrong way."),
    ] = False,
    holdout_accounts: Annotated[
        float,
        typer.Option(
            "--holdout-accounts",
            help="Share of accounts kept out of everything (fitting, folds, bands) and scored "
            "once by the final model as a last check, e.g. 0.2.",
        ),
    ] = 0.0,
    by_segment: Annotated[
        str | None,
        typer.Option(
            "--by-segment",
            help="Account column (e.g. segment): fit the default scorecard per value with at "
            "least 50 churned and 50 other training rows; smaller ones keep the portfolio's.",
        ),
    ] = None,
    learn_scales: Annotated[
        bool,
        typer.Option(
            "--learn-scales",
            help="Also learn the points: categorical maps from each category's churn rate "
            "(shrunk towards the mean) and monotone thresholds or piecewise-linear curves for "
            "linear and thresholds scales, on the training rows only, each kept where it "
            "predicts churn better than the model's own scale out of fold within those rows; "
            "the weights are fitted on the learned points.",
        ),
    ] = False,
    json_: JsonOption = False,
    until: UntilOption = None,
    bootstrap: BootstrapOption = 200,
    seed: SeedOption = 0,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Propose weights and band thresholds from the outcomes, validated out of sample."""
    from vitalsign.analytics.calibrate import calibrate as run_calibrate
    from vitalsign.analytics.calibrate import proposal_path
    from vitalsign.store.workspace import open_workspace

    if not 0 <= holdout_accounts < 1:
        raise VitalsignError(
            f"--holdout-accounts {holdout_accounts}: give a share between 0 and 1, e.g. 0.2"
        )
    ws = open_workspace(workspace)
    loaded = ws.load_model(model)
    output = check_output_path(proposal_path(output, loaded, ws), "model", "--output", ws, force)
    shares = share_pairs(band_share, "--band-share")
    rates = share_pairs(band_rate, "--band-rate")
    if alert_share is not None:
        if not 0 < alert_share < 1:
            raise VitalsignError(f"--alert-share {alert_share}: give a share between 0 and 1")
        shares[loaded.spec.band_names[-1]] = alert_share
    if shares and rates:
        raise VitalsignError(
            "give band shares (--band-share/--alert-share) or --band-rate, not both"
        )
    unknown = (set(shares) | set(rates)) - set(loaded.spec.band_names[1:])
    if unknown:
        raise VitalsignError(
            f"unknown band {sorted(unknown)}: give shares or rates for "
            f"{loaded.spec.band_names[1:]} (the best band holds the rest)"
        )
    if shares and len(shares) < len(loaded.spec.band_names) - 1:
        from vitalsign.analytics.bands import band_shares
        from vitalsign.analytics.history import read_history

        old = band_shares(
            read_history(ws.duckdb, loaded).scores["computed_band"], loaded.spec.band_names
        )
        shares = {**{b: old[b] for b in loaded.spec.band_names[1:]}, **shares}
    result = run_calibrate(
        ws,
        loaded,
        parse_days_option(horizon, "--horizon"),
        test_share,
        parse_date(split, "--split"),
        shares or None,
        rates or None,
        flat,
        reverse,
        output,
        bootstrap,
        seed,
        until_moment(until),
        force=force,
        holdout_share=holdout_accounts,
        by_segment=by_segment,
        learn_scales=learn_scales,
    )
    if json_:
        emit_json(result.to_dict())
        return
    from vitalsign.analytics.renderables import calibration_renderable

    console.print(calibration_renderable(result))


def diff(
    model_a: Annotated[Path, typer.Argument(help="The current model file.")],
    model_b: Annotated[Path, typer.Argument(help="The candidate model file.")],
    horizon: HorizonOption = "90d",
    from_: FromOption = None,
    to: ToOption = None,
    every: EveryOption = "7d",
    json_: JsonOption = False,
    until: UntilOption = None,
    bootstrap: BootstrapOption = 200,
    seed: SeedOption = 0,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Re-score history under two models and compare: AUC, band moves, accounts affected."""
    from vitalsign.analytics.diff import DIFF_STAGES, diff_models
    from vitalsign.analytics.progress import progress_steps
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    a, b = ws.load_model(model_a), ws.load_model(model_b)
    with progress_steps("Diff", DIFF_STAGES, show=not json_) as step:
        result = diff_models(
            ws,
            a,
            b,
            date_list(from_, to, every),
            parse_days_option(horizon, "--horizon"),
            bootstrap,
            seed,
            until_moment(until),
            progress=step,
        )
    if json_:
        emit_json(result.to_dict())
        return
    from vitalsign.analytics.renderables import comparison_renderable

    console.print(comparison_renderable(result))


def register(app: typer.Typer) -> None:
    """Add backtest, calibrate, diff and outcomes to the CLI."""
    from vitalsign.analytics.outcome_commands import outcomes

    app.command()(backtest)
    app.command()(calibrate)
    app.command()(diff)
    app.command()(outcomes)
