"""/admin/models and /api/v1/admin/models: refusals, check with lines, comparison, activation."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_models_world import heavier_usage, served_copy
from fastapi.routing import APIRoute

from conftest import World, WorldTemplate
from vitalsign.engine.run import compute_scores
from vitalsign.model.loader import parse_model
from vitalsign.store.model_history import model_versions
from vitalsign.web import admin_models_api

API = "/api/v1/admin/models"
PAGES_GET = ["/admin/models", "/admin/models/candidates/any"]
PAGES_POST = [
    "/admin/models/upload",
    "/admin/models/pick",
    "/admin/models/candidates/any/activate",
    "/admin/models/versions/1/activate",
]
API_GET = [API, f"{API}/candidates/any/preview"]
API_POST = [f"{API}/check", f"{API}/candidates", f"{API}/activate"]


@pytest.fixture(scope="module")
def served(
    world: World, world_template: WorldTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A served copy of the web world (activations must not change the shared one)."""
    with served_copy(world, world_template, tmp_path_factory.mktemp("admin-models")) as copy:
        yield copy


def csrf_of(client: httpx.Client, path: str = "/admin/models") -> str:
    """The CSRF token of a signed-in admin's form."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def wait_for_preview(client: httpx.Client, candidate_id: str) -> dict[str, Any]:
    """Poll the preview API until the comparison job is no longer running."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = client.get(f"{API}/candidates/{candidate_id}/preview").json()
        if body["state"] != "running" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_anonymous_is_sent_to_sign_in_or_refused(served: World) -> None:
    with served.client() as anonymous:
        for path in PAGES_GET:
            reply = anonymous.get(path)
            assert reply.status_code == 303 and "/login" in reply.headers["location"], path
        for path in PAGES_POST:
            reply = anonymous.post(path, data={"csrf_token": "x", "name": "a.yml"})
            assert reply.status_code == 303 and "/login" in reply.headers["location"], path
        for path in API_GET:
            assert anonymous.get(path).status_code == 401, path
        for path in API_POST:
            assert anonymous.post(path, json={"text": "x", "version": 1}).status_code == 401


@pytest.mark.parametrize("user", ["maria", "vic", "alice"])
def test_every_role_but_admin_is_refused_pages_forms_and_api(served: World, user: str) -> None:
    with served.login(user) as session, served.client(user) as token:
        for path in PAGES_GET:
            assert session.get(path).status_code == 403, (user, path)
        csrf = session.cookies.get("vitalsign_csrf") or "x"
        for path in PAGES_POST:
            reply = session.post(path, data={"csrf_token": csrf, "name": "default.proposed.yml"})
            assert reply.status_code == 403, (user, path)
        for path in API_GET:
            assert token.get(path).status_code == 403, (user, path)
        for path in API_POST:
            reply = token.post(path, json={"text": "name: x", "version": 1})
            assert reply.status_code == 403, (user, path)
    assert model_versions(served.workspace.duckdb) == []


def test_forms_and_session_api_changes_need_the_csrf_token(served: World) -> None:
    text = served.workspace.model_path.read_text(encoding="utf-8")
    with served.login("root") as admin:
        for path in PAGES_POST:
            reply = admin.post(path, data={"csrf_token": "forged", "name": "x.yml"})
            assert reply.status_code == 403 and "expired" in reply.text, path
        upload = admin.post(
            "/admin/models/upload", files={"file": ("m.yml", text.encode())}, data={}
        )
        assert upload.status_code == 403
        for path in (f"{API}/candidates", f"{API}/activate"):
            assert admin.post(path, json={"text": text, "version": 1}).status_code == 403
    assert model_versions(served.workspace.duckdb) == []


def test_an_upload_with_a_mistake_shows_it_with_its_line(served: World) -> None:
    text = served.workspace.model_path.read_text(encoding="utf-8")
    broken = text.replace("window: 30d", "window: 30x", 1)
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "30x" in row)
    with served.login("root") as admin:
        reply = admin.post(
            "/admin/models/upload",
            files={"file": ("broken.yml", broken.encode())},
            data={"csrf_token": csrf_of(admin)},
        )
        assert reply.status_code == 422
        problems = reply.text.split('id="check-problems"', 1)[1].split("</table>", 1)[0]
        assert f'<td class="num">{line}</td>' in problems and "window" in problems
    with served.client("root") as api:
        checked = api.post(f"{API}/check", json={"text": broken, "source": "broken.yml"}).json()
        assert checked["ok"] is False
        assert [p["line"] for p in checked["problems"]] == [line]
        assert checked["problems"][0]["text"].startswith(f"broken.yml:{line} ")
        refused = api.post(f"{API}/candidates", json={"text": broken, "source": "broken.yml"})
        assert refused.status_code == 400 and f"broken.yml:{line}" in refused.text
    assert model_versions(served.workspace.duckdb) == []


def test_a_candidate_is_compared_activated_audited_and_reactivated(served: World) -> None:
    workspace = served.workspace
    original = workspace.model_path.read_text(encoding="utf-8")
    active = workspace.load_model()
    heavier = heavier_usage(original, "default-heavier")
    with served.login("root") as admin:
        reply = admin.post(
            "/admin/models/upload",
            files={"file": ("heavier.yml", heavier.encode())},
            data={"csrf_token": csrf_of(admin)},
        )
        assert reply.status_code == 303, reply.text
        candidate_id = reply.headers["location"].split("/candidates/", 1)[1].split("?", 1)[0]
    with served.client("root") as api:
        preview = wait_for_preview(api, candidate_id)
        assert preview["state"] == "done", preview
        usage = {w["signal"]: w for w in preview["weights"] if w["scorecard"] == "default"}
        assert usage["logins_30d"]["after"] > usage["logins_30d"]["before"]
        assert usage["nps_latest"]["after"] < usage["nps_latest"]["before"]
        keyed = [f for f in preview["findings"] if f["key"].split(".")[0] in ("signals", "gate")]
        assert all(f["line"] for f in keyed)  # `check` against the data, located in the file
        found = preview["comparison"]
        assert found is not None and found["rows"] > 0 and found["churned"] > 0
        latest = dt.date.fromisoformat(found["latest"])
        bands = [
            compute_scores(workspace.backend, m, [latest]).scores.set_index("account_id")
            for m in (active, parse_model(heavier, "heavier.yml"))
        ]
        both = bands[0][["computed_band"]].join(bands[1][["computed_band"]], rsuffix="_b")
        moved = int((both["computed_band"] != both["computed_band_b"]).sum())
        assert found["changed_band"] == moved > 0
        assert found["accounts_latest"] == len(bands[0])
        moves = found["band_moves"]
        assert sum(sum(row.values()) for row in moves.values()) == len(bands[0])
        assert moved == sum(n for a, row in moves.items() for b, n in row.items() if a != b)
    with served.login("root") as admin:
        page = admin.get(f"/admin/models/candidates/{candidate_id}")
        assert 'id="comparison"' in page.text and 'id="weight-changes"' in page.text
        assert f"<strong>{found['changed_band']}</strong> of" in page.text
        token = csrf_of(admin)
        done = admin.post(
            f"/admin/models/candidates/{candidate_id}/activate", data={"csrf_token": token}
        )
        assert done.status_code == 303
        assert workspace.model_path.read_text(encoding="utf-8") == heavier
        shown = admin.get("/admin/models").text
        assert "default-heavier" in shown.split('id="active-model"', 1)[1].split("</section>")[0]
        assert "activated by <strong>root</strong>" in shown
    with served.client("root") as api:
        assert api.get("/api/v1/model").json()["name"] == "default-heavier"  # the next request
        listed = api.get(API).json()
        assert [v["model_name"] for v in listed["versions"]] == ["default-heavier", "default"]
        assert listed["active"]["version"]["activated_by"] == "root"
        again = api.post(f"{API}/activate", json={"version": 1})
        assert again.status_code == 200 and again.json()["source"] == "version 1"
        assert workspace.model_path.read_text(encoding="utf-8") == original
        twice = api.post(f"{API}/activate", json={"version": 1})
        assert twice.status_code == 400 and "active model already" in twice.text
    audit = (
        workspace.duckdb.cursor()
        .execute(
            "SELECT actor, subject, detail FROM audit_log WHERE action = 'model.activate' "
            "ORDER BY logged_at"
        )
        .fetchall()
    )
    assert [(a, s) for a, s, _ in audit] == [("root", "default-heavier"), ("root", "default")]
    assert json.loads(audit[-1][2])["from"] == "version 1"


def test_a_proposal_beside_the_model_can_be_picked(served: World) -> None:
    folder = served.workspace.model_path.parent
    text = heavier_usage(served.workspace.model_path.read_text(encoding="utf-8"), "proposed")
    (folder / "default.proposed.yml").write_text(text, encoding="utf-8")
    with served.login("root") as admin:
        page = admin.get("/admin/models").text
        assert "default.proposed.yml (proposed by calibrate)" in page
        token = csrf_of(admin)
        picked = admin.post(
            "/admin/models/pick", data={"csrf_token": token, "name": "default.proposed.yml"}
        )
        assert (
            picked.status_code == 303 and "/admin/models/candidates/" in picked.headers["location"]
        )
        outside = admin.post(
            "/admin/models/pick", data={"csrf_token": token, "name": "../vitalsign.yml"}
        )
        assert outside.status_code == 400 and "no model file" in outside.text


def test_every_route_is_documented() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    api_md = (docs / "api.md").read_text(encoding="utf-8")
    web_md = (docs / "web.md").read_text(encoding="utf-8")
    for route in admin_models_api.router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            assert f"`{method} {route.path}" in api_md, f"{method} {route.path} in docs/api.md"
    assert "`/admin/models`" in web_md
    for button in ("Upload and check", "Activate", "Re-activate"):  # the page's actions
        assert f"**{button}**" in web_md, button


def test_a_model_file_that_does_not_load_is_shown_and_can_be_replaced(served: World) -> None:
    path = served.workspace.model_path
    kept = path.read_text(encoding="utf-8")
    path.write_text(kept.replace("window: 30d", "window: 30x", 1), encoding="utf-8")
    with served.login("root") as admin:
        page = admin.get("/admin/models")
        assert page.status_code == 200 and 'id="active-broken"' in page.text
        assert "window" in page.text.split('id="active-broken"', 1)[1].split("</p>", 1)[0]
    with served.client("root") as api:
        assert api.get(API).json()["active"]["problem"]
        fixed = api.post(f"{API}/candidates", json={"text": kept, "source": "fixed.yml"})
        candidate_id = fixed.json()["candidate_id"]
        assert api.get(f"{API}/candidates/{candidate_id}/preview").json()["state"] == "failed"
        made = api.post(f"{API}/activate", json={"candidate_id": candidate_id})
        assert made.status_code == 200 and made.json()["source"] == "fixed.yml"
    assert path.read_text(encoding="utf-8") == kept
    assert served.workspace.load_model().hash == made.json()["model_hash"]
