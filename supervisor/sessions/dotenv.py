"""Rewriting some keys of a dotenv file (Laravel's ``.env``), and nothing else of it.

:func:`render` sets keys in the text of a dotenv file: every assignment of a key is given its
new value in place (``export``, spacing, quotes and an inline comment kept), keys the file lacks
are appended under one comment line, and every other line, comment, blank line and line ending
stays byte for byte. Multi-line quoted values are read as one value, never as assignments.

:func:`write_atomic` replaces a file the way an editor that cares does: a temporary file in the
same directory, written, given the old file's mode and owner, fsynced, then renamed over the old
one (a symlink is followed: its target is replaced, the link kept), then the directory fsynced.
A reader sees the old file or the new one, never a mixture, and a crash leaves one of them.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

__all__ = ["HEADER", "read_text", "render", "write_atomic"]

HEADER = "# WhatsApp roles, kept up to date by zapvisor ([roles] env_file)"
_ASSIGNMENT = re.compile(r"(?P<head>[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)"
                         r"[ \t]*=[ \t]*)(?P<value>[^\r\n]*)(?P<eol>\r\n|\n|\r)?")


def _closing(text: str, quote: str) -> int:
    """Index of the first unescaped ``quote`` in ``text`` (-1 if none)."""
    escaped = False
    for index, char in enumerate(text):
        if char == quote and not escaped:
            return index
        escaped = quote == '"' and char == "\\" and not escaped
    return -1


def _split_value(value: str) -> tuple[str, str, str | None]:
    """(quote char or "", what follows the value: an inline comment, open quote or None)."""
    if value[:1] in ('"', "'"):
        end = _closing(value[1:], value[0])
        if end < 0:
            return value[0], "", value[0]  # the value goes on over the next lines
        return value[0], value[end + 2:], None
    comment = re.search(r"(?:^|[ \t]+)#.*", value)
    return "", comment.group(0) if comment else "", None


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with each key of ``values`` set to its value (values must need no escaping)."""
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    seen: set[str] = set()
    open_quote: str | None = None  # inside a multi-line quoted value
    dropping = False  # ... that belongs to a key being rewritten
    for line in lines:
        if open_quote is not None:
            if _closing(line, open_quote) >= 0:
                open_quote = None
            if not dropping:
                out.append(line)
            continue
        match = _ASSIGNMENT.fullmatch(line)
        if match is None:
            out.append(line)
            continue
        quote, trailer, open_quote = _split_value(match["value"])
        dropping = match["key"] in values
        if not dropping:
            out.append(line)
            continue
        seen.add(match["key"])
        value = f"{quote}{values[match['key']]}{quote}"
        if trailer.startswith("#"):
            trailer = " " + trailer  # "KEY= # note": the comment stays a comment
        out.append(f"{match['head']}{value}{trailer}{match['eol'] or ''}")
    missing = [key for key in values if key not in seen]
    if missing:
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += eol
        if HEADER not in text:
            out.append(f"{eol if out and out[-1].strip() else ''}{HEADER}{eol}")
        out += [f"{key}={values[key]}{eol}" for key in missing]
    return "".join(out)


def read_text(path: Path) -> str:
    """The file's text, line endings and undecodable bytes kept ("" if it does not exist)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            return file.read()
    except FileNotFoundError:
        return ""


def write_atomic(path: Path, text: str) -> None:
    """Replace the file at ``path`` with ``text`` atomically, keeping its mode and owner (a new
    file is 0600). Raises OSError, and leaves no temporary file behind, when that fails."""
    target = Path(os.path.realpath(path))
    try:
        old: os.stat_result | None = target.stat()
    except FileNotFoundError:
        old = None
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with open(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as file:
            file.write(text)
            file.flush()
            if old is not None:
                _keep_owner_and_mode(file.fileno(), old, target)
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _keep_owner_and_mode(fd: int, old: os.stat_result, target: Path) -> None:
    new = os.fstat(fd)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            # Replacing it would hand the file to us, and its readers may lose it: refuse.
            raise PermissionError(
                f"cannot keep {target}'s owner {old.st_uid}:{old.st_gid} (zapvisor runs as "
                f"{os.geteuid()}:{os.getegid()}): give the file to zapvisor's user, or run "
                "zapvisor as its owner") from None
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
