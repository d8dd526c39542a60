"""/admin/models in headless Debian Chromium: a mistake with its line, a comparison, activation.

Screenshots in tests/artifacts/ (admin-models-*.png). Runs on a served copy of the web world:
the activation replaces the model file, which the shared world must keep.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from admin_models_world import heavier_usage, served_copy

from conftest import ARTIFACTS, World, WorldTemplate, needs_chromium, sign_in

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(
    world: World, world_template: WorldTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A served copy of the web world."""
    folder = tmp_path_factory.mktemp("admin-models-browser")
    with served_copy(world, world_template, folder) as copy:
        yield copy


def test_an_admin_checks_compares_and_activates_a_model(chromium: object, served: World) -> None:
    text = served.workspace.model_path.read_text(encoding="utf-8")
    broken = text.replace("window: 30d", "window: 30x", 1)
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "30x" in row)
    page = sign_in(chromium, served.url, "root")
    page.goto(f"{served.url}/admin/models")
    assert "No activation recorded" in page.inner_text("#active-model")

    # a file with a mistake: the problem with its line number, nothing activated
    upload = {"name": "broken.yml", "mimeType": "text/yaml", "buffer": broken.encode()}
    page.set_input_files("#upload-form input[type=file]", upload)
    page.click("#upload-form button[type=submit]")
    problems = page.locator("#check-problems tbody tr")
    assert problems.count() == 1
    cells = problems.first.locator("td").all_inner_texts()
    assert cells[0] == str(line) and "window" in cells[1]
    page.screenshot(path=str(ARTIFACTS / "admin-models-check.png"), full_page=True)

    # a good one: the weight changes, then the comparison once its job is done
    good = heavier_usage(text, "default-heavier")
    upload = {"name": "heavier.yml", "mimeType": "text/yaml", "buffer": good.encode()}
    page.set_input_files("#upload-form input[type=file]", upload)
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/admin/models/candidates/**")
    assert "logins_30d" in page.inner_text("#weight-changes")
    page.wait_for_selector("#comparison, #comparison-failed", timeout=60_000)
    assert page.locator("#comparison-failed").count() == 0
    assert "would change band" in page.inner_text("#band-changes")
    assert page.locator("#band-moves tbody tr").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "admin-models-compare.png"), full_page=True)

    # activate: the notice, the active model with who, the history with both versions
    page.click("#activate-form button[type=submit]")
    page.wait_for_selector("#notice")
    assert "default-heavier" in page.inner_text("#active-model")
    assert "activated by root" in page.inner_text("#activated-by")
    rows = page.locator("#versions tbody tr").all_inner_texts()
    assert len(rows) == 2 and "default-heavier" in rows[0]
    assert "in place before any activation" in rows[1]
    assert served.workspace.model_path.read_text(encoding="utf-8") == good
    page.screenshot(path=str(ARTIFACTS / "admin-models-history.png"), full_page=True)

    # the previous version back, from its history row
    page.locator("#versions tbody tr").nth(1).locator("button").click()
    page.wait_for_selector("#notice")
    assert served.workspace.model_path.read_text(encoding="utf-8") == text
    page.close()
