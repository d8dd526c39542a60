"""The server and the command line side by side, as real processes (issue 12.1).

A real `vitalsign serve --schedule "*/10 * * * * *"` holds a scored demo workspace (its daily
job runs every ten seconds: a six-field cron, seconds first); real `vitalsign` processes run
report, users, ingest, override and alerts ack on the same workspace (the server runs them:
web/relay.py), and their effect is on the next request. Then the scheduled job, web overrides
and notes, and CLI writers act at the same moment, and every write is present exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from conftest import PASSWORD, WorldTemplate, free_port

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
CONFLICT = "another writer changed the same rows at the same moment"  # web/relay_server.py
ONE_SECOND = dt.timedelta(seconds=1)  # job_runs' start times are to the second
EVERY = 10  # seconds between the scheduled job's runs: the at-once test waits at most this


@dataclass
class Served:
    """A `vitalsign serve` process on a workspace, and what tests need to reach it."""

    root: Path
    url: str
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    accounts: list[tuple[str, str]]  # (account_id, owner), for tests to take their own
    alerts: list[str]  # open alert ids
    dates: list[dt.date]  # the snapshot dates of the history

    def api(self, user: str = "root") -> httpx.Client:
        """An API client with `user`'s token."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run `vitalsign ARGS -w ROOT` as its own process; return what it did.

        A command that lost a write conflict to the scheduled job (it says so and to run it
        again; nothing of it was saved) is run again, as a person would (see `_post`).
        """
        for _ in range(5):
            done = subprocess.run(
                [sys.executable, "-m", "vitalsign", *args, "-w", str(self.root)],
                capture_output=True,
                text=True,
                timeout=300,
                env=ENV,
                cwd=cwd or self.root.parent,
            )
            if done.returncode == 0 or CONFLICT not in " ".join(done.stderr.split()):
                break
            time.sleep(1.0)
        return done

    def daily_runs(self) -> dict[str, dict[str, Any]]:
        """The scheduled daily jobs the server has started so far (its job_runs), by run id."""
        with self.api() as api:
            runs = api.get("/api/v1/admin/jobs", params={"per_page": 200}).json()["runs"]
        scheduled = {r["run_id"]: r for r in runs if r["trigger"] == "schedule"}
        done = [r for r in scheduled.values() if r["status"] != "running"]
        assert all(r["status"] == "ok" for r in done), done
        return scheduled


def _login(url: str, user: str, password: str) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/login")
        token = client.cookies["vitalsign_login_csrf"]
        reply = client.post(
            "/login", data={"username": user, "password": password, "csrf_token": token}
        )
        return reply.status_code


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, world_template: WorldTemplate
) -> Iterator[Served]:
    """A scored demo workspace with users and open alerts, served by a real process."""
    root = tmp_path_factory.mktemp("side") / "ws"
    workspace, tokens, _ = world_template.copy(root)
    latest = workspace.duckdb.execute("SELECT max(snapshot_date) FROM scores").fetchone()[0]
    accounts = workspace.duckdb.execute(
        "SELECT account_id, owner FROM scores WHERE snapshot_date = ? ORDER BY account_id",
        [latest],
    ).fetchall()
    alerts = [
        r[0]
        for r in workspace.duckdb.execute(
            "SELECT alert_id FROM alerts WHERE status = 'open' ORDER BY alert_id"
        ).fetchall()
    ]
    dates = [
        r[0]
        for r in workspace.duckdb.execute(
            "SELECT DISTINCT snapshot_date FROM scores ORDER BY 1"
        ).fetchall()
    ]
    workspace.close()
    port = free_port()
    log = root.parent / "serve.log"
    with log.open("wb") as sink:
        command = [sys.executable, "-m", "vitalsign", "serve", "-w", str(root)]
        command += ["--port", str(port), "--schedule", f"*/{EVERY} * * * * *", "--no-sync"]
        process = subprocess.Popen(
            [*command, "--log-level", "warning"],
            env=ENV,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            httpx.get(f"{url}/login", timeout=2)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "vitalsign serve did not start"
            time.sleep(0.2)
    pairs = [(a, o) for a, o in accounts]
    yield Served(root, url, tokens, process, log, pairs, alerts, dates)
    process.terminate()
    process.wait(timeout=30)


def _utc(moment: str) -> dt.datetime:
    """A time of the API (ISO 8601, UTC, with or without its offset) as an aware datetime."""
    return dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def test_report_runs_while_the_server_serves(served: Served) -> None:
    with served.api() as api:
        portfolio = api.get("/api/v1/portfolio").json()
    out = _ok(served.cli("report", "--format", "json"))
    assert out.strip().startswith("{"), out[:200]
    assert "accounts" in out
    assert portfolio  # the server still answers after the command


def test_explain_and_a_backtest_writing_a_relative_file_run_while_the_server_serves(
    served: Served, tmp_path: Path
) -> None:
    account = served.accounts[2][0]
    explained = _ok(served.cli("explain", account))
    assert account in explained
    with served.api() as api:
        assert api.get(f"/api/v1/accounts/{account}/explain").status_code == 200
    quick = ("--bootstrap", "20", "--leak-dates", "0")  # the file's place is the point here
    out = _ok(served.cli("backtest", "--horizon", "28d", *quick, "--html", "bt.html", cwd=tmp_path))
    report = tmp_path / "bt.html"  # relative to the terminal's folder, not the server's
    assert report.stat().st_size > 10_000, out
    assert f"HTML report: {report}" in " ".join(out.split())


def test_a_user_added_by_the_cli_signs_in_and_is_removed_on_the_next_request(
    served: Served,
) -> None:
    _ok(served.cli("users", "add", "carol", "--role", "viewer", "--password", "carol pw 1234"))
    assert _login(served.url, "carol", "carol pw 1234") == 303
    token = _ok(served.cli("users", "token", "carol", "--label", "side")).split()[-1]
    with httpx.Client(base_url=served.url, timeout=60) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "carol"
        _ok(served.cli("users", "remove", "carol"))
        gone = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401
    assert _login(served.url, "carol", "carol pw 1234") != 303


def test_an_ingested_file_shows_on_the_next_request(served: Served, tmp_path: Path) -> None:
    account = served.accounts[0][0]
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    tickets = tmp_path / "side_tickets.csv"
    tickets.write_text(
        "ticket_id,account_id,created_at,priority,status,subject\n"
        f"side-1,{account},{created},high,open,Exports time out since Monday\n",
        encoding="utf-8",
    )
    _ok(served.cli("ingest", tickets.name, "--into", "tickets", cwd=tmp_path))  # a relative path
    with served.api() as api:
        timeline = api.get(f"/api/v1/accounts/{account}/timeline", params={"kind": "ticket"})
    assert timeline.status_code == 200, timeline.text
    subjects = [e["title"] + " " + str(e.get("detail", "")) for e in timeline.json()["items"]]
    assert any("Exports time out since Monday" in s for s in subjects), subjects[:5]


def test_an_override_and_an_acknowledgement_show_on_the_next_request(served: Served) -> None:
    account = served.accounts[1][0]
    _ok(served.cli("override", account, "--band", "red", "--reason", "side by side cli"))
    alert = served.alerts[0]
    _ok(served.cli("alerts", "ack", alert, "--note", "seen from the terminal"))
    with served.api() as api:
        overrides = api.get(f"/api/v1/accounts/{account}/overrides").json()["items"]
        score = api.get(f"/api/v1/accounts/{account}/score").json()
        acked = api.get(f"/api/v1/alerts/{alert}").json()
    assert [o["reason"] for o in overrides].count("side by side cli") == 1
    assert score["band"] == "red"
    assert acked["status"] == "acknowledged", acked


def _post(served: Served, path: str, body: dict[str, Any]) -> int:
    """POST as the admin; a 409 (another writer had the rows) is sent again, as a person would."""
    with served.api() as api:
        for _ in range(5):
            reply = api.post(path, json=body)
            if reply.status_code != 409:
                break
            time.sleep(1.0)
    return reply.status_code


def _web_override(served: Served, account: str, reason: str) -> int:
    body = {"target": "band", "value": "yellow", "reason": reason}
    return _post(served, f"/api/v1/accounts/{account}/overrides", body)


def _web_note(served: Served, account: str, body: str) -> int:
    return _post(served, f"/api/v1/accounts/{account}/notes", {"body": body})


def _load_pages(served: Served, accounts: list[str], stop: threading.Event) -> list[int]:
    """Load account pages as a signed-in user until `stop`; return every status."""
    statuses: list[int] = []
    with httpx.Client(base_url=served.url, timeout=60) as client:
        client.get("/login")
        token = client.cookies["vitalsign_login_csrf"]
        form = {"username": "maria", "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
        i = 0
        while not stop.is_set():
            statuses.append(client.get(f"/accounts/{accounts[i % len(accounts)]}").status_code)
            i += 1
    return statuses


def test_the_scheduled_job_web_users_and_cli_writers_at_once_lose_nothing(
    served: Served, tmp_path: Path
) -> None:
    now = time.time()
    time.sleep(max(0.0, EVERY - now % EVERY - 2.0))  # start two seconds before the job's next run
    started = dt.datetime.now(dt.UTC)
    web_accounts = [a for a, _ in served.accounts[10:18]]
    cli_accounts = [a for a, _ in served.accounts[18:22]]
    note_accounts = [a for a, _ in served.accounts[22:28]]
    users = [f"writer{i}" for i in range(3)]
    ticket_accounts = [a for a, _ in served.accounts[28:38]]
    header = "ticket_id,account_id,created_at,priority,status,subject,solved_at\n"
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    solved = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    before = tmp_path / "open_tickets.csv"  # loaded first; the file at once solves them
    opened = [f"upd-{i},{a},{created},high,open,Update {i}," for i, a in enumerate(ticket_accounts)]
    before.write_text(header + "\n".join(opened))
    _ok(served.cli("ingest", str(before), "--into", "tickets"))
    tickets = tmp_path / "at_once_tickets.csv"
    rows = [f"once-{i},{a},{created},low,open,At once {i}," for i, a in enumerate(ticket_accounts)]
    rows += [
        f"upd-{i},{a},{created},high,solved,Update {i},{solved}"
        for i, a in enumerate(ticket_accounts)
    ]
    tickets.write_text(header + "\n".join(rows))
    backfilled = served.dates[1:4]
    jobs: list[tuple[str, Any]] = []
    answers: dict[str, Any] = {}
    lock = threading.Lock()
    stop = threading.Event()
    pages = [a for a, _ in served.accounts[40:80]]
    with ThreadPoolExecutor(max_workers=50) as pool:
        loaders = [pool.submit(_load_pages, served, pages[i::20], stop) for i in range(20)]
        first, last = backfilled[0].isoformat(), backfilled[-1].isoformat()
        jobs.append(
            ("backfill", pool.submit(served.cli, "backfill", "--from", first, "--to", last))
        )
        jobs.append(
            ("ingest", pool.submit(served.cli, "ingest", str(tickets), "--into", "tickets"))
        )
        for i, account in enumerate(web_accounts):
            jobs.append((f"web-{i}", pool.submit(_web_override, served, account, f"web-{i}")))
        for i, account in enumerate(note_accounts):
            jobs.append((f"note-{i}", pool.submit(_web_note, served, account, f"note-{i}")))
        for i, account in enumerate(cli_accounts):
            args = ("override", account, "--band", "red", "--reason", f"cli-{i}")
            jobs.append((f"cli-{i}", pool.submit(served.cli, *args)))
        for name in users:
            args = ("users", "add", name, "--role", "viewer", "--password", PASSWORD)
            jobs.append((name, pool.submit(served.cli, *args)))
        try:
            for name, future in jobs:
                with lock:
                    answers[name] = future.result(timeout=600)
        finally:
            stop.set()
        statuses = [status for loader in loaders for status in loader.result(timeout=60)]
    assert statuses and set(statuses) == {200}, sorted(set(statuses))  # answered throughout
    for name, answer in answers.items():
        if isinstance(answer, int):
            assert answer == 201, (name, answer)
        else:
            _ok(answer)
    ended = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + 90
    while True:  # the scheduled jobs that ran while the writers wrote have finished, ok
        during = [
            run
            for run in served.daily_runs().values()
            if _utc(run["started_at"]) <= ended
            and (run["finished_at"] is None or started <= _utc(run["finished_at"]) + ONE_SECOND)
        ]
        if during and all(run["status"] == "ok" for run in during):
            break
        assert time.monotonic() < deadline, "no scheduled job ran during the writes"
        time.sleep(0.5)
    with served.api() as api:
        for i, account in enumerate(web_accounts + cli_accounts):
            reason = f"web-{i}" if i < len(web_accounts) else f"cli-{i - len(web_accounts)}"
            items = api.get(f"/api/v1/accounts/{account}/overrides").json()["items"]
            assert [o["reason"] for o in items].count(reason) == 1, (account, items)
        for i, account in enumerate(note_accounts):
            items = api.get(f"/api/v1/accounts/{account}/notes").json()["items"]
            assert [n["body"] for n in items].count(f"note-{i}") == 1, (account, items)
        for i, account in enumerate(ticket_accounts):
            path = f"/api/v1/accounts/{account}/timeline"
            items = api.get(path, params={"kind": "ticket"}).json()["items"]
            titles = [f"{e['title']} {e.get('detail') or ''}" for e in items]
            assert sum(f"At once {i} " in f"{t} " for t in titles) == 1, (account, titles)
            assert sum(f"Ticket opened: Update {i} " in f"{t} " for t in titles) == 1, titles
            assert sum(f"Ticket solved: Update {i} " in f"{t} " for t in titles) == 1, titles
        for account in [a for a, _ in served.accounts[:5]]:
            history = api.get(f"/api/v1/accounts/{account}/history").json()
            days = [h["snapshot_date"] for h in history["items"]]
            for day in backfilled:  # re-scored in place: each date once
                assert days.count(day.isoformat()) == 1, (account, days)
    listed = _ok(served.cli("users", "list"))
    for name in users:
        assert listed.split().count(name) == 1, listed
        assert _login(served.url, name, PASSWORD) == 303
    assert served.process.poll() is None


def test_relayed_arguments_name_files_absolutely_and_the_workspace(tmp_path: Path) -> None:
    from vitalsign.web.relay import _leaf, relayed_argv, workspace_root

    (tmp_path / "tickets.csv").write_text("x\n", encoding="utf-8")
    root = tmp_path / "ws"
    argv = ["ingest", "tickets.csv", "--into", "tickets", "--mapping=missing.yml"]
    out = relayed_argv(argv, root, tmp_path, _leaf(argv))
    assert out[1] == str(tmp_path / "tickets.csv")  # exists here: made absolute
    assert out[-3] == f"--mapping={tmp_path / 'missing.yml'}"  # a file to be: absolute too
    assert out[-2:] == ["--workspace", str(root)]
    assert out[3] == "tickets"  # a plain value is left alone
    report = relayed_argv(["report", "-w", "ws"], root, tmp_path, _leaf(["report"]))
    assert report == ["report", "-w", "ws"]  # the workspace named is kept as given
    email = ["users", "add", "a", "--owner", "ann@vendor.example", "--password", "p"]
    assert relayed_argv(email, root, tmp_path, _leaf(email))[4] == "ann@vendor.example"
    assert workspace_root(["report", "--workspace=ws"], {}) == Path("ws").resolve()
    assert workspace_root(["report"], {"VITALSIGN_WORKSPACE": str(root)}) == root


def test_a_command_that_loses_a_write_conflict_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalsign.engine.run import score
    from vitalsign.store.workspace import init_workspace
    from vitalsign.web import relay_server
    from vitalsign.web.relay_server import run_command
    from world import load_tiny_world

    workspace = init_workspace(tmp_path / "ws")
    load_tiny_world(workspace.duckdb)
    day = dt.date.today()
    score(workspace, day, workspace.load_model())
    blocker = workspace.duckdb.cursor()  # another writer of the server, mid-transaction
    blocker.execute("BEGIN TRANSACTION")
    blocker.execute("DELETE FROM score_items WHERE snapshot_date = ?", [day])  # rows score rewrites
    waits: list[float] = []

    def commit_then_wait(delay: float) -> None:  # the other writer finishes while it waits
        if not waits:
            blocker.execute("COMMIT")
        waits.append(delay)
        time.sleep(delay)

    monkeypatch.setattr(relay_server, "time", SimpleNamespace(sleep=commit_then_wait))
    code = run_command(["score", "--as-of", day.isoformat(), "-w", str(workspace.root)])
    if not waits:
        blocker.execute("ROLLBACK")
    assert waits == [0.5]  # lost once, to the open transaction; won the second time
    err = capsys.readouterr().err
    assert code == 0, err
    assert "running `vitalsign score` again in 0.5 s" in err
    rows = workspace.duckdb.execute(
        "SELECT count(*), count(DISTINCT account_id) FROM scores WHERE snapshot_date = ?", [day]
    ).fetchone()
    assert rows[0] == rows[1] > 0  # one snapshot, each account once
    items = workspace.duckdb.execute(
        "SELECT count(*) FROM score_items WHERE snapshot_date = ?", [day]
    ).fetchone()[0]
    assert items > 0  # written by the second run, after the other writer's deletion
    blocker.execute("BEGIN TRANSACTION")
    blocker.execute("DELETE FROM score_items WHERE snapshot_date = ?", [day])
    code = run_command(["override", "--list", "-w", str(workspace.root)])
    blocker.execute("ROLLBACK")
    assert code == 0  # a reader is never in a conflict
    workspace.close()
