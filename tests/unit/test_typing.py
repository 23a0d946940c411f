"""The code base stays mypy-clean (setup.cfg's [mypy]: every def typed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_supervisor_never_imports_pyppeteer() -> None:
    code = (
        "import sys, pkgutil, importlib, supervisor\n"
        "for m in pkgutil.walk_packages(supervisor.__path__, 'supervisor.'):\n"
        "    if m.name != 'supervisor.__main__': importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyppeteer'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
