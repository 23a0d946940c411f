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


def tree(root: psutil.Process) -> list[psutil.Process]:
    """``root`` and all its live descendants (root first); [] if root is gone."""
    try:
        return [root, *root.children(recursive=True)]
    except _UNREADABLE:
        return []


def is_chrome(proc: psutil.Process) -> bool:
    """True if the process looks like a Chrome/Chromium process (by name or executable)."""
    try:
        name = proc.name()
    except _UNREADABLE:
        return False
    return "chrom" in name.lower()


def marked_chrome(markers: tuple[str, str]) -> list[psutil.Process]:
    """Chrome processes whose environment carries exactly these (state_dir, session) markers.

    In practice only Chrome *main* processes match: Chrome's children (zygotes, renderers,
    gpu, utility) overwrite their argv/environ area for their process titles, so their
    /proc/<pid>/environ is garbage. Find those through :func:`session_members`.
    """
    state_dir, session = markers
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid() or not is_chrome(proc) or not same_user(proc):
            continue
        try:
            env = proc.environ()
        except _UNREADABLE:
            continue
        if env.get(STATE_DIR_ENV) == state_dir and env.get(SESSION_ENV) == session:
            found.append(proc)
    return found


def session_members(sid: int) -> list[psutil.Process]:
    """Processes in session ``sid``. Chrome is spawned as a session leader (sid = its pid) and
    its children keep that sid when re-parented; Linux does not reuse a pid while a session
    still carries it, so this finds a dead Chrome's leftovers safely."""
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid:
                members.append(proc)
        except OSError:  # gone, or not ours to inspect
            continue
    return members


def users_of_profile(profile_dir: str) -> list[psutil.Process]:
    """Live processes of our user started with ``--user-data-dir`` naming ``profile_dir``
    (realpaths compared). Other users' processes do not count: they cannot open the profile
    (0700), and counting them would let any local user fail a session at will."""
    wanted = os.path.realpath(profile_dir)
    users = []
    for proc in psutil.process_iter():
        if not same_user(proc):
            continue
        try:
            cmdline = proc.cmdline()
        except _UNREADABLE:
            continue
        for index, arg in enumerate(cmdline):
            value = None
            if arg.startswith("--user-data-dir="):
                value = arg.split("=", 1)[1]
            elif arg == "--user-data-dir" and index + 1 < len(cmdline):
                value = cmdline[index + 1]
            if value is not None and os.path.realpath(value) == wanted:
                users.append(proc)
                break
    return users


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


def memory(procs: Iterable[psutil.Process]) -> tuple[int, int]:
    """(summed PSS bytes, number of processes measured). Blocking: reads smaps."""
    pss = 0
    count = 0
    for proc in procs:
        try:
            pss += proc.memory_full_info().pss
        except _UNREADABLE:
            continue
        count += 1
    return pss, count
