"""Assertions that two engines gave the same scores, items and explanations (within RTOL)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from vitalsign.engine.explain import Explanation, explain_items
from vitalsign.engine.scoring import ScoredFrame
from vitalsign.model.loader import LoadedModel

RTOL = 1e-9


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.astype({"as_of": "datetime64[ns]"})
    return frame.sort_values(keys).reset_index(drop=True)


def _close(a: pd.Series, b: pd.Series, what: str, frame: pd.DataFrame) -> None:
    same = np.isclose(a.astype("float64"), b.astype("float64"), rtol=RTOL, atol=0, equal_nan=True)
    wrong = frame.loc[~same, ["account_id", "as_of"]].assign(duckdb=a[~same], other=b[~same])
    assert same.all(), f"{what} differs:\n{wrong.to_string()}"


def assert_same_scores(duck: ScoredFrame, other: ScoredFrame) -> None:
    """Scores, bands, coverage, gate, flags and items equal within RTOL; NULL where NULL."""
    keys = ["as_of", "account_id"]
    a, b = _sorted(duck.scores, keys), _sorted(other.scores, keys)
    pd.testing.assert_frame_equal(a[keys], b[keys])
    for column in ("score", "base_score", "coverage"):
        _close(a[column], b[column], column, a)
    for column in ("band", "computed_band", "flags", "gate_pass", "scorecard", "model_segment"):
        assert list(a[column]) == list(b[column]), column
    item_keys = ["account_id", "as_of", "kind", "path", "name"]
    x, y = _sorted(duck.items, item_keys), _sorted(other.items, item_keys)
    pd.testing.assert_frame_equal(x[item_keys], y[item_keys])
    for column in ("raw_value", "points", "weight", "contribution"):
        _close(x[column], y[column], column, x.assign(account_id=x["account_id"] + "/" + x["name"]))
    assert list(x["raw_text"].fillna("-")) == list(y["raw_text"].fillna("-"))


def explanations(scored: ScoredFrame, model: LoadedModel) -> dict[tuple[str, Any], Explanation]:
    """Every account-date's explanation, built as `vitalsign explain` builds it."""
    items = scored.items.astype({"as_of": "datetime64[ns]"})
    items = items.sort_values(["kind", "path", "name"], ascending=[False, True, True])
    by_key = dict(list(items.groupby(["account_id", "as_of"])))
    found = {}
    for row in scored.scores.astype({"as_of": "datetime64[ns]"}).to_dict("records"):
        key = (row["account_id"], row["as_of"])
        rows = [
            (r.kind, r.name, r.path, r.raw_value if r.raw_text is None else r.raw_text,
             r.points, r.weight, r.contribution)
            for r in by_key[key].itertuples()
        ]  # fmt: skip
        record = {**row, "model_hash": model.hash, "snapshot_date": row["as_of"].date()}
        found[key] = explain_items(model.name, record, rows)
    return found


def assert_same_explanations(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON, numbers within RTOL (a raw value given as a number compares as one)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_explanations(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        pairs = zip(a, b, strict=True)
        if a and isinstance(a[0], dict) and "name" in a[0]:  # order of equal contributions
            pairs = zip(*(sorted(x, key=_identity) for x in (a, b)), strict=True)
        for i, (x, y) in enumerate(pairs):
            assert_same_explanations(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(float(a), float(b), rel_tol=RTOL), (where, a, b)
    else:
        assert a == b or _numbers_close(a, b), (where, a, b)


def _identity(item: dict[str, Any]) -> tuple[str, ...]:
    """What names a listed item: path, name, account."""
    return tuple(str(item.get(k, "")) for k in ("path", "name", "account_id"))


def _numbers_close(a: Any, b: Any) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=RTOL)
    except (TypeError, ValueError):
        return False
