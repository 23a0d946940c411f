"""Process-tree helpers over psutil: find, measure and signal Chrome's processes.

Every helper tolerates processes vanishing or being unreadable mid-scan (NoSuchProcess,
AccessDenied, ZombieProcess). Signals go through psutil.Process objects, which check the
process's create time first, so a reused pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

import psutil

from worker.protocol import SESSION_ENV, STATE_DIR_ENV

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)
_UNREADABLE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
#: A bound on a walk: a session has a handful of processes; a fork bomb must not hang us.
_MAX_TREE = 512


def markers_from_env() -> tuple[str, str] | None:
    """(state_dir, session) from our own environment, or None when not run by a supervisor."""
    state_dir = os.environ.get(STATE_DIR_ENV)
    session = os.environ.get(SESSION_ENV)
    if not state_dir or not session:
        return None
    return state_dir, session


def same_user(proc: psutil.Process) -> bool:
    """True if ``proc`` runs as this process's user. Only such a process can use one of our
    0700 profiles, or be one of ours: another user's process that merely names our profile
    (or carries our markers) must neither block a session nor be signalled."""
    try:
        uids = proc.uids()
    except _UNREADABLE:
        return False
    return os.geteuid() in (uids.real, uids.effective)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:  # each thread lists the children it forked (Chrome forks off-main)
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found.extend(int(child) for child in file.read().split())
        except OSError:
            continue
    return found


def tree(root: psutil.Process) -> list[psutil.Process]:
    """``root`` and all its live descendants (root first); [] if root is gone. Walked down
    from ``root`` through /proc/PID/task/*/children: unlike psutil's ``children(recursive=
    True)``, it never reads the other processes of the host."""
    if not alive([root]):
        return []
    found = [root]
    index = 0
    while index < len(found) and len(found) < _MAX_TREE:
        for pid in _children(found[index].pid):
            try:
                found.append(psutil.Process(pid))
            except _UNREADABLE:
                continue
        index += 1
    return found


def is_chrome(proc: psutil.Process) -> bool:
    """True if the process looks like a Chrome/Chromium process (by name or executable)."""
    try:
        name = proc.name()
    except _UNREADABLE:
        return False
    return "chrom" in name.lower()


def alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``procs`` that still run (zombies count as gone)."""
    living = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                living.append(proc)
        except _GONE:
            continue
        except psutil.AccessDenied:
            living.append(proc)
    return living


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until none of ``procs`` runs (zombies count as gone); those still running. Blocking.

    Unlike psutil.wait_procs this does not wait for someone else's zombies to be reaped
    (an init that does not reap would make every wait last the full timeout).
    """
    deadline = time.monotonic() + timeout
    living = alive(procs)
    while living and time.monotonic() < deadline:
        time.sleep(0.05)
        living = alive(living)
    return living


def signal_all(procs: Iterable[psutil.Process], signum: signal.Signals) -> None:
    """Send ``signum`` to each process that is still the same process."""
    for proc in procs:
        try:
            proc.send_signal(signum)
        except _UNREADABLE:
            continue
