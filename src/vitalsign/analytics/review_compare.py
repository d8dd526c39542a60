"""A review against the previous one: did ROC-AUC fall by more than the noise?

Two reviews backtest different quarters, so their AUCs have no paired bootstrap; the fall is
judged from the two stored intervals (docs/backtest.md, "Quarterly review").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitalsign.analytics.drift import SignalDrift

AUC_FALL = 0.02  # a fall of ROC-AUC since the previous review smaller than this is not listed
Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
WEIGHT_MOVE = 10.0  # percentage points a weight moves between reviews before it is flagged


def auc_change_interval(before: dict[str, Any], now: dict[str, Any]) -> tuple[float, float] | None:
    """A 95% interval of ROC-AUC now − before from the two reviews' bootstrap intervals.

    The two quarters are different rows, so there is no paired bootstrap: each interval's
    half-width gives a standard error (half-width / 1.96) and the difference's interval is
    change ± 1.96·√(se₁² + se₂²), as for independent samples. None without both intervals.
    """
    ends = [before.get(k) for k in ("value", "low", "high")] + [
        now.get(k) for k in ("value", "low", "high")
    ]
    numbers = [float(e) for e in ends if e is not None and e == e]
    if len(numbers) != len(ends):
        return None
    b, b_low, b_high, n, n_low, n_high = numbers
    se = (((b_high - b_low) / 2 / Z95) ** 2 + ((n_high - n_low) / 2 / Z95) ** 2) ** 0.5
    change = n - b
    return round(change - Z95 * se, 6), round(change + Z95 * se, 6)


def auc_fell(before: float | None, now: float | None, interval: tuple[float, float] | None) -> bool:
    """ROC-AUC fell by more than AUC_FALL and, with intervals, by more than the noise."""
    if before is None or now is None or before - now <= AUC_FALL:
        return False
    return interval is None or interval[1] < 0


def weight_moves(
    previous: dict[str, Any] | None, weights: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """Proposed weights against the previous review's proposal, biggest move first."""
    before = (previous or {}).get("proposal", {}) or {}
    old = before.get("weights", {}) or {}
    moves = []
    for card, card_weights in weights.items():
        for signal, weight in card_weights.items():
            earlier = old.get(card, {}).get(signal)
            if earlier is None:
                continue
            moves.append(
                {
                    "scorecard": card,
                    "signal": signal,
                    "previous": earlier,
                    "now": round(weight, 3),
                    "move": round(weight - earlier, 3),
                    "flagged": abs(weight - earlier) >= WEIGHT_MOVE,
                }
            )
    return sorted(moves, key=lambda m: -abs(m["move"]))


def compare(
    before: dict[str, Any],
    roc_now: dict[str, Any] | None,
    drift: list[SignalDrift],
    weights: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """The previous review's headline figures (its JSON) next to this one's."""
    roc_before = (before.get("backtest") or {}).get("roc_auc") or {}
    roc_now = roc_now or {}
    auc_before, auc_now = roc_before.get("value"), roc_now.get("value")
    interval = auc_change_interval(roc_before, roc_now)
    psi_before = {d["signal"]: d["psi"] for d in before.get("signal_drift", [])}
    return {
        "as_of": before.get("as_of"),
        "model_hash": (before.get("model") or {}).get("hash"),
        "roc_auc": {
            "previous": auc_before,
            "previous_low": roc_before.get("low"),
            "previous_high": roc_before.get("high"),
            "now": auc_now,
            "change": None
            if auc_before is None or auc_now is None
            else round(auc_now - auc_before, 6),
            "change_low": None if interval is None else interval[0],
            "change_high": None if interval is None else interval[1],
            "fell": auc_fell(auc_before, auc_now, interval),
        },
        "psi": [
            {"signal": d.signal, "previous": psi_before.get(d.signal), "now": d.to_dict()["psi"]}
            for d in drift
        ],
        "weight_moves": weight_moves(before, weights),
    }


def previous_auc(compared: dict[str, Any]) -> str:
    """The previous review's ROC-AUC, this one's, and whether the change is beyond the noise."""
    auc = compared["roc_auc"]
    if auc["previous"] is None:
        return "no ROC-AUC then"
    then = f"ROC-AUC {auc['previous']:.3f}"
    if auc.get("previous_low") is not None:
        then += f" [{auc['previous_low']:.3f}, {auc['previous_high']:.3f}]"
    if auc["change"] is None:
        return f"{then} then"
    change = f"change {auc['change']:+.3f}"
    if auc.get("change_low") is not None:
        change += f" [{auc['change_low']:+.3f}, {auc['change_high']:+.3f}]"
        change += ": beyond the noise" if auc["fell"] else ": within the noise"
    return f"{then} then, {auc['now']:.3f} now ({change})"
