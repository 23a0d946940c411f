"""Helpers for the packaging and install tests: a copy of the checkout as a fresh clone has it,
the interpreter virtualenvs are made from, and a search of an installed tree for paths it must
not name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "base_python", "copy_checkout", "files_naming"]

#: This checkout.
ROOT = Path(__file__).resolve().parents[2]


def copy_checkout(dest: Path) -> Path:
    """``dest`` filled with the checkout's files as a fresh clone has them: tracked ones and new
    ones git does not ignore (so no .venv, var/, build/ or egg-info)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # listed but deleted in the work tree: not in the next clone
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def base_python() -> str:
    """The interpreter this test's virtualenv was made from: new virtualenvs are made from it,
    so they name nothing of the checkout's .venv."""
    path = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert path.is_file(), path
    return str(path)


def files_naming(tree: Path, needles: list[str]) -> dict[str, list[str]]:
    """For each of ``needles`` found in any file under ``tree`` (bytes, so compiled files and
    binaries too, and symlink targets), the first few files that hold it."""
    wanted = [n.encode() for n in needles]
    found: dict[str, list[str]] = {}
    for folder, _, names in os.walk(tree):
        for name in names:
            path = Path(folder, name)
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            for needle in wanted:
                if needle in data:
                    found.setdefault(needle.decode(), []).append(str(path))
    return {needle: paths[:5] for needle, paths in found.items()}
