"""A scorecard's tree of weighted groups, evaluated on NumPy arrays a block of rows at a time.

A group's score is the weighted mean of its available members; weights are renormalised
over what is available, so each signal's effective weight is the product of its
renormalised weights along its path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitalsign.model.spec import Group

BLOCK_ROWS = 16_384  # rows evaluated at a time, so a group's arrays stay in the CPU cache


@dataclass
class GroupNode:
    """A group's score per row, and the shares of its parts (signals first, then groups)."""

    signals: list[str]
    weights: list[float]  # of the signals, then of the nested groups
    complete: list[bool]  # whether each part has points on every row
    children: list[tuple[str, GroupNode]]  # (path, node) of the nested groups
    score: np.ndarray
    shares: list[np.ndarray]  # part -> weight relative to this group (0 where missing)


def plan_groups(
    members: dict[str, Group],
    signals: dict[str, float | None],
    size: int,
    path: str,
    complete: set[str],
) -> GroupNode:
    """Return the tree of groups with room for `size` rows of scores and shares."""
    children = []
    for gname, group in members.items():
        child_path = f"{path}/{gname}" if path else gname
        children.append(
            (child_path, plan_groups(group.groups, group.signals, size, child_path, complete))
        )
    weights = [1.0 if w is None else float(w) for w in signals.values()]
    weights += [group.weight for group in members.values()]
    parts_complete = [sname in complete for sname in signals]
    parts_complete += [any(child.complete) for _, child in children]
    return GroupNode(
        signals=list(signals),
        weights=weights,
        complete=parts_complete,
        children=children,
        score=np.empty(size),
        shares=[np.empty(size) for _ in weights],
    )


def evaluate_groups(
    node: GroupNode, points: dict[str, np.ndarray], rows: slice, at: slice
) -> np.ndarray:
    """Fill the node's scores and shares (at `at`) for the points of `rows`; return the scores.

    A group's score is the sum of its available parts' points times their share, the
    share being the part's weight over the weights of the available parts. Points are
    0..100 or NaN, so `fmax(x, 0)` is x, or 0 for NaN (masked ufuncs are much slower).
    A group with a complete part (points on every row) has a score on every row.
    """
    scores = [points[sname][rows] for sname in node.signals]
    scores += [evaluate_groups(child, points, rows, at) for _, child in node.children]
    parts = list(zip(node.weights, scores, node.shares, node.complete, strict=True))
    m = len(node.score[at])
    denominator = np.zeros(m)
    for w, score, shares, complete in parts:
        weight = shares[at]  # w where the part has data, else 0; divided below
        if complete:
            weight.fill(w)
            denominator += w
        else:
            denominator += where_present(score, w, out=weight)
    # where no part has data every weight is 0, and 0 / the smallest double is 0
    divisor = np.maximum(denominator, np.nextafter(0.0, 1.0))
    total = np.zeros(m)
    term = np.empty(m)
    for _, score, shares, complete in parts:
        share = shares[at]
        np.divide(share, divisor, out=share)
        np.multiply(score, share, out=term)
        if not complete:
            np.fmax(term, 0.0, out=term)
        total += term
    score = node.score[at]
    if any(node.complete):
        score[:] = total
        return score
    with np.errstate(invalid="ignore"):
        np.divide(0.0, denominator, out=score)  # 0, or NaN where no part has data
    np.abs(score, out=score)  # 0 / 0 is a NaN with its sign bit set; np.nan has it clear
    score += total
    return score


def where_present(values: np.ndarray, constant: float, out: np.ndarray) -> np.ndarray:
    """Write `constant` where values are present (not NaN) and 0 where missing into `out`."""
    np.multiply(values, 0.0, out=out)
    out += constant
    np.fmax(out, 0.0, out=out)
    return out


def group_weights(
    node: GroupNode,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Return each signal's weight and each nested group's (score, weight) within `node`."""
    rel: dict[str, np.ndarray] = {}
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for sname, share in zip(node.signals, node.shares, strict=False):  # signals come first
        rel[sname] = share
    child_shares = node.shares[len(node.signals) :]
    for (cpath, child), share in zip(node.children, child_shares, strict=True):
        child_rel, child_groups = group_weights(child)
        for sname, r in child_rel.items():
            rel[sname] = share * r
        groups[cpath] = (child.score, share)
        for gpath, (gscore, gshare) in child_groups.items():
            groups[gpath] = (gscore, gshare * share)
    return rel, groups


def nominal_weights(
    members: dict[str, Group], signals: dict[str, float | None]
) -> dict[str, float]:
    """Return each signal's weight relative to the scorecard if every signal had data."""
    parts: list[tuple[float, dict[str, float]]] = [
        (1.0 if w is None else float(w), {sname: 1.0}) for sname, w in signals.items()
    ]
    parts += [(g.weight, nominal_weights(g.groups, g.signals)) for g in members.values()]
    total = sum(w for w, _ in parts)
    return {sname: (w / total) * r for w, below in parts for sname, r in below.items()}
