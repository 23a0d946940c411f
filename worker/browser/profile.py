"""Prepare a session's Chrome profile and scratch directories before launch.

- profile_dir and tmp_dir exist with mode 0700 (created, or chmodded if they exist);
- tmp_dir is emptied (scratch a crashed Chrome left behind);
- stale ``Singleton{Lock,Socket,Cookie}`` files are removed, but only if no live Chrome has
  the profile open. A live foreign Chrome -> ProfileUnusable (never killed). A live Chrome
  carrying *this* session's env markers is our own previous incarnation's orphan (its worker
  died; only one worker per session runs), so it is closed first.

Who has the profile open is asked of the profile itself, not of every process of the host
(that would cost O(sessions) per start): a running Chrome holds a POSIX lock on its Local
Storage database's ``LOCK`` file (LevelDB's lock, taken at profile load; ``F_GETLK`` names the
holder's pid), and full Chrome also keeps ``SingletonLock`` -> ``<host>-<pid>``. The holder
may be one of Chrome's children; the Chrome it belongs to is its session leader (we start
Chrome with ``start_new_session``), whose environment carries the markers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import stat
import struct
from pathlib import Path

import psutil

from worker import protocol
from worker.browser import proctree
from worker.errors import ProfileUnusable
from worker.logs import get_logger

_SINGLETONS = ("SingletonLock", "SingletonSocket", "SingletonCookie")
_LEVELDB_LOCK = Path("Default", "Local Storage", "leveldb", "LOCK")
#: struct flock on Linux: l_type, l_whence (shorts), l_start, l_len (off_t), l_pid (pid_t).
_FLOCK = "hhxxxxqqixxxx"
_ORPHAN_TERM_GRACE_S = 3.0

log = get_logger()


def prepare(profile_dir: str, tmp_dir: str, markers: tuple[str, str] | None) -> None:
    """Make both directories usable for a new Chrome; raise ProfileUnusable if impossible.

    Blocking (reads the profile's locks, may wait a few seconds for an orphan): run it in a thread.
    """
    profile = Path(profile_dir)
    _ensure_private_dir(profile, "profile")
    _ensure_private_dir(Path(tmp_dir), "tmp")
    _empty(Path(tmp_dir))
    holder = user(profile)
    if holder is not None and markers is not None and _carries(holder, markers):
        _close_orphan(holder)
        holder = user(profile)
    if holder is not None:
        raise ProfileUnusable(f"profile {profile_dir} is in use by pid {holder.pid} ({_name(holder)})")
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


def _lock_holder(lock_file: Path) -> int | None:
    """The pid holding a POSIX lock on ``lock_file``, or None."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # no such file: no Chrome has loaded this profile since it was made
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        result = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError:
        return None
    finally:
        os.close(fd)  # we hold no lock of our own on it, so closing releases nothing
    l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK, result)
    return pid if l_type != fcntl.F_UNLCK and pid > 0 else None


def _singleton_pid(profile: Path) -> int | None:
    """Full Chrome's ``SingletonLock`` -> ``<host>-<pid>``, when it names this host."""
    try:
        host, _, pid = os.readlink(profile / "SingletonLock").rpartition("-")
    except OSError:
        return None
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def user(profile: Path) -> psutil.Process | None:
    """The live Chrome of our user that has ``profile`` open (its session leader), or None."""
    for pid in (_lock_holder(profile / _LEVELDB_LOCK), _singleton_pid(profile)):
        if pid is None:
            continue
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            continue
        if not proctree.alive([proc]):
            continue
        # Another user cannot open our 0700 profile: a process of theirs naming it is no user.
        if proctree.same_user(proc):
            leader = _leader(pid)
            return leader if leader is not None and proctree.is_chrome(leader) and proctree.same_user(leader) else proc
    return None


def _leader(pid: int) -> psutil.Process | None:
    """The session leader of ``pid``, if this process can see it.

    getsid() answers 0 when the leader lives outside our PID namespace (a process started by
    ``docker exec`` or a CI runner, for one): the holder itself is then the best answer.
    """
    try:
        sid = os.getsid(pid)
        return psutil.Process(sid) if sid > 0 else None
    except (psutil.Error, OSError):
        return None


def _close_orphan(orphan: psutil.Process) -> None:
    procs = proctree.tree(orphan)
    log.warning("profile.orphan_closing", pids=sorted(proc.pid for proc in procs))
    try:
        os.killpg(orphan.pid, signal.SIGTERM)  # its group: children it has already let go of
    except OSError:
        pass
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
