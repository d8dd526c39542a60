"""Learn signals' points from the outcomes: categorical maps and monotone thresholds scales.

`vitalsign calibrate --learn-scales` replaces, besides the weights, the points a person
guessed (docs/backtest.md, "Learned scales"):

- a **categorical** map gets each category's churn rate on the training rows, shrunk towards
  the mean rate by PRIOR_ROWS pseudo-rows (additive smoothing, the empirical-Bayes estimate
  of a beta prior centred on the mean): rate = (churned + PRIOR_ROWS × mean) / (rows +
  PRIOR_ROWS), so a category seen on 5 rows moves a fifth of the way from the mean, one seen
  on 500 rows nearly all the way. A value not in the map gets the mean rate (`default`);
- a **linear** or **thresholds** scale becomes a monotone thresholds scale: an isotonic
  regression (scikit-learn) of churn on the value in the direction of their rank correlation,
  its steps merged to at most MAX_STEPS breakpoints (each band holding MIN_BAND_SHARE of the
  rows or more), each band's rate shrunk as above and pooled again so it stays monotone;
  breakpoints are rounded to the roundest number between the two bands' values.

Rates become points on the model's scale (0–100, higher = healthier): the log-odds of
staying, stretched so the best category or band gets 100 and the worst 0. The weights are
then refitted on these points. Boolean and percentile scales are left as they are (a
boolean has two points already; a percentile ranks peers). Nothing here reads the test rows:
calibrate learns on the training rows, and again inside each account fold.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitalsign.engine.points import scale_points
from vitalsign.model.spec import (
    CategoricalScale,
    HealthModel,
    Knot,
    LinearScale,
    PiecewiseScale,
    ThresholdsScale,
    ThresholdStep,
)

Floats = npt.NDArray[np.float64]
PRIOR_ROWS = 20.0  # prior strength: pseudo-rows at the mean rate added to every category/band
MAX_STEPS = 4  # breakpoints of a learned thresholds scale (so at most 5 bands)
MAX_KNOTS = 8  # knots of a learned piecewise scale (one per band)
MIN_BAND_SHARE = 0.05  # each learned band holds at least this share of the rows with a value
MIN_ROWS = 50  # rows with a value a signal needs to have its scale learned
MIN_CHURNED = 10  # churned rows (and as many others) it needs too
LEARNABLE = (CategoricalScale, LinearScale, ThresholdsScale)


@dataclass(frozen=True)
class Level:
    """One category or band of a learned scale: its rows, shrunk churn rate and points."""

    label: str  # the category, or the value range of a band ("< 3", "3 to 10", "≥ 10")
    rows: int
    rate: float  # churn rate shrunk towards the mean
    points: float


@dataclass(frozen=True)
class LearnedScale:
    """A scale learned from the training rows, with what it was learned from."""

    signal: str
    scale: CategoricalScale | ThresholdsScale | PiecewiseScale
    rows: int
    accounts: int
    churned: int
    mean_rate: float
    levels: list[Level]
    better: Literal["higher", "lower"] | None = None  # thresholds: which values earn more
    replaced: str = ""  # the scale type it replaces
    chosen: str = ""  # the candidates' out-of-fold log-loss within the training rows

    def points(self, raw_value: pd.Series, raw_text: pd.Series) -> Floats:
        """Points of rows by this scale (NaN where the row has no value)."""
        if isinstance(self.scale, CategoricalScale):
            text = raw_text.astype(object)
            if text.isna().all() and raw_value.notna().any():
                return np.asarray(scale_points(raw_value, self.scale), dtype="float64")
            return np.asarray(scale_points(text, self.scale), dtype="float64")
        return np.asarray(scale_points(raw_value, self.scale), dtype="float64")

    def comment(self) -> str:
        """Say in a few short lines what the scale was learned from (for the model file)."""
        shown = ", ".join(  # one level is never split over two lines (\x1f: a kept space)
            f"{lv.label}: {_rate(lv.rate)} → {lv.points:.0f}".replace(" ", "\x1f")
            for lv in self.levels
        )
        how = (
            f"an isotonic fit, healthier when {self.better}; each band's"
            if self.better
            else "each category's"
        )
        knots = isinstance(self.scale, PiecewiseScale)
        if knots:
            how = (
                f"an isotonic fit, healthier when {self.better}, in bands; a knot at each "
                "band's median value, points linear between knots; each band's"
            )
        chosen = (
            f" Chosen over the {self.replaced} scale: learned out of fold within the training "
            "rows (5 inner folds), it lowered the log-loss of all the signals together (each "
            f"candidate's log-loss alone: {self.chosen})."
            if self.chosen
            else ""
        )
        text = (
            f"Learned by calibrate --learn-scales from {self.rows:,} rows ({self.accounts:,} "
            f"accounts; {self.churned:,} rows churned, {_rate(self.mean_rate)}), replacing a "
            f"{self.replaced} scale: {how} churn rate shrunk towards the mean with a prior of "
            f"{PRIOR_ROWS:.0f} rows.{chosen} "
            f"{'Knot (band): churn rate → points' if knots else 'Churn rate → points'}: {shown}."
        )
        lines = textwrap.wrap(text, 92, break_on_hyphens=False)
        return "\n".join(line.replace("\x1f", " ") for line in lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "signal": self.signal,
            "scale": self.scale.model_dump(mode="json", exclude_defaults=True),
            "replaced": self.replaced,
            "rows": self.rows,
            "accounts": self.accounts,
            "churned": self.churned,
            "mean_rate": round(self.mean_rate, 6),
            "prior_rows": PRIOR_ROWS,
            "better": self.better,
            "levels": [lv.__dict__ for lv in self.levels],
            "chosen_by_log_loss": self.chosen,
        }


def _rate(rate: float) -> str:
    """A churn rate for people: one decimal below 10 %, so 1.6 % and 2.4 % differ."""
    return f"{rate:.1%}" if rate < 0.1 else f"{rate:.0%}"


def shrunk_rate(churned: float, rows: float, mean: float, prior: float = PRIOR_ROWS) -> float:
    """A category's churn rate shrunk towards `mean` by `prior` pseudo-rows."""
    return (churned + prior * mean) / (rows + prior)


def rate_points(rates: Iterable[float]) -> list[float]:
    """Whole points 0–100 from churn rates: log-odds of staying, the lowest rate 100."""
    values = np.clip(np.asarray(list(rates), dtype="float64"), 1e-6, 1 - 1e-6)
    logit = np.log((1 - values) / values)
    low, high = float(logit.min()), float(logit.max())
    if high - low < 1e-12:
        return [50.0] * values.size
    return [float(round(100 * (v - low) / (high - low))) for v in logit]


def learn_categorical(
    keys: pd.Series, churned: Floats, prior: float = PRIOR_ROWS
) -> tuple[CategoricalScale, list[Level]] | None:
    """A categorical map from each category's shrunk churn rate; None with fewer than 2."""
    ok = keys.notna().to_numpy()
    frame = pd.DataFrame({"key": keys[ok].astype(str).to_numpy(), "y": churned[ok]})
    table = frame.groupby("key", sort=True)["y"].agg(["count", "sum"])
    if len(table) < 2:
        return None
    mean = float(frame["y"].mean())
    rates = [
        shrunk_rate(s, n, mean, prior) for n, s in zip(table["count"], table["sum"], strict=True)
    ]
    points = rate_points([*rates, mean])
    levels = [
        Level(str(k), int(n), r, p)
        for k, n, r, p in zip(table.index, table["count"], rates, points, strict=False)
    ]
    levels.sort(key=lambda lv: -lv.points)
    scale = CategoricalScale(
        type="categorical", map={lv.label: lv.points for lv in levels}, default=points[-1]
    )
    return scale, [*levels, Level("other values", 0, mean, points[-1])]


def _cost(a: list[float], b: list[float]) -> float:
    """Increase of the squared error when two blocks [rows, churned] share one rate (Ward)."""
    ra, rb = a[1] / a[0], b[1] / b[0]
    return a[0] * b[0] / (a[0] + b[0]) * (ra - rb) ** 2


def _join(blocks: list[list[float]], cuts: list[float], i: int) -> None:
    """Merge band i+1 into band i (blocks are [rows, churned]; the cut between them goes)."""
    right = blocks.pop(i + 1)
    blocks[i] = [blocks[i][0] + right[0], blocks[i][1] + right[1]]
    cuts.pop(i)


def nice_cut(low: float, high: float, unit: float = 0.0) -> float:
    """The roundest number in (low, high]: a breakpoint above `low` that `high` reaches.

    With `unit` > 0, a number finer than `unit` is replaced by the midpoint rounded to `unit`
    (a few training rows may then change band, for a file people can read).
    """
    if not high > low:
        raise ValueError(f"no number in ({low}, {high}]")
    top = math.floor(math.log10(max(abs(low), abs(high), 1e-12))) + 1
    for power in range(top, -10, -1):
        for step in (10.0**power, 5 * 10.0 ** (power - 1), 2 * 10.0 ** (power - 1)):
            if step < unit * (1 - 1e-9):
                return round(round((low + high) / 2 / unit) * unit, 10)
            cut = round(math.floor(high / step) * step, 10)
            if low < cut <= high:
                return cut
    return high


def _label(cut: float, next_cut: float, closed: bool = False) -> str:
    """A band's value range for people: "< 3", "3 to 10", "≥ 10" (`closed`: "3..9")."""
    if closed:
        return f"{cut:.3g}" if cut == next_cut else f"{cut:.3g}..{next_cut:.3g}"
    if math.isnan(cut):
        return f"< {next_cut:g}"
    if math.isnan(next_cut):
        return f"≥ {cut:g}"
    return f"{cut:g} to {next_cut:g}"


def _isotonic_blocks(
    x: Floats, y: Floats, increasing: bool
) -> tuple[list[list[float]], list[tuple[float, float]]]:
    """The isotonic fit's runs of equal rate: [rows, churned] and (first value, last value)."""
    from sklearn.isotonic import IsotonicRegression

    unique, inverse = np.unique(x, return_inverse=True)
    rows = np.bincount(inverse).astype("float64")
    churn = np.bincount(inverse, weights=y)
    fitted = IsotonicRegression(increasing=increasing).fit_transform(
        unique, churn / rows, sample_weight=rows
    )
    blocks: list[list[float]] = []
    spans: list[tuple[float, float]] = []
    for j, value in enumerate(unique):
        if blocks and math.isclose(fitted[j], fitted[j - 1], abs_tol=1e-12):
            blocks[-1] = [blocks[-1][0] + rows[j], blocks[-1][1] + churn[j]]
            spans[-1] = (spans[-1][0], float(value))
        else:
            blocks.append([float(rows[j]), float(churn[j])])
            spans.append((float(value), float(value)))
    return blocks, spans


def _direction(x: Floats, y: Floats) -> bool | None:
    """True when churn rises with the value (rank correlation), None when nothing to learn."""
    from scipy.stats import spearmanr  # type: ignore[import-untyped]

    if x.size < 2 or np.unique(x).size < 2 or y.min() == y.max():
        return None
    rho = float(spearmanr(x, y).statistic)
    if not math.isfinite(rho) or rho == 0:
        return None
    return rho > 0


def _merged_bands(
    x: Floats, y: Floats, increasing: bool, max_bands: int, min_share: float
) -> tuple[list[list[float]], list[tuple[float, float]]]:
    """The isotonic fit's runs merged, least-costly neighbours first, to at most `max_bands`
    bands of at least `min_share` of the rows: [rows, churned] and (first, last value)."""
    blocks, spans = _isotonic_blocks(x, y, increasing)
    cuts = [spans[i][0] for i in range(1, len(spans))]  # placeholders until the bands settle
    least = max(1.0, min_share * x.size)
    while len(blocks) > 1 and (len(blocks) > max_bands or min(b[0] for b in blocks) < least):
        small = [i for i, b in enumerate(blocks) if b[0] < least]
        pairs = [p for p in (small[0] - 1, small[0]) if 0 <= p < len(blocks) - 1] if small else (
            list(range(len(blocks) - 1))
        )  # fmt: skip
        i = min(pairs, key=lambda p: _cost(blocks[p], blocks[p + 1]))
        spans[i : i + 2] = [(spans[i][0], spans[i + 1][1])]
        _join(blocks, cuts, i)
    return blocks, spans


def learn_piecewise(
    values: Floats,
    churned: Floats,
    max_knots: int = MAX_KNOTS,
    prior: float = PRIOR_ROWS,
    min_share: float = MIN_BAND_SHARE,
) -> tuple[PiecewiseScale, list[Level], Literal["higher", "lower"]] | None:
    """A monotone piecewise-linear scale: a knot at each isotonic band's median value with
    the band's shrunk churn rate as points, linear in between (so values within a band still
    differ), or None."""
    ok = ~np.isnan(values)
    x, y = values[ok], churned[ok]
    increasing = _direction(x, y)
    if increasing is None:
        return None
    blocks, spans = _merged_bands(x, y, increasing, max_knots, min_share)
    mean, sign = float(y.mean()), 1.0 if increasing else -1.0
    i = 0
    while i < len(blocks) - 1:  # shrinking can break monotony: pool adjacent violators
        left, right = (shrunk_rate(b[1], b[0], mean, prior) for b in blocks[i : i + 2])
        if sign * (right - left) < 0:
            spans[i : i + 2] = [(spans[i][0], spans[i + 1][1])]
            _join(blocks, [0.0] * len(blocks), i)
            i = max(i - 1, 0)
        else:
            i += 1
    unit = 10.0 ** (math.floor(math.log10(float(x.max() - x.min()))) - 2)
    medians = [float(np.median(x[(x >= lo) & (x <= hi)])) for lo, hi in spans]
    at = [round(round(m / unit) * unit, 10) for m in medians]
    rates = [shrunk_rate(b[1], b[0], mean, prior) for b in blocks]
    keep = [i for i in range(len(at)) if i == 0 or at[i] > at[i - 1]]
    if len(keep) < 2:
        return None
    points = rate_points(rates[i] for i in keep)
    if len(set(points)) < 2:
        return None
    scale = PiecewiseScale(
        type="piecewise",
        knots=[Knot(value=at[i], points=p) for i, p in zip(keep, points, strict=True)],
    )
    levels = [
        Level(
            f"{at[i]:g} ({_label(spans[i][0], spans[i][1], True)})", int(blocks[i][0]), rates[i], p
        )
        for i, p in zip(keep, points, strict=True)
    ]
    return scale, levels, "lower" if increasing else "higher"


def learn_thresholds(
    values: Floats,
    churned: Floats,
    max_steps: int = MAX_STEPS,
    prior: float = PRIOR_ROWS,
    min_share: float = MIN_BAND_SHARE,
) -> tuple[ThresholdsScale, list[Level], Literal["higher", "lower"]] | None:
    """A monotone thresholds scale for churn by value (isotonic, binned, shrunk), or None."""
    ok = ~np.isnan(values)
    x, y = values[ok], churned[ok]
    increasing = _direction(x, y)
    if increasing is None:
        return None
    blocks, spans = _merged_bands(x, y, increasing, max_steps + 1, min_share)
    unit = 10.0 ** (math.floor(math.log10(float(x.max() - x.min()))) - 1)
    cuts = sorted({nice_cut(spans[i - 1][1], spans[i][0], unit) for i in range(1, len(spans))})
    band = np.searchsorted(np.asarray(cuts), x, side="right")  # the rows each band really holds
    blocks = [[float((band == b).sum()), float(y[band == b].sum())] for b in range(len(cuts) + 1)]
    for i in reversed(range(len(blocks))):
        if blocks[i][0] == 0:  # a rounded cut left a band empty
            _join(blocks, cuts, i - 1 if i > 0 else 0)
    mean = float(y.mean())
    sign = 1.0 if increasing else -1.0
    i = 0
    while i < len(blocks) - 1:  # shrinking can break monotony: pool adjacent violators
        left, right = (shrunk_rate(b[1], b[0], mean, prior) for b in blocks[i : i + 2])
        if sign * (right - left) < 0:
            _join(blocks, cuts, i)
            i = max(i - 1, 0)
        else:
            i += 1
    points = rate_points(shrunk_rate(b[1], b[0], mean, prior) for b in blocks)
    for i in reversed(range(len(blocks) - 1)):  # neighbours with equal whole points: one band
        if points[i] == points[i + 1]:
            _join(blocks, cuts, i)
    if len(blocks) < 2:
        return None
    rates = [shrunk_rate(b[1], b[0], mean, prior) for b in blocks]
    points = rate_points(rates)
    scale = ThresholdsScale(
        type="thresholds",
        below=points[0],
        steps=[ThresholdStep(min=c, points=p) for c, p in zip(cuts, points[1:], strict=True)],
    )
    edges = [math.nan, *cuts, math.nan]
    levels = [
        Level(_label(edges[i], edges[i + 1]), int(b[0]), rates[i], points[i])
        for i, b in enumerate(blocks)
    ]
    return scale, levels, "lower" if increasing else "higher"


def learnable_signals(spec: HealthModel) -> list[str]:
    """Signals in some scorecard whose scale can be learned (categorical, linear, thresholds)."""
    used: set[str] = set()

    def walk(groups: dict[str, Any]) -> None:
        for group in groups.values():
            used.update(group.signals)
            walk(group.groups)

    for card in spec.scorecards.values():
        walk(card)
    return [
        name
        for name, signal in spec.signals.items()
        if name in used and isinstance(signal.scale, LEARNABLE)
    ]
