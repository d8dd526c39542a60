"""What makes a parsed row impossible, per canonical table (rows that break a rule are quarantined).

Each rule is a SQL condition over the typed columns (named `__t_<column>`) and the reason
given when it holds. Rules only read columns the source mapped; others are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A condition that makes a row impossible, and the reason quarantined rows get."""

    columns: tuple[str, ...]
    condition: str
    reason: str


def _negative(column: str) -> Rule:
    return Rule((column,), f"__t_{column} < 0", f"{column} is negative")


def _before(later: str, earlier: str) -> Rule:
    return Rule((later, earlier), f"__t_{later} < __t_{earlier}", f"{later} is before {earlier}")


IMPOSSIBLE: dict[str, tuple[Rule, ...]] = {
    "accounts": (_negative("seats"), _negative("arr")),
    "users": (_before("left_at", "created_at"),),
    "events": (),
    "tickets": (
        _before("solved_at", "created_at"),
        _negative("first_response_hours"),
        _negative("satisfaction"),
    ),
    "subscriptions": (_negative("seats"), _negative("mrr"), _before("ended_at", "started_at")),
    "invoices": (_before("paid_at", "issued_at"),),
    "surveys": (
        Rule(("kind",), "__t_kind NOT IN ('nps', 'csat')", "kind is neither nps nor csat"),
        Rule(
            ("kind", "score"),
            "__t_kind = 'nps' AND (__t_score < 0 OR __t_score > 10)",
            "an NPS score is from 0 to 10",
        ),
        Rule(
            ("kind", "score"),
            "__t_kind = 'csat' AND (__t_score < 1 OR __t_score > 5)",
            "a CSAT score is from 1 to 5",
        ),
    ),
    "csm_ratings": (
        Rule(
            ("rating",),
            "__t_rating NOT IN ('green', 'yellow', 'red')",
            "rating is not green, yellow or red",
        ),
    ),
    "business_events": (),
    "outcomes": (
        Rule(
            ("kind",),
            "__t_kind NOT IN ('churned', 'renewed', 'expanded', 'contracted', 'reactivated')",
            "kind is not churned, renewed, expanded, contracted or reactivated",
        ),
        _negative("arr_before"),
        _negative("arr_after"),
    ),
}

EARLIEST = "1900-01-01"


def rules_for(table: str, mapped: set[str]) -> list[Rule]:
    """The impossible-value rules of `table` whose columns are all mapped."""
    return [r for r in IMPOSSIBLE.get(table, ()) if set(r.columns) <= mapped]
