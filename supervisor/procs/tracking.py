"""Which processes belong to a session, what they use, and ending those its worker left.

Two ways, chosen once at start (``[sessions] cgroups``), with one interface:

- :class:`CgroupProcs`: the session's own cgroup (``supervisor.procs.cgroups``). Its worker
  is moved in right after the fork, before it starts Chrome, so everything of the session is
  in it, orphans included, and nothing else is.
- :class:`TreeProcs`: the worker's process tree, walked down from the worker
  (``supervisor.procs.procfs``). A process whose parent dies is re-parented to the nearest
  subreaper: the zygote (or, with ``worker_spawn = "exec"``, the daemon). So a dead worker's
  leftovers are the reaper's children that are not workers; they are found there, not by
  reading every process of the host.

Neither ever scans the host: a measurement reads the session's own processes, an end reads
one children list.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from supervisor.procs import procfs
from supervisor.procs.cgroups import CgroupTree, SessionCgroup
from worker import protocol

__all__ = ["CgroupProcs", "PssCache", "SessionProcs", "Tracking", "TreeProcs", "Usage", "end_processes"]

_POLL_S = 0.05
_PSS_REFRESH = 10
_WORKER_MODULES = frozenset({"worker", protocol.ZYGOTE_MODULE})


@dataclass(frozen=True)
class Usage:
    """One measurement of a session's processes."""

    cpu_seconds: float | None  # cumulative, of everything the session ran
    memory_bytes: int | None  # PSS summed, or the cgroup's working set
    memory_source: str  # "pss" or "cgroup"
    processes: int


class SessionProcs(Protocol):
    """A session's processes. Every method is blocking: call through ``asyncio.to_thread``."""

    def prepare(self) -> None: ...

    def attach(self, worker_pid: int) -> None: ...

    def measure(self, worker_pid: int | None) -> Usage: ...

    def end_leftovers(self, grace_s: float) -> int: ...

    def release(self) -> None: ...


class PssCache:
    """PSS per process, read again only when the process's resident size moved (by 2% or
    1 MiB), and at least every ``_PSS_REFRESH`` samples (what other processes share with it
    changes its PSS too). ``smaps_rollup`` walks every mapping of a process, a few ms for a
    Chrome; ``statm`` is one number: an idle session costs a few statm reads per sample."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[int, int, int]] = {}  # pid -> (resident pages, pss, age)

    def usage(self, pids: list[int], cpu: float | None) -> Usage:
        """Summed PSS of ``pids``."""
        known: dict[int, tuple[int, int, int]] = {}
        total = 0
        for pid in pids:
            pages = procfs.resident_pages(pid)
            if pages is None:
                continue  # exited since it was listed
            last = self._known.get(pid)
            if last is not None and last[2] < _PSS_REFRESH and abs(pages - last[0]) <= max(last[0] // 50, 256):
                known[pid] = (last[0], last[1], last[2] + 1)
            elif (pss := procfs.pss_bytes(pid)) is not None:
                known[pid] = (pages, pss, 0)
            else:
                continue
            total += known[pid][1]
        self._known = known
        return Usage(cpu, total if known else None, "pss", len(known))


def end_processes(pids: list[int], grace_s: float, kill: Callable[[], None] | None = None) -> int:
    """SIGTERM ``pids`` (each checked by its start time, so a reused pid is never hit), wait
    up to ``grace_s`` for them to exit (a Chrome that just got its death signal is flushing its
    profile), then SIGKILL what is left (or call ``kill``). Returns how many were alive."""
    alive = {pid: stat.start_ticks for pid in pids if (stat := procfs.read_stat(pid)) is not None
             and stat.state != "Z"}
    if not alive:
        return 0

    def still() -> dict[int, int]:
        return {pid: start for pid, start in alive.items()
                if (stat := procfs.read_stat(pid)) is not None and stat.start_ticks == start
                and stat.state != "Z"}

    for pid in still():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    left = still()
    while left and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        left = still()
    if left:
        if kill is not None:
            kill()
        for pid in left:
            _signal(pid, signal.SIGKILL)
    return len(alive)


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _reap(pids: list[int]) -> None:
    """Collect the exit status of those of ``pids`` that are our children (exec mode: the
    daemon is their subreaper); others are not ours to wait for."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue


class CgroupProcs:
    """A session tracked by its cgroup."""

    def __init__(self, tree: CgroupTree, session_id: str, memory_max_mb: int,
                 memory_high_mb: int) -> None:
        self.cgroup: SessionCgroup = tree.session(session_id)
        self._max, self._high = memory_max_mb, memory_high_mb
        self._pss = PssCache()

    def prepare(self) -> None:
        """Create the cgroup (before the worker exists)."""
        self.cgroup.create(self._max, self._high)

    def attach(self, worker_pid: int) -> None:
        """Move the new worker in, before it launches Chrome."""
        self.cgroup.add(worker_pid)

    def measure(self, worker_pid: int | None) -> Usage:
        """CPU from ``cpu.stat``; memory from the memory controller, else PSS per process."""
        pids = self.cgroup.pids()
        cpu = self.cgroup.cpu_seconds()
        memory = self.cgroup.memory_bytes()
        if memory is not None:
            return Usage(cpu, memory, "cgroup", len(pids))
        return self._pss.usage(pids, cpu)

    def end_leftovers(self, grace_s: float) -> int:
        """End what is left in the cgroup once its worker exited."""
        pids = self.cgroup.pids()
        ended = end_processes(pids, grace_s, kill=self.cgroup.kill)
        _reap(pids)
        return ended

    def release(self) -> None:
        """Remove the (empty) cgroup; an unreaped zombie may delay it to the next release."""
        deadline = time.monotonic() + 1.0
        while not self.cgroup.remove() and time.monotonic() < deadline:
            time.sleep(_POLL_S)


class TreeProcs:
    """A session tracked by its worker's process tree (no cgroup available)."""

    def __init__(self, reaper: Callable[[], int | None], workers: Callable[[], set[int]]) -> None:
        self._reaper = reaper  # the pid orphans are re-parented to (the zygote, or us)
        self._workers = workers  # every live worker's pid: the reaper's legitimate children
        self._pss = PssCache()

    def prepare(self) -> None:
        """Nothing to make."""

    def attach(self, worker_pid: int) -> None:
        """Nothing to do: the tree is found from the worker when measured."""

    def measure(self, worker_pid: int | None) -> Usage:
        """CPU and PSS of the worker's tree."""
        pids = procfs.walk(worker_pid) if worker_pid else []
        return self._pss.usage(pids, procfs.cpu_seconds(pids) if pids else None)

    def end_leftovers(self, grace_s: float) -> int:
        """End every orphan the reaper holds: its children that are not workers. A worker
        whose fork is still in flight is not known yet, so a child is also taken for a worker
        by its command line (``python -m worker``, or the zygote's, which a fork keeps)."""
        reaper = self._reaper()
        if reaper is None:
            return 0
        workers = self._workers()
        roots = [pid for pid in procfs.children(reaper)
                 if pid not in workers and not procfs.runs_module(pid, _WORKER_MODULES)]
        victims = [pid for root in roots for pid in procfs.walk(root)]
        ended = end_processes(victims, grace_s)
        if reaper == os.getpid():
            _reap(victims)
        return ended

    def release(self) -> None:
        """Nothing to remove."""


class Tracking:
    """How this daemon tracks sessions' processes: made once at start, hands out
    :class:`SessionProcs`."""

    def __init__(self, cgroups: CgroupTree | None, reaper: Callable[[], int | None],
                 workers: Callable[[], set[int]], memory_max_mb: int = 0,
                 memory_high_mb: int = 0) -> None:
        self.cgroups = cgroups
        self._reaper = reaper
        self._workers = workers
        self._memory = (memory_max_mb, memory_high_mb)

    @property
    def kind(self) -> str:
        """"cgroup" or "tree"."""
        return "cgroup" if self.cgroups is not None else "tree"

    def for_session(self, session_id: str) -> SessionProcs:
        """The tracking of one session."""
        if self.cgroups is not None:
            return CgroupProcs(self.cgroups, session_id, *self._memory)
        return TreeProcs(self._reaper, self._workers)
