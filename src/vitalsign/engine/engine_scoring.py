"""Score inside the engine (`scoring="engine"`): the driver reads finished rows, not signals.

`compute_scores(..., scoring="engine")` builds the whole score (points, missing policies,
group tree and coverage, gate, flags, overrides, band) as one Ibis expression over the
signal table (engine/score_expressions.py) and reads the result as Arrow record batches;
each batch is spelt out into score rows and items as it arrives, so the driver holds the
finished rows, never the wide signal frame nor the intermediate arrays of engine/scoring.py.
The results equal the driver's within 1e-9 relative (tests/engine/test_engine_matrix.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from vitalsign.engine.expansion import expansion_of_scored
from vitalsign.engine.points import numeric_values
from vitalsign.engine.score_expressions import (
    SCORE_KEYS,
    SCORED,
    Layout,
    mask_stale,
    scored_table,
)
from vitalsign.engine.scoring import ITEM_COLUMNS, ScoredFrame, _raw_text
from vitalsign.engine.signals import signal_column
from vitalsign.model.spec import HealthModel

SCORING_MODES = ("driver", "engine")
BATCH_ROWS = 200_000
"""Rows of the scored table read at a time: bounds the driver's Arrow and item buffers."""


def _override_table(
    signals: ir.Table, overrides: pd.DataFrame, model: HealthModel
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the overrides as one row per account-date (a column per target) and the names."""
    chosen = overrides.drop_duplicates(["account_id", "as_of", "target"], keep="last")
    targets = [s for s in model.overrides.signals if (chosen["target"] == s).any()]
    if model.overrides.band and (chosen["target"] == "band").any():
        targets.append("band")
    names = {target: f"o__{i}" for i, target in enumerate(targets)}
    if not targets:
        return pd.DataFrame(), names
    wide = chosen[chosen["target"].isin(targets)].pivot(
        index=["account_id", "as_of"], columns="target", values="value"
    )
    wide = wide.rename(columns=names).reset_index()
    wide["as_of"] = pd.to_datetime(wide["as_of"])
    schema = signals.schema()
    for target, column in names.items():
        numeric = target != "band" and schema[signal_column(target)].is_numeric()
        values = wide[column]
        if numeric:
            wide[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            wide[column] = values.astype(object).where(values.notna(), other=np.nan)
    return wide, names


def _with_overrides(
    signals: ir.Table, wide: pd.DataFrame, names: dict[str, str], model: HealthModel
) -> ir.Table:
    """Join the overrides; an overridden signal keeps its computed value as `c__` columns."""
    joined = signals.left_join(ibis.memtable(wide), ["account_id", "as_of"])
    joined = joined.drop(*[c for c in joined.columns if c.endswith("_right")])
    replaced: dict[str, Any] = {}
    for target, column in names.items():
        if target == "band":
            continue
        name = signal_column(target)
        original = joined[name]
        value = joined[column]
        if original.type().is_numeric():
            original = original.cast("float64")
        else:
            value = value.cast(original.type())
        replaced[f"c{column}"] = joined[name]
        replaced[name] = ibis.ifelse(value.notnull(), value, original)
    return joined.mutate(**replaced)


def score_in_engine(
    signals: ir.Table,
    model: HealthModel,
    stale: Mapping[Any, Collection[str]] | None = None,
    overrides: pd.DataFrame | None = None,
) -> ScoredFrame:
    """Score the signal table in its engine and read the finished rows in batches."""
    names: dict[str, str] = {}
    if stale:  # as on the driver: stale values are masked first, then overridden
        signals = mask_stale(signals, model, stale)
    if overrides is not None and not overrides.empty:
        wide, names = _override_table(signals, overrides, model)
        if names:
            signals = _with_overrides(signals, wide, names, model)
    fence = getattr(signals._find_backend(), "name", "") == "postgres"
    table, layout = scored_table(signals, model, stale, masked=True, fence=fence)
    if "band" in names:
        override = table[names["band"]].cast("string")
        table = table.mutate(band=ibis.ifelse(override.notnull(), override, table.computed_band))
    wanted = _read_columns(table, layout, model, names)
    expansion = (
        [signal_column(s) for s in model.expansion.signals] if model.expansion is not None else []
    )
    wanted = list(dict.fromkeys([*wanted, *expansion]))
    expansion_parts: list[pd.DataFrame] = []
    score_parts: list[pd.DataFrame] = []
    item_parts: list[pd.DataFrame] = []
    cards = list(model.scorecards)
    for frame in _batches(table.select(*wanted)):
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        frame = frame.assign(
            card__=pd.Categorical(frame["scorecard"], categories=cards).codes
        ).sort_values(["card__", "as_of", "account_id"], kind="stable")
        score_parts.append(frame[SCORE_KEYS + SCORED].reset_index(drop=True))
        if expansion:
            expansion_parts.append(frame[[*SCORE_KEYS, *expansion]])
        for card in cards:
            rows = frame[frame["scorecard"] == card]
            if len(rows):
                item_parts.append(_items(rows, layout, card))
        item_parts += _computed_items(frame, names, model)
    if not score_parts:
        return ScoredFrame(
            pd.DataFrame(columns=SCORE_KEYS + SCORED), pd.DataFrame(columns=ITEM_COLUMNS)
        )
    scores = pd.concat(score_parts, ignore_index=True)
    scores["card__"] = pd.Categorical(scores["scorecard"], categories=cards).codes
    scores = scores.sort_values(["card__", "as_of", "account_id"], kind="stable")
    scores = scores.drop(columns="card__").reset_index(drop=True)
    scores["gate_pass"] = scores["gate_pass"].astype(bool)
    frames = item_parts or [pd.DataFrame(columns=ITEM_COLUMNS)]
    scored = ScoredFrame(scores, lambda: frames)
    if model.expansion is not None:  # the second score kind, from the same signals
        signals_read = pd.concat(expansion_parts, ignore_index=True)
        scored.expansion = expansion_of_scored(signals_read, scores, model)
    return scored


def _read_columns(
    table: ir.Table, layout: Layout, model: HealthModel, names: dict[str, str]
) -> list[str]:
    """The columns the driver reads: scores, raw values, points, weights, computed values."""
    wanted = [*SCORE_KEYS, *SCORED]
    wanted += [signal_column(s) for s in layout.points] + list(layout.points.values())
    for card in layout.cards.values():
        wanted += [column for _, _, column in card.members]
        wanted += [c for _, score, weight in card.groups for c in (score, weight)]
    for target, column in names.items():
        wanted += [column, f"c{column}"] if target != "band" else []
    return list(dict.fromkeys(wanted))


def _batches(table: ir.Table) -> Iterator[pd.DataFrame]:
    """The table's rows as pandas frames of at most BATCH_ROWS rows (Arrow underneath).

    On DuckDB the query's Arrow reader is read directly: Ibis 12 calls a DuckDB method
    (`fetch_record_batch`) that DuckDB 1.5 deprecates.
    """
    backend = table._find_backend()
    if getattr(backend, "name", "") == "duckdb":
        backend._run_pre_execute_hooks(table)  # registers the overrides' memtable
        reader = backend.con.execute(str(backend.compile(table))).to_arrow_reader(BATCH_ROWS)
    else:
        reader = table.to_pyarrow_batches(chunk_size=BATCH_ROWS)
    for batch in reader:
        if batch.num_rows:
            yield batch.to_pandas()


def _items(rows: pd.DataFrame, layout: Layout, card: str) -> pd.DataFrame:
    """The signal and group items of one scorecard's rows, as engine/scoring.py lists them."""
    spec = layout.cards[card]
    n, count = len(rows), len(spec.members) + len(spec.groups)
    raws = [rows[signal_column(s)] for s, _, _ in spec.members]
    points = [rows[layout.points[s]].to_numpy(dtype="float64") for s, _, _ in spec.members]
    points += [rows[score].to_numpy(dtype="float64") for _, score, _ in spec.groups]
    weights = [rows[w].to_numpy(dtype="float64") for _, _, w in spec.members]
    weights += [rows[w].to_numpy(dtype="float64") for _, _, w in spec.groups]
    names = [s for s, _, _ in spec.members] + [p.rsplit("/", 1)[-1] for p, _, _ in spec.groups]
    paths = [p for _, p, _ in spec.members] + [p for p, _, _ in spec.groups]
    kinds = ["signal"] * len(spec.members) + ["group"] * len(spec.groups)
    point_values = np.concatenate(points) if points else np.empty(0)
    weight_values = np.concatenate(weights) if weights else np.empty(0)
    groups_n = n * len(spec.groups)
    columns: dict[str, Any] = {
        "account_id": np.tile(rows["account_id"].to_numpy().astype(object), count),
        "as_of": np.tile(rows["as_of"].to_numpy(), count),
        "kind": np.repeat(np.array(kinds, dtype=object), n),
        "name": np.repeat(np.array(names, dtype=object), n),
        "path": np.repeat(np.array(paths, dtype=object), n),
        "raw_value": np.concatenate(
            [*[numeric_values(r) for r in raws], np.full(groups_n, np.nan)]
        ),
        "raw_text": np.concatenate(
            [*[_raw_text(r) for r in raws], np.full(groups_n, None, dtype=object)]
        ),
        "points": point_values,
        "weight": weight_values,
        "contribution": np.nan_to_num(point_values) * weight_values,
    }
    return pd.DataFrame({c: columns[c] for c in ITEM_COLUMNS}, copy=False)


def _computed_items(
    frame: pd.DataFrame, names: dict[str, str], model: HealthModel
) -> list[pd.DataFrame]:
    """Items of kind "computed": what the data said where a person overrode a signal."""
    found = []
    for target, column in names.items():
        if target == "band":
            continue
        hit = frame[column].notna() if column in frame else None
        if hit is None:
            continue
        original = frame.loc[hit, f"c{column}"]
        numeric = pd.to_numeric(original, errors="coerce")
        found.append(
            pd.DataFrame(
                {
                    "account_id": frame.loc[hit, "account_id"],
                    "as_of": frame.loc[hit, "as_of"],
                    "kind": "computed",
                    "name": target,
                    "path": "",
                    "raw_value": numeric.astype("float64"),
                    "raw_text": [
                        None if pd.isna(v) or pd.notna(n) else str(v)
                        for v, n in zip(original, numeric, strict=True)
                    ],
                    "points": float("nan"),
                    "weight": 0.0,
                    "contribution": 0.0,
                }
            )[ITEM_COLUMNS]
        )
    return found


def stale_signals(freshness: Mapping[dt.date, Sequence[Any]]) -> dict[dt.datetime, list[str]]:
    """Per date's midnight, the signals of its stale or absent tables (engine/freshness.py)."""
    found: dict[dt.datetime, list[str]] = {}
    for day, tables in freshness.items():
        names = sorted({s for t in tables if t.silent for s in t.signals})
        if names:
            found[dt.datetime(day.year, day.month, day.day)] = names
    return found
