"""A wrong model file fails before anything runs, naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitalsign.errors import ModelError
from vitalsign.model.loader import load_model, parse_model

FIXTURES = Path(__file__).parents[1] / "fixtures" / "models"
GOOD = (FIXTURES / "tiny.yml").read_text()


def _error(text: str) -> str:
    with pytest.raises(ModelError) as info:
        parse_model(text, "models/bad.yml")
    return str(info.value)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_tiny_model_is_valid_and_has_a_stable_hash() -> None:
    first, second = parse_model(GOOD), parse_model(GOOD + "\n# a comment changes nothing\n")
    assert first.hash == second.hash
    assert parse_model(GOOD.replace("high: 10", "high: 11")).hash != first.hash


def test_an_unknown_signal_in_a_scorecard_is_reported_with_its_line() -> None:
    bad = GOOD.replace("signals: {logins_30d: 1}", "signals: {logins_31d: 1}")
    message = _error(bad)
    line = _line_of(bad, "logins_31d")
    assert f"models/bad.yml:{line} scorecards.default.usage.signals.logins_31d" in message
    assert "unknown signal 'logins_31d'" in message


def test_a_bad_window_names_the_key_and_shows_the_fix() -> None:
    bad = GOOD.replace(
        "window: 30d\n    scale: {type: linear, low: 0, high: 10}",
        "window: 30x\n    scale: {type: linear, low: 0, high: 10}",
    )
    message = _error(bad)
    line = _line_of(bad, "30x")
    assert f"models/bad.yml:{line} signals.logins_30d.window" in message
    assert '"30x" is not a duration (e.g. "30d"' in message


def test_a_cycle_between_derived_signals_is_reported() -> None:
    bad = GOOD.replace(
        "  invoices_30d:",
        '  loop_a:\n    formula: "loop_b + 1"\n  loop_b:\n    ratio: [loop_a, logins_30d]\n'
        "  invoices_30d:",
    )
    message = _error(bad)
    assert "cycle" in message
    assert "loop_a" in message and "loop_b" in message
    assert f"models/bad.yml:{_line_of(bad, 'loop_')}" in message or "models/bad.yml:" in message


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_a_weight_that_is_not_positive_is_refused(weight: str) -> None:
    bad = GOOD.replace("weight: 2", f"weight: {weight}")
    message = _error(bad)
    assert (
        f"models/bad.yml:{_line_of(bad, 'weight: ' + weight)} scorecards.default.usage.weight"
        in message
    )
    assert "greater than 0" in message


def test_an_unknown_column_is_reported_with_the_known_ones() -> None:
    bad = GOOD.replace("column: rating", "column: ratting")
    message = _error(bad)
    assert f"models/bad.yml:{_line_of(bad, 'ratting')} signals.csm.column" in message
    assert "unknown column 'ratting' of table csm_ratings" in message


def test_an_unknown_column_inside_a_filter_is_reported() -> None:
    bad = GOOD.replace("filter: \"event == 'login'\"", "filter: \"evnt == 'login'\"")
    message = _error(bad)
    assert f"models/bad.yml:{_line_of(bad, 'evnt')} signals.logins_30d.filter" in message
    assert "unknown column of events 'evnt'" in message


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('ls')",
        "event.__class__",
        "[x for x in event]",
        "lambda: 1",
        "open('/etc/passwd')",
    ],
)
def test_unsafe_expressions_are_refused(expression: str) -> None:
    bad = GOOD.replace("filter: \"event == 'login'\"", f'filter: "{expression}"')
    message = _error(bad)
    assert "signals.logins_30d.filter" in message
    assert "not allowed" in message


def test_an_unparsable_expression_is_refused() -> None:
    bad = GOOD.replace("filter: \"event == 'login'\"", "filter: \"event == 'login' and\"")
    assert "cannot parse" in _error(bad)


def test_sql_pasted_into_a_filter_is_refused() -> None:
    bad = GOOD.replace("filter: \"event == 'login'\"", "filter: \"event = 'x'; DROP TABLE events\"")
    assert "cannot parse" in _error(bad)


def test_an_unknown_table_is_reported() -> None:
    bad = GOOD.replace("table: tickets", "table: tickettes")
    assert "unknown table 'tickettes'" in _error(bad)


def test_a_flag_capping_to_an_unknown_band_is_reported() -> None:
    bad = GOOD.replace("cap_band: yellow", "cap_band: amber")
    message = _error(bad)
    assert f"models/bad.yml:{_line_of(bad, 'amber')} flags.champion_left.cap_band" in message


def test_bands_must_be_listed_best_first() -> None:
    bad = GOOD.replace("{name: green, min: 70}", "{name: green, min: 30}")
    assert "decreasing" in _error(bad)


def test_a_scored_signal_without_a_scale_is_reported() -> None:
    bad = GOOD.replace("signals: {tickets_90d: 1}", "signals: {invoices_30d: 1}")
    assert "has no `scale`" in _error(bad)


def test_unknown_keys_are_refused() -> None:
    bad = GOOD.replace("min_coverage: 0.5", "min_coverage: 0.5\nminimum_cover: 1")
    message = _error(bad)
    assert f"models/bad.yml:{_line_of(bad, 'minimum_cover')} minimum_cover" in message


def test_invalid_yaml_names_the_line() -> None:
    message = _error("name: x\nsignals: [\n")
    assert message.startswith("models/bad.yml:") and "not valid YAML" in message


def test_duplicate_keys_are_refused() -> None:
    bad = GOOD.replace("min_coverage: 0.5", "min_coverage: 0.5\nmin_coverage: 0.6")
    assert "models/bad.yml" in _error(bad)


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="vitalsign init"):
        load_model(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("signal", "complaint"),
    [
        ("{table: events, aggregate: time_to_first, window: 30d}", "remove `window`"),
        ("{attribute: seats, window: 30d}", "only apply to table signals"),
        ("{table: events, aggregate: count, window: 7d, q: 0.5}", "`q` only applies"),
        ("{attribute: seats, windows: 3}", "`windows` only applies"),
        ("{attribute: 'round(seats, arr)'}", "whole number literal"),
    ],
)
def test_keys_that_do_not_apply_are_refused(signal: str, complaint: str) -> None:
    bad = GOOD.replace("  invoices_30d:", f"  extra: {signal}\n  invoices_30d:")
    message = _error(bad)
    assert complaint in message
    assert f"models/bad.yml:{_line_of(bad, 'extra:')} signals.extra" in message


def test_a_scale_error_names_the_scale_key_without_its_type_tag() -> None:
    bad = GOOD.replace("{type: linear, low: 0, high: 10}", "{type: linear, low: 10, high: 0}", 1)
    message = _error(bad)
    assert "signals.logins_30d.scale: " in message and "scale.linear" not in message
