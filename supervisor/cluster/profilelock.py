"""Is a Chrome still using a profile? Asked of the profile itself, the way the worker asks it
before a launch (worker/browser/profile.py; the supervisor may not import the worker's browser
package, so the few lines are repeated here).

A running Chrome holds a POSIX lock on each LevelDB database it has open: its Local Storage's
``LOCK`` from the profile's load on, and each origin's IndexedDB ``LOCK`` while a page of that
origin uses it. ``fcntl(F_GETLK)`` tells whether anybody holds one (and names the pid: 0 or -1
when the holder is outside our PID namespace or holds an open-file-description lock; held all
the same). Full Chrome also keeps ``SingletonLock`` -> ``<host>-<pid>``; chrome-headless-shell
does not. A copy taken while any of these is held is what whatsapp-web.js's RemoteAuth does
(it zips the live profile every minute) and what its users report as empty or corrupt restores
(#2631, #2530): we never take one.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from pathlib import Path

import psutil

__all__ = ["profile_user"]

_LOCAL_STORAGE_LOCK = Path("Default", "Local Storage", "leveldb", "LOCK")
_INDEXEDDB = Path("Default", "IndexedDB")
#: struct flock on Linux: l_type, l_whence (shorts), l_start, l_len (off_t), l_pid (pid_t).
_FLOCK = "hhxxxxqqixxxx"


def _lock_holder(lock_file: Path) -> int | None:
    """The pid holding a POSIX lock on ``lock_file`` (0 if unknown to us), or None if free."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None  # no such file: no Chrome opened that database since it was made
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return None
    finally:
        os.close(fd)  # we took no lock, so closing releases none of the holder's
    return max(pid, 0) if l_type != fcntl.F_UNLCK else None


def _lock_files(profile: Path) -> list[Path]:
    found = [profile / _LOCAL_STORAGE_LOCK]
    try:
        found += sorted(entry / "LOCK" for entry in (profile / _INDEXEDDB).iterdir())
    except OSError:
        pass  # no IndexedDB yet
    return found


def _singleton_pid(profile: Path) -> int | None:
    """Full Chrome's ``SingletonLock`` -> ``<host>-<pid>``, when it names a live pid here."""
    try:
        host, _, pid = os.readlink(profile / "SingletonLock").rpartition("-")
    except OSError:
        return None
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        return int(pid) if psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def profile_user(profile: Path) -> str | None:
    """Who has ``profile`` open, in words (``"pid 123 holds Default/…/LOCK"``), or None.

    Blocking (a few syscalls per IndexedDB origin): call it from a thread in async code.
    """
    for lock in _lock_files(profile):
        pid = _lock_holder(lock)
        if pid is not None:
            who = f"pid {pid}" if pid else "a process outside this PID namespace"
            return f"{who} holds {lock.relative_to(profile)}"
    pid = _singleton_pid(profile)
    return f"pid {pid} holds SingletonLock" if pid is not None else None
