"""Plotly figures as plain dicts (data + layout), drawn in the page by the bundled plotly.js.

Building `plotly.graph_objects.Figure`s validates every property and costs tens of
milliseconds per chart; the account page must answer in a few, so figures are written as the
JSON plotly.js reads. `templates/_chart.html` turns one into a `Plotly.newPlot` call.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from vitalsign.engine.explain import Explanation
from vitalsign.engine.why import Why

Figure = dict[str, Any]

NAMED_COLOURS = {
    "green": "#2e9e5b",
    "yellow": "#e0b000",
    "amber": "#e08a00",
    "orange": "#e07000",
    "red": "#d64541",
    "promoter": "#2e9e5b",
    "neutral": "#e0b000",
    "at-risk": "#d64541",
    "at_risk": "#d64541",
}
INSUFFICIENT_COLOUR = "#9aa3ad"
_RAMP = ["#2e9e5b", "#8cbf3f", "#e0b000", "#e07000", "#d64541"]
_BASE_LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 32, "b": 40},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "hovermode": "closest",
}


def band_colours(band_order: Sequence[str], insufficient: str) -> dict[str, str]:
    """Return a colour per band: known names keep their colour, others follow a green→red ramp."""
    colours: dict[str, str] = {}
    scored = [b for b in band_order if b != insufficient]
    for i, band in enumerate(scored):
        ramp = _RAMP[round(i * (len(_RAMP) - 1) / max(len(scored) - 1, 1))]
        colours[band] = NAMED_COLOURS.get(band.lower(), ramp)
    colours[insufficient] = INSUFFICIENT_COLOUR
    return colours


def _layout(**extra: Any) -> dict[str, Any]:
    return {**_BASE_LAYOUT, **extra}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def history_figure(history: list[dict[str, Any]], colours: dict[str, str]) -> Figure:
    """Score over time, markers coloured by band, with a dashed line where the model changed.

    `history` rows have snapshot_date, score, band, computed_band and model_hash, oldest first.
    """
    dates = [_iso(r["snapshot_date"]) for r in history]
    scores = [_number(r["score"]) for r in history]
    bands = [str(r["band"]) for r in history]
    texts = [
        b if b == r["computed_band"] else f"{b} (override; computed {r['computed_band']})"
        for b, r in zip(bands, history, strict=True)
    ]
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "x": dates,
        "y": scores,
        "text": texts,
        "name": "score",
        "line": {"color": "#4a6fa5", "width": 2},
        "marker": {"color": [colours.get(b, INSUFFICIENT_COLOUR) for b in bands], "size": 8},
        "hovertemplate": "%{x}<br>score %{y:.1f}<br>%{text}<extra></extra>",
    }
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    hashes = [r["model_hash"] for r in history]
    for i in range(1, len(hashes)):
        if hashes[i] != hashes[i - 1]:
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": dates[i],
                    "x1": dates[i],
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#6b4fa5", "dash": "dash", "width": 1.5},
                }
            )
            annotations.append(
                {
                    "x": dates[i],
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "yanchor": "bottom",
                    "text": f"model {str(hashes[i])[:8]}",
                    "showarrow": False,
                    "font": {"color": "#6b4fa5", "size": 11},
                }
            )
    layout = _layout(
        height=300,
        yaxis={"range": [0, 100], "title": {"text": "score"}},
        xaxis={"type": "date"},
        shapes=shapes,
        annotations=annotations,
        showlegend=False,
    )
    return {"data": [trace], "layout": layout}


LOSS_COLOUR = "#d64541"
GAIN_COLOUR = "#4a6fa5"


def _waterfall(
    labels: list[str], values: list[float], measures: list[str], number: str, min_height: int
) -> Figure:
    """A horizontal waterfall of points, top to bottom, its total dark (`number`: a d3 format)."""
    trace = {
        "type": "waterfall",
        "orientation": "h",
        "y": labels,
        "x": values,
        "measure": measures,
        "connector": {"line": {"color": "#c5ccd3"}},
        "increasing": {"marker": {"color": GAIN_COLOUR}},
        "decreasing": {"marker": {"color": LOSS_COLOUR}},
        "totals": {"marker": {"color": "#2f3b48"}},
        "hovertemplate": f"%{{y}}: %{{x:{number}}}<extra></extra>",
    }
    layout = _layout(
        height=max(min_height, 26 * len(labels) + 60),
        margin={"l": 230, "r": 16, "t": 16, "b": 32},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"title": {"text": "points"}},
        showlegend=False,
    )
    return {"data": [trace], "layout": layout}


def waterfall_figure(explanation: Explanation) -> Figure:
    """Signal contributions grouped by group, then flags and gate, ending at the score."""
    signals = sorted(explanation.signals, key=lambda s: (s.path, -s.contribution))
    labels = [f"{s.path} · {s.name}" for s in signals]
    values: list[float] = [round(s.contribution, 2) for s in signals]
    measures = ["relative"] * len(signals)
    base = explanation.base_score
    final = explanation.score
    if base is not None and final is not None and abs(final - base) > 1e-9:
        flags = ", ".join(explanation.flags)
        step = "gate failed" if not explanation.gate_pass else f"flags: {flags}"
        labels.append(step)
        values.append(round(final - base, 2))
        measures.append("relative")
    labels.append("score")
    values.append(round(final if final is not None else sum(values), 2))
    measures.append("total")
    return _waterfall(labels, values, measures, ".2f", min_height=220)


def losses_figure(why: Why) -> Figure:
    """What each signal loses (red, to the left) and contributes (blue), largest loss on top."""
    lines = [s for s in why.losses if s.weight > 0]
    labels = [f"{s.name} · {s.path}" for s in lines]
    hover = [
        f"raw {'missing' if s.raw is None else s.raw}, {0.0 if s.points is None else s.points:.0f}"
        f" points, weight {s.weight:.1%}"
        for s in lines
    ]
    common = {"type": "bar", "orientation": "h", "y": labels, "customdata": hover}
    traces = [
        {
            **common,
            "name": "loses",
            "x": [-round(s.loss, 2) for s in lines],
            "marker": {"color": LOSS_COLOUR},
            "hovertemplate": "%{y}: loses %{x:.2f}<br>%{customdata}<extra></extra>",
        },
        {
            **common,
            "name": "contributes",
            "x": [round(s.contribution, 2) for s in lines],
            "marker": {"color": GAIN_COLOUR},
            "hovertemplate": "%{y}: contributes %{x:.2f}<br>%{customdata}<extra></extra>",
        },
    ]
    layout = _layout(
        height=max(220, 24 * len(labels) + 70),
        barmode="relative",
        margin={"l": 230, "r": 16, "t": 36, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"title": {"text": "points (lost ← → contributed)"}, "zeroline": True},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return {"data": traces, "layout": layout}


def changes_figure(explanation: Explanation) -> Figure:
    """What changed since the earlier snapshot: a waterfall from its score to today's.

    Each signal's change of contribution is a step (red when it fell); what the gate and the
    flags changed is the step that remains, so the steps end at the score.
    """
    before = explanation.score_before or 0.0
    after = explanation.score or 0.0
    moved = [c for c in explanation.changes if abs(c.delta) >= 0.005]
    labels = [f"score on {explanation.since}"] + [c.name for c in moved]
    values = [round(before, 2)] + [round(c.delta, 2) for c in moved]
    measures = ["absolute"] + ["relative"] * len(moved)
    rest = after - before - sum(c.delta for c in moved)
    if abs(rest) >= 0.005:
        labels.append("gate and flags" if explanation.gate_before is not None else "other")
        values.append(round(rest, 2))
        measures.append("relative")
    labels.append(f"score on {explanation.as_of}")
    values.append(round(after, 2))
    measures.append("total")
    return _waterfall(labels, values, measures, "+.2f", min_height=200)


def band_bars_figure(bands: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Two bars per band: share of accounts and share of ARR."""
    traces = [
        {
            "type": "bar",
            "x": ["accounts", "ARR"],
            "y": [float(share) * 100, float(arr_share) * 100],
            "name": str(band),
            "marker": {"color": colours.get(str(band), INSUFFICIENT_COLOUR)},
            "hovertemplate": f"{band}: %{{y:.1f}}%<extra></extra>",
        }
        for band, share, arr_share in zip(
            bands["band"], bands["account_share"], bands["arr_share"], strict=True
        )
    ]
    layout = _layout(
        height=260, barmode="stack", yaxis={"title": {"text": "% of total"}, "range": [0, 100]}
    )
    return {"data": traces, "layout": layout}


def trend_figure(trend: pd.DataFrame, band_order: Sequence[str], colours: dict[str, str]) -> Figure:
    """Stacked share of accounts per band over the snapshot dates."""
    traces = []
    for band in band_order:
        rows = trend[trend["band"] == band]
        if rows.empty:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "bands",
                "groupnorm": "percent",
                "name": band,
                "x": [_iso(d) for d in rows["snapshot_date"]],
                "y": [int(v) for v in rows["accounts"]],
                "line": {"color": colours.get(band, INSUFFICIENT_COLOUR), "width": 1},
                "hovertemplate": f"{band}: %{{y}} accounts<extra></extra>",
            }
        )
    layout = _layout(height=280, yaxis={"title": {"text": "% of accounts"}}, xaxis={"type": "date"})
    return {"data": traces, "layout": layout}


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(pd.Timestamp(value).date())
