"""Plain-text renderings of explanations and portfolio reports, for the terminal."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.table import Table

from vitalsign.analytics.portfolio import PortfolioReport
from vitalsign.engine.explain import Explanation
from vitalsign.engine.why import ConditionResult, Why


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _raw(value: str | None) -> str:
    """Show a raw value compactly: numbers to 4 significant digits, text as is."""
    if value is None:
        return "missing"
    try:
        number = float(value)
    except ValueError:
        return value if len(value) <= 40 else value[:39] + "…"
    return f"{number:.4g}" if not number.is_integer() else str(int(number))


def to_text(renderable: RenderableType, width: int = 110) -> str:
    """Render a Rich renderable to plain text."""
    console = Console(width=width, record=True, file=None, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def explanation_renderable(
    e: Explanation,
    gate_missing: str | None = None,
    show: Callable[[str, str | None], str] | None = None,
) -> RenderableType:
    """Return the explanation of one account as Rich tables (`gate_missing`: not evaluated).

    `show` writes a signal's raw value in its unit (`Why.show`); plain numbers without it.
    """
    shown = show or (lambda _, value: _raw(value))
    title = f"{e.account_id} {e.name or ''} — {e.as_of} — model {e.model_name} ({e.model_hash})"
    band = (
        e.band if e.band == e.computed_band else f"{e.band} (override; computed {e.computed_band})"
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("score", _fmt(e.score), "band", band)
    head.add_row("before gate and flags", _fmt(e.base_score), "coverage", f"{e.coverage:.0%}")
    head.add_row(
        "gate",
        f"not evaluated: {gate_missing}"
        if gate_missing and e.gate_pass
        else ("passed" if e.gate_pass else "FAILED (score 0)"),
        "flags",
        ", ".join(e.flags) or "none",
    )
    groups = Table(title="Groups", title_justify="left")
    for column in ("group", "points", "weight", "contribution"):
        groups.add_column(column, justify="left" if column == "group" else "right")
    for g in e.groups:
        groups.add_row(g.path, _fmt(g.points), f"{g.weight:.0%}", _fmt(g.contribution, 2))
    signals = Table(title="Signals (largest contribution first)", title_justify="left")
    for column in ("signal", "group", "raw value", "points", "weight", "contribution"):
        signals.add_column(column, justify="left" if column in ("signal", "group") else "right")
    for s in e.signals:
        signals.add_row(
            s.name, s.path, _raw(s.raw), _fmt(s.points), f"{s.weight:.1%}", _fmt(s.contribution, 2)
        )
    parts: list[RenderableType] = [title, head, groups, signals]
    if e.since is not None:
        delta = None if e.score is None or e.score_before is None else e.score - e.score_before
        parts.append(
            f"Since {e.since}: score {_fmt(e.score_before)} → {_fmt(e.score)} "
            f"({'+' if (delta or 0) >= 0 else ''}{_fmt(delta)}), band {e.band_before} → {e.band}"
        )
        if e.flags != e.flags_before:
            parts.append(f"flags {e.flags_before or 'none'} → {e.flags or 'none'}")
        if e.gate_before != e.gate_pass:
            parts.append(
                f"gate {'passed' if e.gate_before else 'failed'} → "
                f"{'passed' if e.gate_pass else 'failed'}"
            )
        changes = Table(title="What changed (by contribution, largest first)", title_justify="left")
        for column in ("signal", "raw before", "raw now", "contribution before", "now", "change"):
            changes.add_column(column, justify="left" if column == "signal" else "right")
        for c in e.changes:
            if abs(c.delta) < 0.005 and c.raw_before == c.raw_after:
                continue
            changes.add_row(
                c.name,
                shown(c.name, c.raw_before),
                shown(c.name, c.raw_after),
                _fmt(c.contribution_before, 2),
                _fmt(c.contribution_after, 2),
                f"{c.delta:+.2f}",
            )
        parts.append(changes)
    return Group(*parts)


def _condition(c: ConditionResult, w: Why) -> str:
    values = ", ".join(f"{k} = {w.show(k, v)}" for k, v in c.values.items())
    if c.kind == "gate" and c.missing is not None:
        return f"Gate {c.name}: not evaluated: {c.missing}: {c.when}"
    if c.kind == "gate":
        head = f"Gate {c.name}: {'passed' if c.holds else 'FAILED (score 0)'}: {c.when}"
    else:
        effects = [f"−{c.subtract:g} points"] if c.subtract else []
        effects += [f"caps the band at {c.cap_band}"] if c.cap_band else []
        head = f"Flag {c.name} fired ({', '.join(effects) or 'recorded'}): {c.when}"
    fix = "" if c.fix is None else f"; {'opens' if c.kind == 'gate' else 'clears'} when {c.fix}"
    clears = "" if c.clears is None else f"; {c.clears}"
    about = f" — {c.description}" if c.kind == "flag" and c.description else ""
    return f"{head} ({values or 'no values'}){fix}{clears}{about}"


def why_renderable(w: Why) -> RenderableType:
    """Return an account's explanation, losses first, with its gate, flags and next band."""
    e = w.explanation
    parts: list[RenderableType] = []
    explained = explanation_renderable(e, None if w.gate is None else w.gate.missing, w.show)
    assert isinstance(explained, Group)
    title, head = explained.renderables[:2]
    parts += [title, head]
    if w.gate is not None and (not w.gate.holds or w.gate.missing is not None):
        parts.append(_condition(w.gate, w))
    parts += [_condition(f, w) for f in w.flags]
    nb = w.next_band
    parts.append(f"What it would take: {nb.summary()}")
    parts += [f"  not a target: {j}" for j in nb.judgements]
    parts += [f"note: {n}" for n in w.notes]
    groups = Table(
        title="Groups (weights within their parent add up to 100%)", title_justify="left"
    )
    for column in ("group", "points", "weight in parent", "of the score", "loses", "contributes"):
        groups.add_column(column, justify="left" if column == "group" else "right")
    for g in w.groups:
        groups.add_row(
            "  " * g.depth + g.name,
            _fmt(g.points),
            f"{g.share:.0%}",
            f"{g.weight:.1%}",
            _fmt(g.loss, 2),
            _fmt(g.contribution, 2),
        )
    signals = Table(title="Signals (largest loss first)", title_justify="left")
    for column in ("signal", "group", "raw value", "points", "weight", "loses", "contributes"):
        signals.add_column(column, justify="left" if column in ("signal", "group") else "right")
    for s in w.losses:
        signals.add_row(
            s.name,
            s.path,
            w.show(s.name, s.raw),
            _fmt(s.points),
            f"{s.weight:.1%}",
            _fmt(s.loss, 2),
            _fmt(s.contribution, 2),
        )
    parts += [groups, signals]
    parts += list(explained.renderables[4:])  # what changed since a date, if asked
    return Group(*parts)


def report_renderable(r: PortfolioReport) -> RenderableType:
    """Return the portfolio report as Rich tables."""
    bands = Table(title=f"Bands on {r.as_of} ({r.total_accounts} accounts)", title_justify="left")
    for column in ("band", "accounts", "share", "ARR", "ARR share"):
        bands.add_column(column, justify="left" if column == "band" else "right")
    for row in r.bands.itertuples(index=False):
        bands.add_row(
            str(row.band),
            str(row.accounts),
            f"{row.account_share:.0%}",
            f"${row.arr:,.0f}",
            f"{row.arr_share:.0%}",
        )
    parts: list[RenderableType] = [f"Portfolio — model {r.model_name}", r.headline, bands]
    for title, frame, key in (
        ("By segment", r.by_segment, "segment"),
        ("By owner", r.by_owner, "owner"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column(key)
        for band in r.band_order:
            table.add_column(band, justify="right")
        table.add_column("ARR at risk", justify="right")
        for name, rows in frame.groupby(key, sort=True):
            counts = dict(zip(rows["band"], rows["accounts"], strict=True))
            risk = float(rows.loc[rows["band"] == r.at_risk_band, "arr"].sum())
            table.add_row(
                str(name), *[str(counts.get(b, 0)) for b in r.band_order], f"${risk:,.0f}"
            )
        parts.append(table)
    if r.previous is not None:
        movers = Table(title=f"Biggest movers since {r.previous}", title_justify="left")
        for column in ("account", "name", "owner", "score", "change", "band"):
            movers.add_column(column, justify="right" if column in ("score", "change") else "left")
        for m in r.movers.itertuples(index=False):
            movers.add_row(
                str(m.account_id),
                str(m.name),
                str(m.owner),
                f"{m.previous_score:.1f} → {m.score:.1f}",
                f"{m.delta:+.1f}",
                f"{m.previous_band} → {m.band}",
            )
        parts.append(movers)
    else:
        parts.append("No earlier snapshot: movers appear after the next scoring run.")
    if len(r.overrides):
        overrides = Table(title="Band overrides in force", title_justify="left")
        for column in ("account", "name", "owner", "score", "band"):
            overrides.add_column(column, justify="right" if column == "score" else "left")
        for o in r.overrides.to_dict("records"):
            score = o["score"]
            overrides.add_row(
                str(o["account_id"]),
                str(o["name"]),
                str(o["owner"]),
                _fmt(None if score is None or score != score else float(score)),
                f"{o['band']} (override; computed {o['computed_band']})",
            )
        parts.append(overrides)
    parts.append(
        f"Insufficient data: {len(r.insufficient)} accounts"
        + (
            ": " + ", ".join(r.insufficient["account_id"].astype(str).head(10))
            if len(r.insufficient)
            else ""
        )
        + (" …" if len(r.insufficient) > 10 else "")
    )
    return Group(*parts)
