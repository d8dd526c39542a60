"""Raw values are shown in their signal's unit: days, shares as %, counts as whole numbers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitalsign.engine.run import score
from vitalsign.engine.units import signal_unit, with_unit
from vitalsign.engine.why import why_account
from vitalsign.rendering import to_text, why_renderable
from vitalsign.store.workspace import Workspace
from world import T


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        ("0.1437", "days", "0.1 days"),
        (1.0, "days", "1 day"),
        ("23.6", "days", "24 days"),
        (0.3412, "share", "34%"),
        (0.0, "share", "0%"),
        (0.004, "share", "0.4%"),
        ("12.0", "count", "12"),
        (0.123456, None, "0.123"),
        ("red", None, "red"),
        (None, "days", "missing"),
    ],
)
def test_values_in_their_unit(value: object, unit: str | None, text: str) -> None:
    assert with_unit(value, unit) == text


@given(st.floats(min_value=0, max_value=5, allow_nan=False))
def test_a_share_reads_back_within_half_a_point(share: float) -> None:
    shown = with_unit(share, "share")
    assert shown.endswith("%")
    assert abs(float(shown[:-1]) / 100 - share) <= 0.005 + 1e-12


def test_the_starter_model_s_units(tiny_workspace: Workspace) -> None:
    spec = tiny_workspace.load_model().spec
    assert signal_unit(spec, "days_since_login") == "days"
    assert signal_unit(spec, "days_to_renewal") == "days"
    assert signal_unit(spec, "seat_utilisation") == "share"
    assert signal_unit(spec, "failed_payment_share_90d") == "share"
    assert signal_unit(spec, "logins_30d") == "count"
    assert signal_unit(spec, "csm_rating") is None


def test_explain_shows_days_since_login_in_days(tiny_workspace: Workspace) -> None:
    model = tiny_workspace.load_model()
    score(tiny_workspace, T, model)
    why = why_account(tiny_workspace.duckdb, model, "A")
    line = next(s for s in why.losses if s.name == "days_since_login")
    assert line.raw is not None
    text = to_text(why_renderable(why), width=160)
    row = next(r for r in text.splitlines() if "days_since_login" in r and "usage" in r)
    assert re.search(r"\d+(\.\d)? days?\b", row), row
    assert why.to_dict()["units"]["days_since_login"] == "days"
