"""/admin/sources and /admin/jobs in headless Debian Chromium: retry a row, run the job now.

Screenshots in tests/artifacts/: admin-sources.png, admin-sources-retried.png,
admin-jobs-running.png (while the job runs) and admin-jobs.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from admin_world import AdminWorld, admin_world

from conftest import ARTIFACTS, needs_chromium, sign_in

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    """One small served workspace for the module."""
    with admin_world(tmp_path_factory.mktemp("admin-browser") / "ws") as world:
        yield world


def test_an_admin_retries_a_quarantined_row_and_runs_the_daily_job_from_the_browser(
    chromium: object, served: AdminWorld
) -> None:
    page: object = sign_in(chromium, served.url, "root")
    page.click("#nav-admin")  # type: ignore[attr-defined]
    page.click("#admin-sections >> text=Sources")  # type: ignore[attr-defined]
    page.wait_for_url(f"{served.url}/admin/sources")  # type: ignore[attr-defined]
    quarantine = page.locator("#quarantine tbody tr")  # type: ignore[attr-defined]
    assert quarantine.count() == 3
    assert "unknown account" in page.inner_text("#quarantine")  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "admin-sources.png"), full_page=True)  # type: ignore[attr-defined]

    # the missing account arrives (as a CLI ingest would bring it); retry its row
    cursor = served.workspace.duckdb.cursor()
    cursor.execute(
        "INSERT INTO accounts (account_id, name, created_at) VALUES ('a9', 'Nine', '2023-01-01')"
    )
    row = cursor.execute(
        "SELECT min(quarantine_id) FROM quarantine WHERE raw LIKE '%a9%'"
    ).fetchone()
    cursor.close()
    page.check(f'#quarantine input[name=ids][value="{row[0]}"]')  # type: ignore[attr-defined]
    page.click("#retry-form button[value=chosen]")  # type: ignore[attr-defined]
    page.wait_for_selector("p.flash")  # type: ignore[attr-defined]
    flash = page.inner_text("p.flash")  # type: ignore[attr-defined]
    assert flash == "Retried 1 row: 1 loaded, 0 still quarantined."
    assert page.locator("#quarantine tbody tr").count() == 2  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "admin-sources-retried.png"), full_page=True)  # type: ignore[attr-defined]

    page.goto(f"{served.url}/admin/jobs")  # type: ignore[attr-defined]
    assert page.locator("#no-runs").count() == 1  # type: ignore[attr-defined]
    page.click("#run-now button")  # type: ignore[attr-defined]
    page.wait_for_selector("#job-running, #job-runs tr.job-ok")  # type: ignore[attr-defined]
    if page.locator("#job-running").count():  # type: ignore[attr-defined]
        assert "The daily job, started" in page.inner_text("#job-running")  # type: ignore[attr-defined]
        page.screenshot(path=str(ARTIFACTS / "admin-jobs-running.png"), full_page=True)  # type: ignore[attr-defined]
    # the page shows the run in progress and reloads itself until it ends
    page.wait_for_selector("#job-runs tr.job-ok", timeout=120_000)  # type: ignore[attr-defined]
    assert page.locator("#job-running").count() == 0  # type: ignore[attr-defined]
    cells = page.inner_text("#job-runs tbody tr")  # type: ignore[attr-defined]
    assert "daily" in cells and "root" in cells and "ok" in cells
    page.screenshot(path=str(ARTIFACTS / "admin-jobs.png"), full_page=True)  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]
