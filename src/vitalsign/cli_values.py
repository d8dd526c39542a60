"""Values typed on the command line: dates and durations, read with errors that name the option.

Every command part (cli.py, alerts, analytics) reads `--as-of 2025-06-02` or `--every 7d`
the same way, so a typo gets the same message wherever it is made.
"""

from __future__ import annotations

import datetime as dt

from vitalsign.errors import VitalsignError


def parse_date(text: str | None, option: str) -> dt.date | None:
    """Return the date of an option's YYYY-MM-DD text (None stays None)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise VitalsignError(f"{option} {text!r} is not a date (use YYYY-MM-DD)") from exc


def parse_days_option(text: str, option: str) -> int:
    """Return the days of a duration option such as 90d, naming the option when it is wrong."""
    from vitalsign.model.spec import parse_days

    try:
        return parse_days(text)
    except ValueError as exc:
        raise VitalsignError(f"{option} {exc}") from exc
