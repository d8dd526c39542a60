"""The profile of a model against the data, as a Rich table and finding lines for `check`."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from vitalsign.engine.profile import ModelProfile

_STYLES = {"error": "red", "warning": "yellow"}


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4g}"


def profile_renderable(profile: ModelProfile) -> RenderableType:
    """The per-signal table (accounts with a value, observed percentiles, points) and findings.

    >>> console.print(profile_renderable(profile))  # doctest: +SKIP
    """
    table = Table(
        title=f"Signals as of {profile.as_of} over {profile.accounts} accounts",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("signal", no_wrap=True)
    table.add_column("table", no_wrap=True)
    for column in ("with value", "p5", "p50", "p95", "points"):
        table.add_column(column, justify="right")
    for signal in profile.signals:
        share = f"{signal.with_value} ({signal.share:.0%})"
        table.add_row(
            signal.name if signal.scored else Text(signal.name, style="dim"),
            ", ".join(signal.tables) or "—",
            Text(share, style="red" if signal.with_value == 0 else ""),
            _number(signal.percentiles.get(5)),
            _number(signal.percentiles.get(50)),
            _number(signal.percentiles.get(95)),
            _number(signal.points.get(50)),
        )
    lines: list[RenderableType] = [
        table,
        Text(
            "with value: accounts with a value; p5/p50/p95: observed percentiles; points: "
            "median points (unscored signals dimmed)",
            style="dim",
        ),
    ]
    if profile.gate_missing is not None:
        lines.append(
            Text(
                f"gate not evaluated for {profile.accounts} of {profile.accounts} accounts: "
                f"{profile.gate_missing} (no verdict: every account passes it)"
            )
        )
    elif profile.gate_pass is not None:
        lines.append(Text(f"gate passes for {profile.gate_pass} of {profile.accounts} accounts"))
    for name, count in profile.flags_raised.items():
        lines.append(Text(f"flag {name} is raised on {count} of {profile.accounts} accounts"))
    for finding in profile.findings:
        lines.append(Text(finding.line(), style=_STYLES[finding.severity]))
    if not profile.findings:
        lines.append(Text("The model fits the data: no finding.", style="green"))
    return Group(*lines)
