"""What the daemon does to itself as it starts, so that what it writes stays private and an
overload cannot take it down.

- ``umask 0077`` first: every file and folder it (and, by inheritance, each worker and Chrome)
  creates is its user's alone: the database holds webhook secrets, message bodies, numbers.
- The state directory is tightened where an earlier run (or a hand-made ``mkdir``) left it
  open to group or others: the folders 0700, the files 0600, with a warning naming them.
- The soft limit on open files is raised to the hard one (systemd's default soft limit, 1024,
  is a few hundred slow connections away from EMFILE).
- Running as root is worth a warning: Chrome refuses its sandbox as root, so it runs without.
- asyncio reports every failed ``accept()`` of a listening socket (EMFILE and the like) with
  a traceback, up to once a second per socket for as long as it lasts: the first is logged,
  the rest are counted and summed up once a minute (:class:`LoopErrorLimiter`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from supervisor.layout import StateLayout
from supervisor.logs import get_logger

__all__ = ["LoopErrorLimiter", "private_umask", "raise_file_limit", "tighten_state_dir",
           "warn_if_root"]

_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO
_SUMMARY_EVERY_S = 60.0
_log = get_logger()


def private_umask() -> None:
    """New files 0600, new folders 0700, for the daemon and every process it starts."""
    os.umask(0o077)


def _state_paths(layout: StateLayout) -> Iterator[tuple[Path, int]]:
    """The state directory's own entries and the mode each must have; not the profiles' insides
    (Chrome's, under a 0700 folder)."""
    yield layout.root, 0o700
    yield layout.sessions, 0o700
    if layout.sessions.is_dir():
        for entry in layout.sessions.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                yield entry, 0o700
    for path in (layout.database, layout.lock_file, layout.api_key):
        for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            yield candidate, 0o600


def tighten_state_dir(layout: StateLayout) -> list[str]:
    """Take group and other permissions off the state directory's entries; the paths changed
    (logged as a warning)."""
    changed = []
    for path, mode in _state_paths(layout):
        try:
            current = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(current.st_mode) or not current.st_mode & _OPEN_TO_OTHERS:
            continue
        path.chmod(mode if stat.S_ISDIR(current.st_mode) else 0o600)
        changed.append(f"{path} ({stat.S_IMODE(current.st_mode):o} -> {mode:o})")
    if changed:
        _log.warning("state_dir.tightened", changed=changed,
                     reason="the state directory holds the API key, webhook secrets, messages "
                            "and the WhatsApp logins: only the daemon's user may read it")
    return changed


def raise_file_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; (soft, hard) afterwards (Linux never
    reports RLIM_INFINITY for open files)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a hard limit above the kernel's nr_open
            _log.warning("daemon.file_limit_not_raised", soft=soft, hard=hard, error=str(exc))
    return soft, hard


def warn_if_root() -> bool:
    """Warn when running as root (True if so)."""
    if os.geteuid() != 0:
        return False
    _log.warning("daemon.running_as_root",
                 consequence="Chrome refuses its sandbox as root, so every session's Chrome runs "
                             "with --no-sandbox: a compromised page would run with root's rights",
                 fix="run as an unprivileged user (systemd/zapvisor.service has User=zapvisor)")
    return True


class LoopErrorLimiter:
    """The daemon's asyncio exception handler: each distinct message is logged the first time,
    then only counted, with one summary per message and minute while it keeps coming."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # message -> (window start, suppressed)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Become ``loop``'s exception handler."""
        loop.set_exception_handler(self)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "unhandled exception in the event loop"))
        error = context.get("exception")
        key = f"{message} ({type(error).__name__})"
        now = self._clock()
        started, suppressed = self._seen.get(key, (None, 0))
        if started is None:
            self._seen[key] = (now, 0)
            _log.error("asyncio.error", message=message, exc_info=error or False)
        elif now - started >= _SUMMARY_EVERY_S:
            self._seen[key] = (now, 0)
            _log.error("asyncio.error_repeated", message=message, times=suppressed + 1,
                       seconds=round(now - started), error=repr(error))
        else:
            self._seen[key] = (started, suppressed + 1)
