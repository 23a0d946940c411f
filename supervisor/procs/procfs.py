"""Small, direct reads of /proc for one process or one process tree: never the whole host.

psutil's ``children(recursive=True)`` and ``process_iter`` read ``/proc/*/stat`` of every
process on the host to find a tree, so measuring N sessions that way costs O(N) each and
O(N²) in all. Here a tree is walked down from its root through
``/proc/PID/task/TID/children`` (each thread lists the children it forked: Chrome forks from
its launcher thread, not its main one), and only the tree's own files are read.

Every function tolerates processes that vanish mid-read (they are skipped), and is blocking:
the supervisor calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ProcStat", "children", "cpu_seconds", "pss_bytes", "read_stat", "resident_pages",
           "runs_module", "walk"]

_TICKS = os.sysconf("SC_CLK_TCK")
#: A bound on a walk: a session has a handful of processes; a fork bomb must not hang us.
MAX_TREE = 512


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` the supervisor uses."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int
    sid: int
    cpu_ticks: int  # utime + stime
    reaped_ticks: int  # cutime + cstime: children it waited for
    start_ticks: int  # since boot: with the pid, names one process for good

    @property
    def cpu_seconds(self) -> float:
        """Its own and its reaped children's CPU, in seconds."""
        return (self.cpu_ticks + self.reaped_ticks) / _TICKS


def read_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` parsed; None if the process is gone (or a zombie's is unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            raw = file.read().decode("utf-8", "replace")
    except OSError:
        return None
    # comm is in parentheses and may itself contain spaces and parentheses: split at the last.
    head, _, rest = raw.rpartition(")")
    comm = head.partition("(")[2]
    fields = rest.split()
    try:
        return ProcStat(pid, comm, fields[0], int(fields[1]), int(fields[2]), int(fields[3]),
                        int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]),
                        int(fields[19]))
    except (IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (all its threads'); [] if it is gone."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found.extend(int(child) for child in file.read().split())
        except OSError:
            continue  # the thread ended
    return found


def walk(root: int) -> list[int]:
    """``root`` and its live descendants, root first; [] if root is gone."""
    if not os.path.exists(f"/proc/{root}"):
        return []
    seen = [root]
    index = 0
    while index < len(seen) and len(seen) < MAX_TREE:
        seen.extend(child for child in children(seen[index]) if child not in seen)
        index += 1
    return seen[:MAX_TREE]


def runs_module(pid: int, modules: frozenset[str]) -> bool:
    """True if ``pid``'s command line is ``python ... -m <one of modules> ...``."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().split(b"\0")
    except OSError:
        return False
    return any(arg == b"-m" and argv[i + 1].decode(errors="replace") in modules
               for i, arg in enumerate(argv[:-1]))


def resident_pages(pid: int) -> int | None:
    """Resident size in pages (``statm``: one number, unlike ``smaps_rollup``); None if gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            return int(file.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def pss_bytes(pid: int) -> int | None:
    """Proportional set size of one process (``smaps_rollup``); None if unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
            for line in file:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used by ``pids`` and the children they reaped (vanished ones count 0)."""
    total = 0.0
    for pid in pids:
        stat = read_stat(pid)
        if stat is not None:
            total += stat.cpu_seconds
    return total
