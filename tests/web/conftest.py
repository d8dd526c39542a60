"""A scored demo workspace with alerts, tasks, users of every role, and the app served by uvicorn.

Built once per session: a 150-account demo world with eight weekly snapshots, the last one
re-scored under a changed model (so the history has a model change), alerts evaluated on it,
and five users: root (admin), maria (manager), vic (viewer), and the csms alice and bob.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from rich.console import Console

from vitalsign.alerts import evaluate_alerts, parse_alert_config
from vitalsign.demo.build import build_demo
from vitalsign.engine.run import score
from vitalsign.store.workspace import Workspace, open_workspace
from vitalsign.web import WebSettings, create_app
from vitalsign.web.tokens import create_token
from vitalsign.web.users import add_user

PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is not installed (run scripts/install-system-deps.sh)",
)
ALICE = "alice@vendor.example"
BOB = "bob@vendor.example"
ROLES = {"root": "admin", "maria": "manager", "vic": "viewer", "alice": "csm", "bob": "csm"}
OWNERS = {"alice": ALICE, "bob": BOB}
ALERTS_YML = """\
baseline: false  # one evaluation: alert what holds (the first-run baseline is tested in alerts)
steady: {persistence: 1}
playbooks:
  save_plan:
    title: "Save plan for {account_name}"
    steps: ["Read the explanation", "Call the champion"]
    due: 7d
rules:
  low_score:
    type: score_below
    value: 60
    severity: warning
    playbook: save_plan
"""


@dataclass
class World:
    """The served workspace and what tests need to reach it."""

    workspace: Workspace
    url: str
    tokens: dict[str, str]
    alice_account: str
    bob_account: str
    latest: dt.date
    previous: dt.date
    model_hashes: list[str]

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client to the server, with `user`'s API token when given."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @contextmanager
    def login(self, user: str) -> Iterator[httpx.Client]:
        """A client signed in through the login form (session cookie)."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            form = client.get("/login")
            token = client.cookies["vitalsign_login_csrf"]
            assert form.status_code == 200
            reply = client.post(
                "/login", data={"username": user, "password": PASSWORD, "csrf_token": token}
            )
            assert reply.status_code == 303, reply.text
            yield client


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServedApp:
    """A FastAPI app served by uvicorn in a background thread on 127.0.0.1."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """One headless Debian Chromium for the session (never downloaded; skipped without it).

    Launching one costs a second or more; every browser module shares it (see `chromium`).
    """
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def chromium(chromium_browser: Any) -> Iterator[object]:
    """The session's Chromium for one test module; the module's pages close after it.

    Each page of `sign_in` has a browser context of its own (cookies, storage), so modules
    share nothing but the browser process.
    """
    yield chromium_browser
    for context in list(chromium_browser.contexts):
        context.close()


def sign_in(
    chromium: object,
    url: str,
    user: str,
    viewport: dict[str, int] | None = None,
    **options: object,
) -> object:
    """A new page of `chromium` signed in as `user` through the login form (desktop size)."""
    page = chromium.new_page(  # type: ignore[attr-defined]
        viewport=viewport or {"width": 1360, "height": 900}, **options
    )
    page.set_default_timeout(20_000)
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def build_world(root: Path) -> tuple[Workspace, dict[str, str], list[str]]:
    """Build the demo workspace, change the model for the last snapshot, open alerts, add users."""
    build_demo(root, accounts=150, seed=3, weeks=8, console=Console(file=io.StringIO()))
    workspace = open_workspace(root)
    model = workspace.load_model()
    dates = [
        r[0]
        for r in workspace.duckdb.execute(
            "SELECT DISTINCT snapshot_date FROM scores ORDER BY 1"
        ).fetchall()
    ]
    text = workspace.model_path.read_text(encoding="utf-8")
    workspace.model_path.write_text(
        text.replace("min_coverage: 0.5 ", "min_coverage: 0.45 "), encoding="utf-8"
    )
    changed = workspace.load_model()
    assert changed.hash != model.hash, "the model edit must change the model's hash"
    score(workspace, dates[-1], changed)
    config = parse_alert_config(ALERTS_YML, "alerts.yml", changed.spec)
    evaluate_alerts(workspace.duckdb, config, changed, notify=False)
    tokens = {}
    for name, role in ROLES.items():
        add_user(workspace.duckdb, name, role, PASSWORD, OWNERS.get(name), actor="test")
        tokens[name] = create_token(workspace.duckdb, name, "tests", actor="test")[1]
    return workspace, tokens, [model.hash, changed.hash]


def red_account(world: World) -> str:
    """The latest snapshot's lowest-scored account whose computed band is red."""
    row = (
        world.workspace.duckdb.cursor()
        .execute(
            "SELECT account_id FROM scores WHERE snapshot_date = ? AND computed_band = 'red' "
            "ORDER BY score, account_id LIMIT 1",
            [world.latest],
        )
        .fetchone()
    )
    assert row is not None, "the web world has a red account"
    return str(row[0])


def _account_with_alert(workspace: Workspace, owner: str) -> str:
    row = workspace.duckdb.execute(
        "SELECT a.account_id FROM alerts a JOIN accounts c USING (account_id) "
        "WHERE c.owner = ? AND a.status = 'open' ORDER BY a.account_id LIMIT 1",
        [owner],
    ).fetchone()
    assert row is not None, f"the demo world must give {owner} an alert"
    return str(row[0])


@dataclass(frozen=True)
class WorldTemplate:
    """The demo world of build_world, built once and closed: copy it, never change it."""

    root: Path
    tokens: dict[str, str]
    model_hashes: list[str]

    def copy(self, root: Path) -> tuple[Workspace, dict[str, str], list[str]]:
        """A copy of the world at `root`, opened: build_world's answer, without the build."""
        shutil.copytree(self.root, root)
        return open_workspace(root), dict(self.tokens), list(self.model_hashes)


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> WorldTemplate:
    """build_world once per session (several seconds) for every module that needs the world."""
    root = tmp_path_factory.mktemp("web-template") / "ws"
    workspace, tokens, hashes = build_world(root)
    workspace.close()  # checkpointed: the copies start from one database file
    return WorldTemplate(root, tokens, hashes)


@pytest.fixture(scope="session")
def world(
    tmp_path_factory: pytest.TempPathFactory, world_template: WorldTemplate
) -> Iterator[World]:
    """The served demo workspace (shared by the web tests; each test uses its own accounts)."""
    workspace, tokens, hashes = world_template.copy(tmp_path_factory.mktemp("web") / "ws")
    dates = [
        r[0]
        for r in workspace.duckdb.execute(
            "SELECT DISTINCT snapshot_date FROM scores ORDER BY 1"
        ).fetchall()
    ]
    app = create_app(workspace, WebSettings(page_size=20))
    with ServedApp(app) as served:
        yield World(
            workspace=workspace,
            url=served.url,
            tokens=tokens,
            alice_account=_account_with_alert(workspace, ALICE),
            bob_account=_account_with_alert(workspace, BOB),
            latest=dates[-1],
            previous=dates[-2],
            model_hashes=hashes,
        )
    workspace.close()
