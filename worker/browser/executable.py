"""Find the Chrome executable and resolve launcher scripts to the real binary.

Debian's ``/usr/bin/chromium-headless-shell`` is a ``#!/bin/sh`` script that *forks* the real
binary. A death signal (PR_SET_PDEATHSIG) set on the script never reaches Chrome, and killing
the script's pid leaves Chrome running, so we always exec the ELF binary the script names.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from worker.errors import ChromeNotFound

#: Searched on PATH, in order, when the configured executable is "".
CANDIDATES = (
    "chromium-headless-shell",
    "chromium",
    "google-chrome-stable",
    "google-chrome",
    "chrome",
)

_ELF_MAGIC = b"\x7fELF"
_ABS_PATH = re.compile(rb"(/[A-Za-z0-9._+/-]+)")
_SCRIPT_BYTES_MAX = 256 * 1024


def find_executable(configured: str, headless: bool = True) -> Path:
    """Return the real Chrome binary for ``configured`` (a path, or "" to search PATH).
    A Chrome with a window (``headless`` false) cannot be a chrome-headless-shell.

    Raises ChromeNotFound if nothing usable is found.
    """
    if not headless:
        return _windowed(configured)
    if configured:
        path = Path(configured)
        if not path.is_absolute():
            found = shutil.which(configured)
            if found is None:
                raise ChromeNotFound(f"Chrome executable {configured!r} not found on PATH")
            path = Path(found)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ChromeNotFound(f"Chrome executable {str(path)!r} does not exist or is not executable")
        return resolve_wrapper(path)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found is not None:
            return resolve_wrapper(Path(found))
    raise ChromeNotFound(f"no Chrome found on PATH (looked for {', '.join(CANDIDATES)})")


def _windowed(configured: str) -> Path:
    if configured:
        path = find_executable(configured)
        if is_headless_shell(path):
            raise ChromeNotFound(f"{str(path)!r} is chrome-headless-shell, which never shows a "
                                 "window: set [chrome] executable to a full Chrome or Chromium")
        return path
    for name in CANDIDATES:
        found = shutil.which(name)
        binary = resolve_wrapper(Path(found)) if found is not None else None
        if binary is not None and not is_headless_shell(binary):
            return binary
    raise ChromeNotFound("a Chrome with a window (headless: false) needs a full Chrome or "
                         f"Chromium; none on PATH (looked for {', '.join(CANDIDATES[1:])})")


def is_elf(path: Path) -> bool:
    """True if ``path`` is an executable ELF file."""
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except OSError:
        return False
    return magic == _ELF_MAGIC and os.access(path, os.X_OK)


def resolve_wrapper(path: Path) -> Path:
    """If ``path`` is a ``#!`` script, return the ELF binary it runs; otherwise ``path`` itself.

    Absolute paths in the script that exist and are ELF executables are candidates; one with
    the script's own basename wins (``/usr/bin/chromium`` -> ``/usr/lib/chromium/chromium``).
    Raises ChromeNotFound for a script that names no ELF binary.
    """
    try:
        with path.open("rb") as file:
            head = file.read(_SCRIPT_BYTES_MAX)
    except OSError as exc:
        raise ChromeNotFound(f"cannot read Chrome executable {str(path)!r}: {exc}") from None
    if not head.startswith(b"#!"):
        return path
    # Debian's chromium script says `exec $LIBDIR/$APPNAME`: expand simple NAME=value
    # assignments so such paths become literal before scanning.
    text = _expand_assignments(head)
    candidates: list[Path] = []
    for match in _ABS_PATH.finditer(text):
        candidate = Path(os.fsdecode(match.group(1)))
        if candidate not in candidates and candidate.is_file() and is_elf(candidate):
            candidates.append(candidate)
    interpreter = head[2:].split(b"\n", 1)[0].split()
    interpreter_path = Path(os.fsdecode(interpreter[0])) if interpreter else None
    candidates = [c for c in candidates if c != interpreter_path and c.name not in _SHELL_TOOLS]
    for candidate in candidates:
        if candidate.name == path.name:
            return candidate
    if candidates:
        return candidates[0]
    raise ChromeNotFound(f"{str(path)!r} is a script that names no Chrome binary; configure the binary itself")


_ASSIGNMENT = re.compile(rb"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=[\"']?([^\"'\s;]*)", re.MULTILINE)


def _expand_assignments(script: bytes) -> bytes:
    """Substitute ``$NAME``/``${NAME}`` for plain ``NAME=value`` assignments (a few passes)."""
    values = {m.group(1): m.group(2) for m in _ASSIGNMENT.finditer(script)}
    for _ in range(3):
        for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
            script = script.replace(b"${" + name + b"}", value).replace(b"$" + name, value)
    return script


# Programs a launcher script commonly names that are never the browser.
_SHELL_TOOLS = frozenset({"sh", "bash", "dash", "env", "gdb", "xmessage", "find", "rm", "mktemp", "grep"})


def is_headless_shell(path: Path) -> bool:
    """True for chrome-headless-shell builds, which are always headless (old headless)."""
    return "headless-shell" in path.name or "headless_shell" in path.name
