"""A signal's raw value in its unit, rounded sensibly: "0.1 days", "34%", "12", not "0.1437".

The model has no unit field; the unit follows from how a signal is computed: a
`days_since_last` or `time_to_first` aggregate (and a `days_…` attribute) counts days, a
ratio (or a `…share…` signal) is a share shown as a percentage, a count is a whole number.
Other values keep 3 significant digits.

>>> with_unit("0.1437", "days")
'0.1 days'
>>> with_unit(0.3412, "share")
'34%'
"""

from __future__ import annotations

import math
from typing import Any

from vitalsign.model.spec import HealthModel

DAYS = frozenset({"days_since_last", "time_to_first"})
COUNTS = frozenset({"count", "count_distinct"})


def signal_unit(model: HealthModel, name: str) -> str | None:
    """Return "days", "share", "count" or None (no known unit) for a signal of the model."""
    signal = model.signals.get(name)
    if signal is None:
        return None
    if signal.aggregate in DAYS or (signal.attribute is not None and name.startswith("days_")):
        return "days"
    if signal.ratio is not None or "share" in name:
        return "share"
    if signal.aggregate in COUNTS:
        return "count"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _significant(number: float) -> str:
    """Whole numbers without decimals, others to 3 significant digits."""
    if number.is_integer():
        return str(int(number))
    return f"{number:.3g}"


def with_unit(value: Any, unit: str | None) -> str:
    """Show a raw value (number or stored text) in its unit; text stays as it is."""
    if value is None:
        return "missing"
    number = _number(value)
    if number is None:
        text = str(value)
        return text if len(text) <= 40 else text[:39] + "…"
    if unit == "days":
        rounded = round(number) if abs(number) >= 10 else round(number, 1)
        shown = _significant(float(rounded))
        return f"{shown} day" if shown == "1" else f"{shown} days"
    if unit == "share":
        percent = number * 100
        return f"{percent:.0f}%" if abs(percent) >= 1 or percent == 0 else f"{percent:.2g}%"
    if unit == "count":
        return _significant(float(round(number, 2)))
    return _significant(number)
