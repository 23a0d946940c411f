"""Prepare a session's Chrome profile and scratch directories before launch.

- profile_dir and tmp_dir exist with mode 0700 (created, or chmodded if they exist);
- tmp_dir is emptied (scratch a crashed Chrome left behind);
- stale ``Singleton{Lock,Socket,Cookie}`` files are removed, but only if no live process has
  ``--user-data-dir=<profile_dir>``. A live foreign process -> ProfileUnusable (never killed).
  A live Chrome carrying *this* session's env markers is our own previous incarnation's
  orphan (its worker died; only one worker per session runs), so it is closed first.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
from pathlib import Path

import psutil

from worker import protocol
from worker.browser import proctree
from worker.errors import ProfileUnusable
from worker.logs import get_logger

_SINGLETONS = ("SingletonLock", "SingletonSocket", "SingletonCookie")
_ORPHAN_TERM_GRACE_S = 3.0

log = get_logger()


def prepare(profile_dir: str, tmp_dir: str, markers: tuple[str, str] | None) -> None:
    """Make both directories usable for a new Chrome; raise ProfileUnusable if impossible.

    Blocking (scans /proc, may wait up to a few seconds for an orphan): run it in a thread.
    """
    profile = Path(profile_dir)
    _ensure_private_dir(profile, "profile")
    _ensure_private_dir(Path(tmp_dir), "tmp")
    _empty(Path(tmp_dir))
    users = proctree.users_of_profile(profile_dir)
    if users and markers is not None:
        orphans = [proc for proc in users if _carries(proc, markers)]
        if orphans:
            _close_orphans(orphans, markers)
            users = proctree.alive(users)
    if users:
        user = users[0]
        raise ProfileUnusable(f"profile {profile_dir} is in use by pid {user.pid} ({_name(user)})")
    removed = []
    for name in _SINGLETONS:
        path = profile / name
        if path.is_symlink() or path.exists():
            path.unlink(missing_ok=True)
            removed.append(name)
    if removed:
        log.info("profile.stale_lock_removed", profile_dir=profile_dir, files=removed)


def _ensure_private_dir(path: Path, what: str) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.is_dir():
            raise ProfileUnusable(f"{what} path {path} exists but is not a directory")
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except FileExistsError:
        raise ProfileUnusable(f"{what} path {path} exists but is not a directory") from None
    except OSError as exc:
        raise ProfileUnusable(f"{what} directory {path} is unusable: {exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ProfileUnusable(f"{what} directory {path} is not writable")
    # os.access ignores read-only mounts for root in some setups: prove it by writing.
    probe = path / ".zapvisor-write-probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ProfileUnusable(f"{what} directory {path} is not writable: {exc}") from None


def _empty(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _carries(proc: psutil.Process, markers: tuple[str, str]) -> bool:
    try:
        env = proc.environ()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False
    return (env.get(protocol.STATE_DIR_ENV), env.get(protocol.SESSION_ENV)) == markers


def _close_orphans(orphans: list[psutil.Process], markers: tuple[str, str]) -> None:
    victims = {proc.pid: proc for root in orphans for proc in proctree.tree(root)}
    victims.update((proc.pid, proc) for root in orphans for proc in proctree.session_members(root.pid))
    victims.update((proc.pid, proc) for proc in proctree.marked_chrome(markers))
    log.warning("profile.orphan_closing", pids=sorted(victims))
    procs = list(victims.values())
    proctree.signal_all(procs, signal.SIGTERM)
    living = proctree.wait_gone(procs, _ORPHAN_TERM_GRACE_S)
    if living:
        proctree.signal_all(living, signal.SIGKILL)
        proctree.wait_gone(living, _ORPHAN_TERM_GRACE_S)


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return "?"
