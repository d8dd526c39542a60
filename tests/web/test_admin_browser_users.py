"""The admin area's users and tokens pages in headless Debian Chromium: an admin adds a user,
changes their role, creates a token for them and revokes it. Screenshots in tests/artifacts/
(admin-users.png, admin-token-secret.png, admin-tokens.png). Skipped without /usr/bin/chromium.
"""

from __future__ import annotations

from conftest import ARTIFACTS, World, needs_chromium, sign_in

pytestmark = needs_chromium


def test_an_admin_adds_a_user_changes_their_role_and_revokes_their_token(
    chromium: object, world: World
) -> None:
    page = sign_in(chromium, world.url, "root")
    page.click("#nav-admin")
    page.click("#admin-sections a[href='/admin/users']")
    form = page.locator("#add-user-form")
    form.locator("input[name=name]").fill("adm-browser")
    form.locator("select[name=role]").select_option("csm")
    form.locator("input[name=owner]").fill("alice@vendor.example")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#one-time-password")  # no password typed: one was generated
    assert page.locator("#one-time-password code.secret").inner_text().strip()

    row = page.locator("tr[data-user='adm-browser']")
    row.locator(".role-form select[name=role]").select_option("manager")
    row.locator(".role-form button").click()
    page.wait_for_selector("text=Role of adm-browser changed.")
    assert page.locator("tr[data-user='adm-browser'] .role-form select").input_value() == "manager"
    page.locator("tr[data-user='adm-browser']").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "admin-users.png"), full_page=True)

    page.goto(f"{world.url}/admin/tokens")
    create = page.locator("#create-token-form")
    create.locator("select[name=user]").select_option("adm-browser")
    create.locator("input[name=label]").fill("browser export")
    create.locator("select[name=scope]").select_option("read")
    create.locator("button[type=submit]").click()
    page.wait_for_selector("#new-token")
    secret = page.locator("#new-token code.secret").inner_text().strip()
    assert secret.startswith("vst_")
    page.screenshot(path=str(ARTIFACTS / "admin-token-secret.png"), full_page=True)

    token = page.locator("#tokens tr", has_text="browser export")
    token_id = token.get_attribute("data-token")
    token.locator("button", has_text="Revoke").click()
    page.wait_for_selector(f"text=Token {token_id} revoked.")
    assert page.locator(f"tr[data-token='{token_id}'] .state").inner_text().startswith("revoked")
    assert secret not in page.content()
    page.screenshot(path=str(ARTIFACTS / "admin-tokens.png"), full_page=True)
    page.close()

    stored = world.workspace.duckdb.cursor().execute(
        "SELECT u.role, u.owner, t.scope, t.revoked_at IS NOT NULL FROM web_users u "
        "JOIN web_tokens t ON t.user_name = u.name WHERE u.name = 'adm-browser'"
    )
    assert stored.fetchall() == [("manager", "alice@vendor.example", "read", True)]
