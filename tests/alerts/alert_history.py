"""Crafted score histories for alert tests: write snapshots directly, no scoring run needed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from vitalsign.alerts.config import AlertConfig
from vitalsign.alerts.loading import parse_alert_config
from vitalsign.alerts.messages import plain
from vitalsign.alerts.rule_sql import RuleContext
from vitalsign.alerts.rules import evaluate_rule
from vitalsign.engine.scoring import ITEM_COLUMNS, ScoredFrame
from vitalsign.engine.snapshots import snapshot_dates, write_snapshots
from vitalsign.model.loader import LoadedModel

DAY0 = dt.date(2024, 3, 4)
OWNERS = {"A": "ann", "B": "bob", "C": "ann"}
NAMES = {"A": "Acme", "B": "Beta", "C": "Cato"}


def day(n: int) -> dt.date:
    """Return DAY0 + n days."""
    return DAY0 + dt.timedelta(days=n)


def write_day(
    connection: Any,
    model: LoadedModel,
    when: dt.date,
    accounts: dict[str, dict[str, Any]],
) -> None:
    """Store one snapshot: per account score, band, flags, gate, override and signal values.

    Each account's dict may hold: score (default 80), band (default from the score),
    computed_band (default band), flags (list), gate (bool), signals ({name: raw}), owner,
    segment, arr.
    """
    rows, items = [], []
    stamp = pd.Timestamp(when)
    for account_id, spec in accounts.items():
        score = spec.get("score", 80.0)
        band = spec.get("band") or ("green" if score >= 70 else "yellow" if score >= 40 else "red")
        rows.append(
            {
                "account_id": account_id,
                "as_of": stamp,
                "name": NAMES.get(account_id, account_id),
                "owner": spec.get("owner", OWNERS.get(account_id)),
                "segment": spec.get("segment", "smb"),
                "arr": spec.get("arr", 1000.0),
                "scorecard": "default",
                "model_segment": "default",
                "score": score,
                "base_score": score,
                "band": band,
                "computed_band": spec.get("computed_band", band),
                "coverage": 1.0,
                "gate_pass": spec.get("gate", True),
                "flags": json.dumps(spec.get("flags", [])),
            }
        )
        for name, raw in spec.get("signals", {}).items():
            items.append(
                {
                    "account_id": account_id,
                    "as_of": stamp,
                    "kind": "signal",
                    "name": name,
                    "path": "usage",
                    "raw_value": float(raw) if raw is not None else None,
                    "raw_text": None if raw is None else str(raw),
                    "points": 50.0,
                    "weight": 0.25,
                    "contribution": 12.5,
                }
            )
    scores = pd.DataFrame(rows)
    item_frame = pd.DataFrame(items, columns=ITEM_COLUMNS)
    item_frame["raw_value"] = item_frame["raw_value"].astype("float64")
    write_snapshots(connection, ScoredFrame(scores, item_frame), model)


def alert_config(text: str, model: LoadedModel) -> AlertConfig:
    """Parse alerts.yml text checked against `model`."""
    return parse_alert_config(text, "alerts.yml", model.spec)


def holds(
    connection: Any, model: LoadedModel, rule_yaml: str, when: dt.date
) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Evaluate one rule (the YAML body of `rules.r`) on a date: account → (fired, values)."""
    body = "\n".join("    " + line for line in rule_yaml.strip().splitlines())
    config = alert_config(f"rules:\n  r:\n{body}\n", model)
    earlier = [d for d in snapshot_dates(connection, model.name) if d < when]
    ctx = RuleContext(model.spec, when, earlier[-1] if earlier else None)
    frame = evaluate_rule(connection, config.rules["r"], ctx)
    return {
        str(a): (bool(f), plain(v))
        for a, f, v in zip(frame["account_id"], frame["fired"], frame["values"], strict=True)
    }
