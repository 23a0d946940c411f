"""Resource samples: the per-session schedule and figures, and the /proc readers (this process)."""

from __future__ import annotations

import os
import random

import pytest

from supervisor.procs import procfs
from supervisor.procs.tracking import PssCache, Usage
from supervisor.sessions.resources import ResourceSampler


def test_a_new_worker_is_sampled_soon_then_once_per_interval_at_its_own_offset() -> None:
    sampler = ResourceSampler(interval_s=60.0, event_interval_s=30.0, rng=random.Random(1))
    assert not sampler.due(111, 0.0)  # a moment after it appears, not at once
    assert sampler.due(111, 3.1)
    first = sampler.record(111, Usage(10.0, 100 * 2**20, "pss", 4), 3.1, {}, 0)
    assert first is not None and first["cpu_percent"] is None and first["memory_bytes"] == 100 * 2**20
    assert not sampler.due(111, 3.2)
    due_at = next(t / 10 for t in range(32, 700) if sampler.due(111, t / 10))
    assert 3.1 + 6 <= due_at <= 3.1 + 60  # spread over the interval, not in step
    second = sampler.record(111, Usage(12.0, 100 * 2**20, "pss", 4), due_at, {}, 0)
    assert second is not None and second["cpu_percent"] == round(2.0 / (due_at - 3.1) * 100, 1)
    assert sampler.due(111, due_at + 60.0) and not sampler.due(111, due_at + 59.0)


def test_a_new_worker_starts_afresh_and_a_stale_measurement_is_dropped() -> None:
    sampler = ResourceSampler(interval_s=5.0, event_interval_s=0.0, rng=random.Random(2))
    sampler.due(1, 0.0)
    sampler.record(1, Usage(1.0, 10, "pss", 2), 3.0, {}, 5)
    assert sampler.strikes == 1 and sampler.last["worker_pid"] == 1
    assert not sampler.due(2, 3.5) and sampler.last == {} and sampler.strikes == 0
    assert sampler.record(1, Usage(1.0, 10, "pss", 2), 4.0, {}, 5) is None  # worker 1 is gone


def test_memory_strikes_count_samples_in_a_row_over_the_limit() -> None:
    sampler = ResourceSampler(interval_s=1.0, event_interval_s=100.0, rng=random.Random(3))
    sampler.due(7, 0.0)
    published = [sampler.record(7, Usage(None, mb * 2**20, "cgroup", 3), 3.0 + i, {}, 50 * 2**20)
                 for i, mb in enumerate((60, 70, 40, 80))]
    assert sampler.strikes == 1  # 60, 70 over; 40 under resets; 80 over
    assert [p is not None for p in published] == [True, False, False, False]  # event interval


def test_procfs_reads_this_process_and_its_threads_children() -> None:
    me = procfs.read_stat(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.ppid == os.getppid()
    assert me.cpu_seconds > 0 and me.start_ticks > 0
    assert procfs.walk(os.getpid())[0] == os.getpid()
    assert (procfs.pss_bytes(os.getpid()) or 0) > 1_000_000
    assert procfs.read_stat(2**22 + 1) is None and procfs.walk(2**22 + 1) == []
    assert procfs.cpu_seconds([os.getpid(), 2**22 + 1]) >= me.cpu_seconds


def test_runs_module_reads_the_command_line() -> None:
    with open(f"/proc/{os.getpid()}/cmdline", "rb") as file:
        argv = file.read().split(b"\0")
    assert b"-m" in argv, "the suite runs as `python -m pytest` (scripts/dev.sh test)"
    assert procfs.runs_module(os.getpid(), frozenset({argv[argv.index(b"-m") + 1].decode()}))
    assert not procfs.runs_module(os.getpid(), frozenset({"worker"}))
    assert not procfs.runs_module(2**22 + 1, frozenset({"worker"}))


def test_pss_is_read_again_only_when_resident_size_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    resident = {os.getpid(): 10_000}
    reads: list[int] = []
    monkeypatch.setattr(procfs, "resident_pages", lambda pid: resident.get(pid))
    monkeypatch.setattr(procfs, "pss_bytes", lambda pid: reads.append(pid) or 40 * 2**20)
    cache = PssCache()
    assert cache.usage([os.getpid()], 1.0) == Usage(1.0, 40 * 2**20, "pss", 1)
    for _ in range(3):
        cache.usage([os.getpid()], 1.0)
    assert len(reads) == 1  # an idle process: statm only
    resident[os.getpid()] = 10_500  # 5% more resident: read again
    cache.usage([os.getpid()], 1.0)
    assert len(reads) == 2
    for _ in range(11):
        cache.usage([os.getpid()], 1.0)
    assert len(reads) == 3  # refreshed every tenth sample even when still
    assert cache.usage([2**22 + 1], None) == Usage(None, None, "pss", 0)
