"""CLI commands of the analytics part: backtest, calibrate, diff, outcomes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vitalsign.errors import VitalsignError
from vitalsign.store.output_paths import check_output_path

console = Console()

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="VITALSIGN_WORKSPACE", help="Workspace folder."),
]
ModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Model file (default: the workspace's).")
]
HorizonOption = Annotated[
    str, typer.Option("--horizon", help="Churn within this long after a snapshot, e.g. 90d.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
FromOption = Annotated[str | None, typer.Option("--from", help="First date to score.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last date to score (included).")]
EveryOption = Annotated[str, typer.Option("--every", help="Step between dates, e.g. 7d.")]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End of the observed data (default: the latest event, ticket, invoice or "
        "subscription start; never a scheduled period end).",
    ),
]
BootstrapOption = Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Bootstrap random seed.")]


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise VitalsignError(f"{option} {text!r} is not a date (use YYYY-MM-DD)") from exc


def _moment(text: str | None) -> dt.datetime | None:
    day = _date(text, "--until")
    if day is not None and day > dt.date.today():
        raise VitalsignError(
            f"--until {day} is in the future: the data cannot end after today, and every "
            "period scheduled to end before it would count as a churn; pass the day your "
            "data ends (or leave --until out to take it from the data)"
        )
    return None if day is None else dt.datetime.combine(day, dt.time())


def _days(text: str, option: str) -> int:
    from vitalsign.model.spec import parse_days

    try:
        return parse_days(text)
    except ValueError as exc:
        raise VitalsignError(f"{option} {exc}") from exc


def _dates(start: str | None, end: str | None, every: str) -> list[dt.date] | None:
    from vitalsign.engine.run import date_range

    if start is None and end is None:
        return None
    first, last = _date(start, "--from"), _date(end, "--to")
    if first is None or last is None:
        raise VitalsignError("give both --from and --to (and optionally --every)")
    return date_range(first, last, _days(every, "--every"))


def _pairs(items: list[str] | None, option: str) -> dict[str, float]:
    pairs: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        text = value.strip()
        try:
            number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            number = -1.0
        if not sep or not 0 <= number <= 1:
            raise VitalsignError(f"{option} {item!r}: use BAND=SHARE, e.g. red=0.1 or red=10%")
        pairs[name.strip()] = number
    return pairs


def _emit(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


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
    dates = _dates(from_, to, every)
    stored = snapshot_dates(ws.duckdb, loaded.name)
    observed = _print_data_end(ws.duckdb, until, json_)
    if dates is None and not stored:
        end = (_moment(until) or observed.to_pydatetime()).date()
        dates = [end - dt.timedelta(weeks=w) for w in range(52, 0, -1)]
        Console(stderr=True).print(
            f"No stored snapshots of {loaded.name}: backfilling 52 weekly dates to {dates[-1]}"
        )
    if dates is not None and not rescore:  # the backfill draws its own bar
        backfill(ws, dates, loaded, show_progress=not json_)
    if outcome != "churned":
        from vitalsign.analytics.expansion_report import growth_command

        share = _pairs([f"change={min_change}"], "--min-change")["change"]
        growth_command(ws, loaded, outcome, _days(horizon, "--horizon"), share, score, bootstrap,
                       seed, _moment(until), dates, dates or stored if rescore else None,
                       json_)  # fmt: skip
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
            _days(horizon, "--horizon"),
            bootstrap,
            seed,
            _moment(until),
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
        _emit({**report.to_dict(), **({"html_report": str(html)} if html else {})})
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
            "(shrunk towards the mean) and monotone thresholds for linear and thresholds "
            "scales, on the training rows only; the weights are fitted on the learned points.",
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
    shares = _pairs(band_share, "--band-share")
    rates = _pairs(band_rate, "--band-rate")
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
        _days(horizon, "--horizon"),
        test_share,
        _date(split, "--split"),
        shares or None,
        rates or None,
        flat,
        reverse,
        output,
        bootstrap,
        seed,
        _moment(until),
        force=force,
        holdout_share=holdout_accounts,
        by_segment=by_segment,
        learn_scales=learn_scales,
    )
    if json_:
        _emit(result.to_dict())
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
            _dates(from_, to, every),
            _days(horizon, "--horizon"),
            bootstrap,
            seed,
            _moment(until),
            progress=step,
        )
    if json_:
        _emit(result.to_dict())
        return
    from vitalsign.analytics.renderables import comparison_renderable

    console.print(comparison_renderable(result))


def outcomes(
    derive: Annotated[
        bool, typer.Option("--derive", help="Derive outcomes from subscriptions.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Store the derived outcomes in the outcomes table.")
    ] = False,
    grace: Annotated[
        str,
        typer.Option("--grace", help="Gap between subscriptions that still counts as a renewal."),
    ] = "30d",
    until: UntilOption = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Show the outcomes a backtest uses, or derive them from subscriptions (and store them)."""
    import pandas as pd

    from vitalsign.analytics.outcomes import (
        derive_outcomes,
        pending_churns,
        read_outcomes,
        write_outcomes,
    )
    from vitalsign.store.workspace import open_workspace

    ws = open_workspace(workspace)
    end = _moment(until)
    grace_days = _days(grace, "--grace")
    stop = _print_data_end(ws.duckdb, until, json_)
    if derive or write:
        frame = derive_outcomes(ws.duckdb, stop, grace_days)
        source = "derived from subscriptions"
        pending = len(pending_churns(ws.duckdb, stop, grace_days))
    else:
        result = read_outcomes(ws.duckdb, end, grace_days)
        frame, source, pending = result.frame, result.source, len(result.pending)
    counts = {str(k): int(v) for k, v in frame["kind"].value_counts().items()}
    stored = write_outcomes(ws.duckdb, frame) if write else 0
    if json_:
        _emit(
            {
                "source": source,
                "data_end": pd.Timestamp(stop).isoformat(),
                "counts": counts,
                "pending": pending,
                "written": stored,
            }
        )
        return
    shown = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
    console.print(f"Outcomes ({source}): {shown}")
    if pending:
        console.print(
            f"{pending} tenure{'s' if pending != 1 else ''} ended less than {grace_days} days "
            f"before {pd.Timestamp(stop):%Y-%m-%d}: not counted as churn yet (a backtest leaves "
            "out the snapshots whose horizon reaches them as too recent)"
        )
    if write:
        console.print(f"Stored {stored} new rows in the outcomes table")


def _print_data_end(connection: Any, until: str | None, quiet: bool = False) -> Any:
    """Print (on stderr) where the data ends and warn when the tables disagree; return it.

    With `quiet` (--json) only the warning is printed.
    """
    import pandas as pd

    from vitalsign.store.data_end import data_end

    err = Console(stderr=True)
    given = _moment(until)
    if given is not None:
        if not quiet:
            err.print(f"Data ends {given:%Y-%m-%d %H:%M} (--until)", highlight=False)
        return pd.Timestamp(given)
    found = data_end(connection)
    if not quiet:
        err.print(found.summary(), highlight=False, soft_wrap=True)
    if found.warning:
        err.print(f"[bold red]Warning:[/] {found.warning}", highlight=False, soft_wrap=True)
    return found.at


def register(app: typer.Typer) -> None:
    """Add backtest, calibrate, diff and outcomes to the CLI."""
    app.command()(backtest)
    app.command()(calibrate)
    app.command()(diff)
    app.command()(outcomes)
