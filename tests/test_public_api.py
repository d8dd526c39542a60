"""The public Python API: every exported name resolves, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import vitalsign


def test_every_exported_name_resolves() -> None:
    missing = [name for name in vitalsign.__all__ if getattr(vitalsign, name, None) is None]
    assert not missing


def test_importing_the_package_does_not_import_the_heavy_parts() -> None:
    heavy = "('sklearn', 'ibis', 'pandas')"
    code = f"import sys, vitalsign; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
