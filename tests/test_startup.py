"""The CLI starts fast: importing it loads none of the heavy libraries a command may need."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "ibis", "plotly", "sklearn", "fastapi", "scipy", "uvicorn")


def _modules_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _modules_after("import vitalsign.cli")
    assert "typer" in loaded  # the check can see what was imported
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_help_of_every_light_command_loads_no_heavy_library() -> None:
    for command in ([], ["report"], ["explain"], ["check"]):
        argv = ["vitalsign", *command, "--help"]
        statement = (
            f"sys.argv = {argv!r}\nimport vitalsign.cli\n"
            "try:\n    vitalsign.cli.app()\nexcept SystemExit:\n    pass"
        )
        loaded = _modules_after(statement)
        assert not loaded & set(HEAVY), (command, sorted(loaded & set(HEAVY)))


def test_the_packages_public_names_still_resolve_on_first_use() -> None:
    import vitalsign.alerts as alerts
    import vitalsign.web as web

    assert callable(alerts.evaluate_alerts) and callable(web.create_app)
    assert set(alerts.__all__) <= set(dir(alerts)) | set(alerts._LAZY)
