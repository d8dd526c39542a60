"""/review and /api/v1/review over the real server: refusals, a review run from the page, reading.

An admin starts one review from the page (three-week periods and a two-week horizon fit the
web world's eight weekly snapshots); the other tests read what it stored.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ARTIFACTS, World, needs_chromium, sign_in
from vitalsign.analytics.review_store import REVIEW_FILE, reviews_root

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module")
def reviewed(world: World) -> dict[str, Any]:
    """The review root (an admin) started from the page, as stored in review.json."""
    with world.login("root") as browser:
        page = browser.get("/review").text
        assert 'id="run-review"' in page
        started = browser.post(
            "/review/run", data={"csrf_token": _token(page), "period": "21", "horizon": "14"}
        )
        assert started.status_code == 303
        deadline = time.monotonic() + 120
        while 'id="review-running"' in (page := browser.get("/review").text):
            assert time.monotonic() < deadline, "the review did not finish in 2 minutes"
            time.sleep(0.5)
    assert 'id="review-failed"' not in page, page
    [path] = sorted(reviews_root(world.workspace).glob(f"*/{REVIEW_FILE}"))
    stored: dict[str, Any] = json.loads(path.read_text())
    return stored


def test_anonymous_users_are_refused_everything(world: World) -> None:
    with world.client() as anonymous:
        page = anonymous.get("/review", follow_redirects=False)
        report = anonymous.get("/review/2024-01-01/report", follow_redirects=False)
        api = anonymous.get("/api/v1/review")
        run = anonymous.post("/review/run", data={"csrf_token": "x"}, follow_redirects=False)
    assert page.status_code in (302, 303, 307) and "/login" in page.headers["location"]
    assert report.status_code in (302, 303, 307)
    assert api.status_code == 401
    assert run.status_code in (302, 303, 307, 401)


def test_a_viewer_and_a_csm_read_the_review_but_cannot_start_one(
    world: World, reviewed: dict[str, Any]
) -> None:
    for user in ("vic", "bob"):
        with world.login(user) as browser:
            page = browser.get("/review").text
            assert f"as of {reviewed['as_of']}" in page
            assert 'id="run-review"' not in page
            refused = browser.post("/review/run", data={"csrf_token": _token(page)})
            assert refused.status_code == 403
        with world.client(user) as api:
            assert api.get("/api/v1/review").status_code == 200


def test_a_form_post_without_the_session_token_is_refused(world: World) -> None:
    with world.login("maria") as browser:
        refused = browser.post("/review/run", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and "expired" in refused.text


def test_the_page_shows_what_the_review_stored(world: World, reviewed: dict[str, Any]) -> None:
    with world.login("maria") as browser:
        page = browser.get("/review").text
        report = browser.get(f"/review/{reviewed['as_of']}/report")
    assert 'class="on">Review' in page
    for finding in reviewed["findings"]:
        assert html.escape(finding, quote=False) in page
    for drift in reviewed["signal_drift"]:
        assert f'data-signal="{drift["signal"]}"' in page
    assert 'id="chart-review-psi"' in page
    if reviewed["weight_stability"]:
        assert 'id="no-stability"' not in page
    else:  # the web world's few churners: calibrate kept the weights
        assert 'id="no-stability"' in page and "weights kept" in " ".join(reviewed["notes"])
    for band in reviewed["band_drift"]:
        assert f'data-band="{band["band"]}"' in page
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "Plotly.newPlot" in report.text and "<script src=" not in report.text


def test_the_api_answers_the_stored_review_typed(world: World, reviewed: dict[str, Any]) -> None:
    with world.client("vic") as api:
        body = api.get("/api/v1/review").json()
        missing = api.get("/api/v1/review", params={"as_of": "2001-01-01"})
    assert body["as_of"] == reviewed["as_of"]
    assert body["findings"] == reviewed["findings"]
    assert [d["psi"] for d in body["signal_drift"]] == [d["psi"] for d in reviewed["signal_drift"]]
    assert body["dates"] == [reviewed["as_of"]]
    assert missing.status_code == 404 and reviewed["as_of"] in missing.json()["error"]["message"]


def test_the_review_page_and_route_are_documented() -> None:
    assert "`/review`" in (DOCS / "web.md").read_text(encoding="utf-8")
    assert "`GET /api/v1/review`" in (DOCS / "api.md").read_text(encoding="utf-8")


@needs_chromium
def test_the_review_page_in_chromium_draws_the_psi_chart(
    chromium: object, world: World, reviewed: dict[str, Any]
) -> None:
    page: Any = sign_in(chromium, world.url, "vic")
    page.click("nav >> text=Review")
    page.wait_for_selector("#chart-review-psi .main-svg")
    bars = page.locator("#chart-review-psi .bars .point").count()
    assert bars == len(reviewed["signal_drift"]) + 1  # the signals and the score
    assert page.locator("#run-review").count() == 0  # a viewer reads only
    page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
    page.close()
