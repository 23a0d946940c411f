"""Measuring sessions on a slow schedule of their own, never inside a heartbeat.

Every second the sampler takes the sessions whose next sample is due (each session is due
once per ``[limits] sample_interval_s``, at an offset of its own) and measures them together
in one thread: their cgroup's counters, or their own process trees (supervisor.procs.tracking).
The cost is a few small reads per session per interval, whatever the number of sessions.

From each sample: the session's figures for the API and ``/metrics`` (read from the last
sample, never measured on request), a ``session.resource`` event at most every
``[events] resource_interval_s``, and the memory limit (``memory_max_mb`` for
``memory_samples`` samples in a row: a graceful recycle).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.procs.tracking import SessionProcs, Usage
from supervisor.sessions.session import Session
from supervisor.settings import LimitsConfig
from supervisor.states import State

__all__ = ["Sampler"]

_TICK_S = 1.0

_log = get_logger()


def _measure(jobs: list[tuple[SessionProcs, int]]) -> list[Usage | None]:
    results: list[Usage | None] = []
    for procs, pid in jobs:
        try:
            results.append(procs.measure(pid))
        except OSError:  # out of descriptors, a cgroup removed under us: the next round
            results.append(None)
    return results


class Sampler:
    """Owned by the daemon's TaskGroup (``run``)."""

    def __init__(self, limits: LimitsConfig, bus: EventBus,
                 sessions: Callable[[], Iterable[Session]]) -> None:
        self._limits = limits
        self._bus = bus
        self._sessions = sessions

    async def run(self) -> None:
        """Sample until cancelled; a failing round is logged, never fatal."""
        while True:
            try:
                await self.round(time.monotonic())
            except Exception:
                _log.exception("sampling.round_failed")
            await asyncio.sleep(_TICK_S)

    async def round(self, now: float) -> int:
        """Measure the sessions that are due; returns how many were."""
        due: list[tuple[Session, int]] = []
        for session in self._sessions():
            worker = session.live_worker()
            if worker is not None and worker.pid is not None and session.resources.due(worker.pid, now):
                due.append((session, worker.pid))
        if not due:
            return 0
        usages = await asyncio.to_thread(_measure, [(session.procs, pid) for session, pid in due])
        now = time.monotonic()
        limit = self._limits.memory_max_mb * 2**20
        for (session, pid), usage in zip(due, usages, strict=True):
            if usage is not None:
                self._record(session, pid, usage, now, limit)
        return len(due)

    def _record(self, session: Session, pid: int, usage: Usage, now: float, limit: int) -> None:
        worker = session.worker
        beat = worker.heartbeat if worker is not None else {}
        extra = {"chrome_pid": worker.chrome_pid if worker else None,
                 "cdp_rtt_ms": beat.get("cdp_rtt_ms"), "browser_rtt_ms": beat.get("browser_rtt_ms")}
        sample = session.resources.record(pid, usage, now, extra, limit)
        if sample is not None:
            self._bus.publish("session.resource", session.id, sample)
        if session.resources.strikes >= self._limits.memory_samples and session.state == State.WORKING:
            memory = usage.memory_bytes or 0
            session.resources.strikes = 0
            session.request_recycle(f"memory {memory / 2**20:.0f} MB over {self._limits.memory_max_mb} MB "
                                    f"for {self._limits.memory_samples} samples")
