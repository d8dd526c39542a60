"""Commands a server never runs (demo, init) leave an open workspace alone (trial 12, 1 and 12).

A real process holds the workspace's DuckDB file as `vitalsign serve` does; a real
`vitalsign demo` on that folder must wait, then refuse naming the process, and delete
nothing; its advice is to stop the server, not to "run commands as usual".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vitalsign.store.output_paths import DEMO_MARK
from vitalsign.store.workspace import init_workspace

HOLD = """
import sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])  # as `vitalsign serve` holds it, all along
print("holding", flush=True)
time.sleep(60)
"""


def test_demo_refuses_to_replace_a_workspace_another_process_holds(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    (root / DEMO_MARK).write_text("an earlier demo\n", encoding="utf-8")
    (root / "alerts.yml").write_text("rules: []\n", encoding="utf-8")
    database = root / "vitalsign.duckdb"
    inode = database.stat().st_ino
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "VITALSIGN_LOCK_WAIT": "0.5"}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        result = subprocess.run(
            [sys.executable, "-m", "vitalsign", "demo", str(root), "--accounts", "20"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, "COLUMNS": "400"},
        )
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    message = " ".join(result.stderr.split())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"It is process {holder.pid}" in message
    assert "`vitalsign demo` never runs inside a server" in message
    assert "stop it first" in message
    assert "run `vitalsign` commands as usual" not in message
    assert "Generating a world" not in result.stdout  # refused before any work
    assert (root / "alerts.yml").read_text(encoding="utf-8") == "rules: []\n"
    assert database.stat().st_ino == inode  # the same file: nothing deleted or rebuilt


def test_main_stays_light_for_the_commands_a_server_may_run() -> None:
    code = (
        "import json, sys\nsys.argv = ['vitalsign', 'report', '--help']\n"
        "import vitalsign.cli\ntry:\n    vitalsign.cli.main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}
    assert "typer" in loaded  # the check sees what was imported
    assert not loaded & {"duckdb", "ibis", "pandas"}, sorted(loaded & {"duckdb", "ibis", "pandas"})
