"""A cgroup v2 per session, where the host gives the daemon a cgroup of its own to divide.

A session's cgroup holds its worker and, by inheritance, every process Chrome ever starts,
including those whose parent died: ``cgroup.procs`` lists them without looking at any other
process of the host, ``cgroup.kill`` ends them all at once, ``cpu.stat`` counts their CPU (the
dead ones' too), and with the memory controller ``memory.current``/``memory.stat`` give their
memory and ``memory.max``/``memory.high`` can bound it.

Where the daemon may do this (:func:`detect`):

- its own cgroup is delegated to it (systemd ``Delegate=yes``: the unit's cgroup carries the
  ``trusted.delegate`` mark). The cgroup v2 "no internal processes" rule forbids enabling
  controllers for children of a cgroup that holds processes, so the daemon first moves itself
  into a ``supervisor`` leaf; sessions are ``session-<id>`` beside it.
- it runs at the root of a cgroup namespace (a container): it makes ``zapvisor-<hash of the
  state dir>`` there, so that two daemons on one host never share one.

The hierarchy is found from ``/proc/self/mountinfo`` (cgroup2 may be mounted at
``/sys/fs/cgroup`` or, on hybrid hosts, ``/sys/fs/cgroup/unified`` without controllers: then
only ``cpu.stat`` and ``cgroup.kill`` work, and memory is read per process instead).
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
from pathlib import Path

__all__ = ["CgroupTree", "SessionCgroup", "detect", "probe"]

_CONTROLLERS = ("cpu", "memory", "pids")
_DELEGATE_XATTRS = ("trusted.delegate", "user.delegate")


def _read(path: Path) -> str:
    return path.read_text(encoding="ascii", errors="replace")


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write(value)


def _mount_point() -> Path | None:
    try:
        lines = _read(Path("/proc/self/mountinfo")).splitlines()
    except OSError:
        return None
    for line in lines:
        before, _, after = line.partition(" - ")
        if after.split(" ", 1)[0] == "cgroup2":
            return Path(before.split()[4])
    return None


def _own_path() -> str | None:
    try:
        lines = _read(Path("/proc/self/cgroup")).splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return line[3:].strip()
    return None


def _delegated(path: Path) -> bool:
    """systemd marks a delegated cgroup with an xattr (``trusted.*`` is readable by root only),
    and hands it to the unit's user: a cgroup a non-root user may write to was delegated."""
    if os.geteuid() != 0 and os.access(path, os.W_OK) and os.access(path / "cgroup.procs", os.W_OK):
        return True
    for name in _DELEGATE_XATTRS:
        try:
            if os.getxattr(path, name) in (b"1", b"1\n"):
                return True
        except OSError:
            continue
    return False


class SessionCgroup:
    """One session's cgroup. Every method is blocking (small reads and writes of cgroupfs)."""

    def __init__(self, path: Path, memory: bool) -> None:
        self.path = path
        self._memory = memory

    def create(self, memory_max_mb: int = 0, memory_high_mb: int = 0) -> None:
        """Make the cgroup (kept if it exists) and set its memory bounds (0 = none)."""
        self.path.mkdir(mode=0o755, exist_ok=True)
        if self._memory:
            for name, mb in (("memory.max", memory_max_mb), ("memory.high", memory_high_mb)):
                _write(self.path / name, str(mb * 2**20) if mb else "max")

    def add(self, pid: int) -> None:
        """Move ``pid`` (all its threads) in; what it forks from now on is born here."""
        _write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        """The processes in it now (none if it is gone)."""
        try:
            return [int(pid) for pid in _read(self.path / "cgroup.procs").split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float | None:
        """CPU used by everything that ever ran in it (``cpu.stat`` usage_usec)."""
        try:
            for line in _read(self.path / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            return None
        return None

    def memory_bytes(self) -> int | None:
        """Its working set: ``memory.current`` less the inactive file cache the kernel may
        drop at any time (a profile's files would otherwise count as the session's); None
        without the memory controller."""
        if not self._memory:
            return None
        try:
            current = int(_read(self.path / "memory.current"))
            inactive = 0
            for line in _read(self.path / "memory.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "inactive_file":
                    inactive = int(value)
        except (OSError, ValueError):
            return None
        return max(0, current - inactive)

    def signal_all(self, signum: signal.Signals) -> None:
        """Send ``signum`` to every process in it."""
        for pid in self.pids():
            try:
                os.kill(pid, signum)
            except OSError:
                continue

    def kill(self) -> None:
        """SIGKILL everything in it at once (``cgroup.kill``, Linux 5.14+; else one by one)."""
        try:
            _write(self.path / "cgroup.kill", "1")
        except FileNotFoundError:
            self.signal_all(signal.SIGKILL)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                self.signal_all(signal.SIGKILL)

    def remove(self) -> bool:
        """Delete it once empty; False if processes (or zombies not yet reaped) remain."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


class CgroupTree:
    """The daemon's part of the cgroup hierarchy: ``session-<id>`` cgroups under ``base``."""

    def __init__(self, base: Path, owned: bool, memory: bool) -> None:
        self.base = base
        self.owned = owned  # made by us (a namespace root): removed when the daemon ends
        self.memory = memory

    def session(self, session_id: str) -> SessionCgroup:
        """The cgroup of ``session_id`` (not created yet)."""
        return SessionCgroup(self.base / f"session-{session_id}", self.memory)

    def existing(self) -> list[SessionCgroup]:
        """Session cgroups present now: at boot, those a dead daemon left."""
        return [SessionCgroup(path, self.memory) for path in sorted(self.base.glob("session-*"))
                if path.is_dir()]

    def close(self) -> None:
        """Remove the base if we made it (only once every session cgroup is gone)."""
        if self.owned:
            try:
                self.base.rmdir()
            except OSError:
                pass


def probe() -> tuple[bool, str]:
    """Would :func:`detect`, run by this process, get a cgroup tree? (True, where) or (False,
    why not). Reads only: unlike ``detect`` it makes no cgroup and moves no process, so
    ``zapvisor doctor`` may ask it of the shell it runs in."""
    mount, own = _mount_point(), _own_path()
    if mount is None or own is None:
        return False, "no cgroup v2 hierarchy is mounted"
    own_dir = mount / own.lstrip("/")
    if own == "/":
        if os.access(own_dir, os.W_OK):
            return True, f"the root of a cgroup namespace ({own_dir}): a zapvisor-<hash> subtree there"
        return False, f"the root cgroup {own_dir} is not writable"
    if _delegated(own_dir):
        return True, f"the delegated cgroup {own_dir}"
    return False, f"this process's cgroup {own} is not delegated (systemd: Delegate=yes)"


def detect(state_dir: Path) -> tuple[CgroupTree | None, str]:
    """The cgroup tree this daemon may use, or None and why not. Blocking; call once."""
    mount, own = _mount_point(), _own_path()
    if mount is None or own is None:
        return None, "no cgroup v2 hierarchy is mounted"
    own_dir = mount / own.lstrip("/")
    try:
        if own == "/":
            tag = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]
            base, owned = own_dir / f"zapvisor-{tag}", True
            base.mkdir(mode=0o755, exist_ok=True)
        elif _delegated(own_dir):
            base, owned = own_dir, False
            leaf = base / "supervisor"
            leaf.mkdir(mode=0o755, exist_ok=True)
            _write(leaf / "cgroup.procs", str(os.getpid()))  # the whole daemon, every thread
        else:
            return None, f"the daemon's cgroup {own} is not delegated to it (systemd: Delegate=yes)"
        available = _read(base / "cgroup.controllers").split()
    except OSError as exc:
        return None, f"cannot use cgroup {own_dir}: {exc.strerror or exc}"
    for name in _CONTROLLERS:
        if name in available:
            try:
                _write(base / "cgroup.subtree_control", f"+{name}")
            except OSError:
                continue  # e.g. a parent that does not pass it down: go on without it
    try:
        enabled = _read(base / "cgroup.subtree_control").split()
    except OSError:
        enabled = []
    return CgroupTree(base, owned, "memory" in enabled), ""
