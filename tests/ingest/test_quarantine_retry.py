"""Retrying quarantined rows: today's data and mapping, exactly once, counted for people."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import add_account, count

from vitalsign.ingest.files import load_file
from vitalsign.ingest.retry import retry_group, retry_mapping, retry_quarantined
from vitalsign.ingest.sync import sync_workspace
from vitalsign.store.workspace import Workspace, open_workspace

MAPPING = {"ticket_id": "Id", "account_id": "Org", "created_at": "Opened"}


def _tickets(workspace: Workspace, folder: Path, rows: list[tuple[str, str]]) -> Path:
    """Write and load a tickets file of (ticket id, account id) rows."""
    path = folder / "tickets.csv"
    path.write_text("Id,Org,Opened\n" + "".join(f"{t},{a},2024-01-02\n" for t, a in rows))
    load_file(workspace, path, "tickets", MAPPING)
    return path


def test_rows_of_a_declared_source_are_retried_with_its_fixed_mapping(tmp_path: Path) -> None:
    from vitalsign.store.workspace import init_workspace

    workspace = init_workspace(tmp_path / "ws")
    add_account(workspace, "a1")
    (workspace.root / "tickets.csv").write_text("Id,Org,Opened\nt1,a1,2024-01-02\nt2,a1,x\n")
    config = workspace.root / "vitalsign.yml"
    declared = (
        "sources:\n  - name: desk\n    path: tickets.csv\n    into: tickets\n"
        "    columns: {ticket_id: Id, account_id: Org, created_at: Id}\n"  # wrong: Id is no date
    )
    config.write_text(config.read_text() + declared)
    workspace.close()
    workspace = open_workspace(tmp_path / "ws")
    result = sync_workspace(workspace, show_progress=False)
    assert result.results[0].quarantined == 2
    assert count(workspace, "SELECT count(*) FROM tickets") == 0
    config.write_text(config.read_text().replace("created_at: Id", "created_at: Opened"))
    workspace.close()
    workspace = open_workspace(tmp_path / "ws")  # the admin fixed vitalsign.yml

    outcome = retry_quarantined(workspace)

    assert (outcome.retried, outcome.loaded, outcome.kept) == (2, 1, 1)
    assert count(workspace, "SELECT count(*) FROM tickets WHERE ticket_id = 't1'") == 1
    (reason,) = outcome.reasons
    assert "created_at" in reason and outcome.summary() == (
        "Retried 2 rows: 1 loaded, 1 still quarantined."
    )
    workspace.close()


def test_rows_another_retry_already_loaded_are_left_alone(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_account(workspace, "a1")
    _tickets(workspace, tmp_path, [("t1", "a9"), ("t2", "a9")])
    rows = workspace.duckdb.execute(
        "SELECT quarantine_id, source, mapping FROM quarantine ORDER BY 1"
    ).fetchall()
    ids, label, stored = [r[0] for r in rows], rows[0][1], rows[0][2]
    add_account(workspace, "a9")
    first = retry_quarantined(workspace)
    assert (first.loaded, first.kept) == (2, 0)

    # a retry that chose the same rows before the first one committed (a stale choice)
    mapping = retry_mapping(workspace, label, "tickets", stored)
    late = retry_group(workspace, label, "tickets", mapping, ids)

    assert (late.read, late.loaded) == (0, 0)
    statuses = workspace.duckdb.execute("SELECT DISTINCT status FROM quarantine").fetchall()
    assert statuses == [("loaded",)]  # not turned into 'duplicate' by the late retry
    assert count(workspace, "SELECT count(*) FROM tickets") == 2
    assert retry_quarantined(workspace).retried == 0


def test_two_retries_at_the_same_moment_load_each_row_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    _tickets(workspace, tmp_path, [(f"t{i}", "late") for i in range(40)])
    add_account(workspace, "late")
    workspace.duckdb.execute("CHECKPOINT")
    start = threading.Barrier(2)
    outcomes = []

    def retry() -> None:
        own = open_workspace(workspace.root)  # its own connection, as a request or job has
        try:
            start.wait()
            outcomes.append(retry_quarantined(own))
        finally:
            own.close()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(outcomes) == 2
    assert sum(o.loaded for o in outcomes) == 40  # each row loaded by exactly one of them
    assert sum(o.duplicates for o in outcomes) == 0
    assert count(workspace, "SELECT count(*) FROM tickets") == 40
    assert count(workspace, "SELECT count(DISTINCT ticket_id) FROM tickets") == 40
    assert count(workspace, "SELECT count(*) FROM quarantine WHERE status = 'loaded'") == 40


_batch = itertools.count()


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    owners=st.lists(st.sampled_from(["a1", "a2", "a3", "zz"]), min_size=1, max_size=8),
    arrivals=st.lists(st.sampled_from(["a2", "a3"]), max_size=2),
)
def test_every_quarantined_row_ends_loaded_once_or_pending_whatever_the_retries(
    workspace: Workspace, tmp_path: Path, owners: list[str], arrivals: list[str]
) -> None:
    batch = next(_batch)
    known = {r[0] for r in workspace.duckdb.execute("SELECT account_id FROM accounts").fetchall()}
    if "a1" not in known:
        add_account(workspace, "a1")
        known.add("a1")
    folder = tmp_path / f"b{batch}"
    folder.mkdir()
    rows = [(f"b{batch}-{i}", owner) for i, owner in enumerate(owners)]
    _tickets(workspace, folder, rows)
    for account in arrivals:  # accounts arrive between retries; each retry runs twice
        if account not in known:
            add_account(workspace, account)
            known.add(account)
        retry_quarantined(workspace)
        assert retry_quarantined(workspace).loaded == 0
    retry_quarantined(workspace)

    for ticket, owner in rows:
        stored = count(workspace, f"SELECT count(*) FROM tickets WHERE ticket_id = '{ticket}'")
        assert stored == (1 if owner in known else 0)
    pending = count(
        workspace,
        f"SELECT count(*) FROM quarantine WHERE status = 'pending' AND raw LIKE '%b{batch}-%'",
    )
    assert pending == sum(1 for _, owner in rows if owner not in known)
