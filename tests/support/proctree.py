"""A daemon's process tree read straight from /proc, for benchmarks: who is who, CPU, PSS.

The tree is walked down from a root through ``/proc/PID/task/*/children`` (one small read per
thread), never by scanning every process of the host, so measuring N sessions costs O(N) and
not O(host). Processes are keyed by (pid, start time), so a reused pid is never mistaken for
the process seen before.

Kinds: ``supervisor`` (the daemon itself), ``zygote`` (the pre-imported interpreter that forks
workers), ``worker``, ``chrome-browser`` (a Chrome main process), ``renderer``, ``chrome-other``
(GPU, network/utility, Chrome's own zygotes...), ``other``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.protocol import WORKER_PROCESS_NAME, ZYGOTE_MODULE

__all__ = ["KINDS", "Proc", "alive", "cpu_by_kind", "descendants", "busiest", "host_cpu_ticks", "host_ticks", "memory_per_session", "pss_bytes",
           "snapshot", "TICKS_PER_S"]

KINDS = ("supervisor", "zygote", "worker", "chrome-browser", "renderer", "chrome-other", "other")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_CHROME_NAMES = ("chrom", "headless_shell", "headless-shell")


@dataclass(frozen=True)
class Proc:
    """One process as read from /proc at one moment."""

    pid: int
    ppid: int
    start: int  # start time in clock ticks since boot: with pid, the process's identity
    cpu_ticks: int  # utime + stime of all its threads (not of its reaped children)
    kind: str

    @property
    def key(self) -> tuple[int, int]:
        """(pid, start time): unique over the life of the host."""
        return self.pid, self.start


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:  # gone meanwhile, or not ours
        return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (of every one of its threads)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        text = _read(f"/proc/{pid}/task/{tid}/children")
        if text:
            found += [int(word) for word in text.split()]
    return found


def descendants(root: int) -> list[int]:
    """``root`` and everything below it, parents before children."""
    order, todo, seen = [], [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        order.append(pid)
        todo += children(pid)
    return order


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(comm, ppid, start, utime+stime) from /proc/PID/stat; None if it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    # comm is in parentheses and may itself hold spaces and parentheses: split at the last ")".
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
    return comm, int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12])


def _kind(pid: int, comm: str, root: int) -> str:
    if pid == root:
        return "supervisor"
    if comm == WORKER_PROCESS_NAME:
        return "worker"
    raw = _read(f"/proc/{pid}/cmdline") or ""
    # Chrome's children rewrite their command line as one space-separated title: search text.
    line = raw.replace("\0", " ")
    if ZYGOTE_MODULE in line:
        return "zygote"
    argv0 = os.path.basename(line.split(" ", 1)[0])
    if "--type=renderer" in line:
        return "renderer"
    if "--type=" in line:
        return "chrome-other"
    if any(name in argv0 or name in comm for name in _CHROME_NAMES):
        return "chrome-browser"
    return "other"


def snapshot(root: int) -> dict[tuple[int, int], Proc]:
    """Every process of ``root``'s tree now, by (pid, start time)."""
    found: dict[tuple[int, int], Proc] = {}
    for pid in descendants(root):
        stat = _stat(pid)
        if stat is None:
            continue
        comm, ppid, start, ticks = stat
        proc = Proc(pid, ppid, start, ticks, _kind(pid, comm, root))
        found[proc.key] = proc
    return found


def cpu_by_kind(before: dict[tuple[int, int], Proc], after: dict[tuple[int, int], Proc],
                seconds: float) -> tuple[dict[str, float], dict[str, int]]:
    """CPU used between two snapshots, by kind, as % of one core; and the processes of each
    kind at the end. A process born in between counts whole (all its CPU is in the window);
    one that ended in between is missed (its last figures went with it)."""
    ticks = dict.fromkeys(KINDS, 0)
    counts = dict.fromkeys(KINDS, 0)
    for key, proc in after.items():
        old = before.get(key)
        ticks[proc.kind] += proc.cpu_ticks - (old.cpu_ticks if old else 0)
        counts[proc.kind] += 1
    percent = {kind: 100.0 * value / TICKS_PER_S / seconds for kind, value in ticks.items()}
    return percent, counts


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (smaps_rollup), 0 if it is gone."""
    text = _read(f"/proc/{pid}/smaps_rollup") or ""
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def memory_per_session(workers: list[int], snap: dict[tuple[int, int], Proc]) -> dict[str, Any]:
    """PSS and processes per session (each worker's tree, averaged over ``workers``), and the
    PSS of the processes all sessions share (the supervisor and the zygote, from ``snap``)."""
    pss, counts = [], []
    for worker in workers:
        tree = descendants(worker)
        pss.append(sum(pss_bytes(pid) for pid in tree) / 2**20)
        counts.append(len(tree))
    shared = {p.kind: pss_bytes(p.pid) / 2**20 for p in snap.values()
              if p.kind in ("supervisor", "zygote")}
    n = len(pss)
    mean = sum(pss) / n if n else None
    return {
        "measured_sessions": n,
        "pss_per_session_mb": round(mean, 1) if mean else None,
        "pss_min_mb": round(min(pss), 1) if n else None,
        "pss_max_mb": round(max(pss), 1) if n else None,
        "pss_all_in_per_session_mb": round(mean + sum(shared.values()) / n, 1) if mean else None,
        "pss_supervisor_mb": round(shared.get("supervisor", 0), 1),
        "pss_zygote_mb": round(shared.get("zygote", 0), 1),
        "processes_per_session": round(sum(counts) / n, 2) if n else None,
        "chrome_processes_per_session": round(sum(counts) / n - 1, 2) if n else None,
    }


def host_cpu_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) ticks of the whole host since boot, from /proc/stat. Steal is time
    the hypervisor gave to other machines: not busy here, but not ours to use either."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]  # user nice system idle iowait irq softirq steal
    total = sum(values)
    return total - values[3] - values[4] - values[7], values[7], total


def host_ticks() -> dict[tuple[int, int], tuple[str, int]]:
    """Every process of the host (kernel threads too): (pid, start) -> (comm, CPU ticks).
    One scan of /proc: for the benchmark's two ends of a window, to name the other tenants."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            found[int(name), stat[2]] = (stat[0], stat[3])
    return found


def busiest(before: dict[tuple[int, int], tuple[str, int]],
            after: dict[tuple[int, int], tuple[str, int]], exclude: set[tuple[int, int]],
            seconds: float) -> list[tuple[str, int, float]]:
    """Processes of the host outside ``exclude`` by CPU between two :func:`host_ticks`, as
    (comm, pid, % of one core), busiest first."""
    used = [(comm, key[0], 100.0 * (ticks - before.get(key, (comm, 0))[1]) / TICKS_PER_S / seconds)
            for key, (comm, ticks) in after.items() if key not in exclude]
    return sorted((u for u in used if u[2] > 0), key=lambda u: -u[2])


def alive(keys: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Those of ``keys`` whose process still exists (same pid *and* start time), zombies not
    counted."""
    for pid, start in keys:
        text = _read(f"/proc/{pid}/stat")
        if not text:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[19]) == start and fields[0] != "Z":
            yield pid, start
