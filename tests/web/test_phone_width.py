"""The account list and an account page read on a phone: 390 px wide, no sideways scroll.

Headless Debian Chromium (Playwright) at 390 × 844; screenshots in tests/artifacts/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from conftest import ARTIFACTS, PASSWORD, ServedApp, needs_chromium, sign_in
from vitalsign.demo.build import build_demo
from vitalsign.store.workspace import open_workspace
from vitalsign.web import create_app
from vitalsign.web.users import add_user

PHONE = {"width": 390, "height": 844}

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A small demo world served with a manager; its URL and a red account."""
    root = tmp_path_factory.mktemp("phone") / "ws"
    build_demo(root, accounts=60, seed=5, weeks=2, console=Console(file=io.StringIO()))
    workspace = open_workspace(root)
    add_user(workspace.duckdb, "maria", "manager", PASSWORD, None, actor="test")
    row = workspace.duckdb.execute(  # a red account if there is one, else the lowest score
        "SELECT account_id FROM scores WHERE snapshot_date = (SELECT max(snapshot_date) "
        "FROM scores) ORDER BY band <> 'red', score, account_id LIMIT 1"
    ).fetchone()
    assert row is not None
    with ServedApp(create_app(workspace)) as app:
        yield app.url, str(row[0])
    workspace.close()


@pytest.fixture(scope="module")
def phone(chromium: object, served: tuple[str, str]) -> object:
    """A signed-in page in headless Chromium, 390 px wide."""
    url, _ = served
    return sign_in(chromium, url, "maria", PHONE, device_scale_factor=2, is_mobile=True)


def _overflow(page: object) -> dict[str, int]:
    """How wide the document is against the viewport (no sideways scroll: equal)."""
    found: dict[str, int] = page.evaluate(  # type: ignore[attr-defined]
        "() => ({page: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " viewport: window.innerWidth})"
    )
    return found


def _wider_than_viewport(page: object) -> list[str]:
    """The boxes sticking out of the viewport on the right (none may).

    A table scrolls inside itself; a chart's SVG is clipped to its own box.
    """
    found: list[str] = page.evaluate(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && !e.closest('table, svg'))
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                  + (e.className && typeof e.className === 'string' ? '.' + e.className : '')
                  + ' in #' + (e.closest('[id]') || {id: '?'}).id
                  + ' right ' + Math.round(e.getBoundingClientRect().right))"""
    )
    return found


def test_the_account_list_fits_a_phone(phone: object, served: tuple[str, str]) -> None:
    url, _ = served
    phone.goto(f"{url}/accounts")  # type: ignore[attr-defined]
    phone.wait_for_selector("#accounts tbody tr")  # type: ignore[attr-defined]
    phone.screenshot(path=str(ARTIFACTS / "accounts-phone.png"), full_page=True)  # type: ignore[attr-defined]
    sizes = _overflow(phone)
    assert sizes["page"] <= sizes["viewport"] == PHONE["width"], sizes
    assert sizes["body"] <= sizes["viewport"], sizes
    assert _wider_than_viewport(phone) == []
    # the table scrolls inside itself, and its first column (the account) is on screen
    first = phone.locator("#accounts tbody tr td").first.bounding_box()  # type: ignore[attr-defined]
    assert first is not None and first["x"] >= 0 and first["x"] + first["width"] <= 390


def test_an_account_page_fits_a_phone(phone: object, served: tuple[str, str]) -> None:
    url, account = served
    phone.goto(f"{url}/accounts/{account}")  # type: ignore[attr-defined]
    phone.wait_for_selector("h1")  # type: ignore[attr-defined]
    phone.wait_for_timeout(500)  # type: ignore[attr-defined]  # charts draw after load
    phone.screenshot(path=str(ARTIFACTS / "account-phone.png"), full_page=True)  # type: ignore[attr-defined]
    sizes = _overflow(phone)
    assert sizes["page"] <= sizes["viewport"] == PHONE["width"], sizes
    assert sizes["body"] <= sizes["viewport"], sizes
    assert _wider_than_viewport(phone) == []


def test_the_renewals_table_shows_band_labels_and_separates_counts_from_arr(
    phone: object, served: tuple[str, str]
) -> None:
    url, _ = served
    phone.goto(f"{url}/renewals")  # type: ignore[attr-defined]
    phone.wait_for_selector("#windows")  # type: ignore[attr-defined]
    headers: list[str] = phone.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#windows th .band')].map(e => e.innerText)"
    )
    assert headers and all(h == h.lower() for h in headers), headers
    cells: list[str] = phone.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#windows td[data-band]')].map(e => e.innerText)"
    )
    assert cells
    for cell in cells:  # "3 accounts" on one line, "$120,000" on the next
        count, arr = cell.split("\n")
        assert count.split()[0].isdigit() and count.split()[1].startswith("account"), cell
        assert arr.startswith("$"), cell


def _box(page: object, selector: str) -> dict[str, float]:
    box: dict[str, float] | None = page.locator(selector).first.bounding_box()  # type: ignore[attr-defined]
    assert box is not None, f"{selector} is not shown"
    return box


def test_score_and_band_come_first_in_the_account_list_on_a_phone(
    phone: object, served: tuple[str, str]
) -> None:
    url, _ = served
    phone.goto(f"{url}/accounts")  # type: ignore[attr-defined]
    phone.wait_for_selector("#accounts tbody tr")  # type: ignore[attr-defined]
    for selector in ("#accounts tbody tr td.score", "#accounts tbody tr td.band-cell .band"):
        box = _box(phone, selector)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    assert (
        _box(phone, "#accounts tbody tr td.band-cell")["x"]
        < _box(phone, "#accounts tbody tr td:nth-child(6)")["x"]
    )
    heights: list[float] = phone.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#accounts td.renewal')].map(td => {"
        " const r = document.createRange(); r.setStart(td.firstChild, 0);"
        " r.setEnd(td.firstChild, td.firstChild.length); return r.getClientRects().length; })"
    )
    assert heights and all(h == 1 for h in heights), heights  # the date on one line


def test_the_account_page_reads_on_a_phone(phone: object, served: tuple[str, str]) -> None:
    url, account = served
    phone.goto(f"{url}/accounts/{account}")  # type: ignore[attr-defined]
    phone.wait_for_selector("#signals tbody tr")  # type: ignore[attr-defined]
    phone.wait_for_timeout(500)  # type: ignore[attr-defined]  # charts draw after load
    phone.screenshot(path=str(ARTIFACTS / "account-phone-signals.png"), full_page=True)  # type: ignore[attr-defined]
    # the losses waterfall is not squeezed into 390 px: the signals table says the same
    losses: dict[str, float] | None = phone.locator("#chart-losses").bounding_box()  # type: ignore[attr-defined]
    assert losses is None or losses["width"] <= PHONE["width"]
    # the first signal's raw value, points and loss are on screen, above its group
    row = "#signals tbody tr:first-child"
    group = _box(phone, f"{row} td:nth-child(2)")
    for column in (3, 4, 7):
        cell = _box(phone, f"{row} td:nth-child({column})")
        assert cell["x"] + cell["width"] <= PHONE["width"], (column, cell)
        assert cell["y"] < group["y"], (column, cell, group)
    # the owner's e-mail stays inside its card, the renewal date on one line
    lines: int = phone.evaluate(  # type: ignore[attr-defined]
        "() => { const e = document.querySelector('#renewal-date').firstChild;"
        " const r = document.createRange(); r.setStart(e, 0); r.setEnd(e, e.length);"
        " return r.getClientRects().length; }"
    )
    assert lines == 1, lines
    inside: bool = phone.evaluate(  # type: ignore[attr-defined]
        "() => { const c = document.querySelector('#attributes');"
        " return c.scrollWidth <= c.clientWidth + 1; }"
    )
    assert inside
