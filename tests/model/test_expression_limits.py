"""Huge or deeply nested expressions are refused with a message, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitalsign.errors import ModelError
from vitalsign.model.expressions import ExpressionError, parse_expression
from vitalsign.model.loader import parse_model

GOOD = (Path(__file__).parents[1] / "fixtures" / "models" / "tiny.yml").read_text()


@pytest.mark.parametrize(
    "text",
    [
        " + ".join(["quantity"] * 100_000),  # the reported 100,000-term expression
        " + ".join(["q"] * 4_000),  # short enough, but nested 4,000 levels deep
        "(" * 5_000 + "q" + ")" * 5_000,
        "-" * 9_000 + "q",
        " or ".join(f"q == {i}" for i in range(3_000)),  # flat, but too many terms
    ],
    ids=["100k-terms", "deep-sum", "deep-parentheses", "deep-negation", "many-terms"],
)
def test_a_huge_or_deep_expression_is_an_expression_error_with_a_short_message(
    text: str,
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    message = str(info.value)
    assert len(message) < 400
    assert "split it" in message or "cannot parse" in message


def test_a_100k_term_filter_in_a_model_file_is_a_model_error_naming_the_key() -> None:
    huge = " + ".join(["quantity"] * 100_000)
    bad = GOOD.replace("filter: \"event == 'login'\"", f'filter: "{huge} > 0"', 1)
    assert bad != GOOD
    with pytest.raises(ModelError) as info:
        parse_model(bad, "models/bad.yml")
    assert "filter" in str(info.value)
    assert "too long" in str(info.value)


def test_ordinary_long_expressions_still_parse() -> None:
    chain = " + ".join(["q"] * 50)
    assert parse_expression(chain).names() == {"q"}
    listed = "plan in (" + ", ".join(f"'p{i}'" for i in range(500)) + ")"
    assert parse_expression(listed).names() == {"plan"}
    assert parse_expression(" and ".join(f"q{i} > 0" for i in range(200))).names()
