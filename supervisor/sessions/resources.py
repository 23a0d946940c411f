"""A session's latest resource sample, and what follows from each new one.

Samples come from :class:`supervisor.sessions.sampling.Sampler` on their own schedule
(``[limits] sample_interval_s``), never from a heartbeat; the API, ``/metrics`` and the
memory limit all read :attr:`ResourceSampler.last`, so no request waits on /proc. Each worker
is sampled a moment after it starts (a fresh CPU baseline), then once per interval, at an
offset of its own so that a hundred sessions are not measured in the same second.
"""

from __future__ import annotations

import random
from typing import Any

from supervisor.procs.tracking import Usage

__all__ = ["ResourceSampler"]

_FIRST_SAMPLE_S = 2.0


class ResourceSampler:
    """One session's samples: when the next is due, the last one, memory-limit strikes."""

    def __init__(self, interval_s: float, event_interval_s: float,
                 rng: random.Random | None = None) -> None:
        self._interval_s = interval_s
        self._event_interval_s = event_interval_s
        self._rng = rng or random.Random()
        self._pid: int | None = None
        self._next_at = 0.0
        self._event_at = 0.0
        self._cpu: tuple[float, float] | None = None  # (monotonic time, CPU seconds)
        self.strikes = 0  # samples in a row over the memory limit
        self.last: dict[str, Any] = {}

    def due(self, worker_pid: int, now: float) -> bool:
        """True when ``worker_pid`` should be measured now."""
        if worker_pid != self._pid:
            # A new worker (a start or a restart): a first sample soon, on a fresh baseline.
            self._pid, self._cpu, self.strikes, self.last = worker_pid, None, 0, {}
            self._next_at = now + _FIRST_SAMPLE_S * self._rng.uniform(0.5, 1.5)
            self._event_at = 0.0
        return now >= self._next_at

    def record(self, worker_pid: int, usage: Usage, now: float, extra: dict[str, Any],
               memory_limit_bytes: int) -> dict[str, Any] | None:
        """Keep a sample of ``worker_pid``; returns it when a ``session.resource`` event is due."""
        if worker_pid != self._pid:
            return None  # the worker changed while it was measured
        first = self._cpu is None
        # The second sample comes after a random part of the interval: spread, not in step.
        self._next_at = now + self._interval_s * (self._rng.uniform(0.1, 1.0) if first else 1.0)
        percent = None
        if usage.cpu_seconds is not None and self._cpu is not None and now > self._cpu[0]:
            percent = round(max(0.0, usage.cpu_seconds - self._cpu[1]) / (now - self._cpu[0]) * 100, 1)
        if usage.cpu_seconds is not None:
            self._cpu = (now, usage.cpu_seconds)
        memory = usage.memory_bytes
        self.strikes = self.strikes + 1 if memory_limit_bytes and memory and memory > memory_limit_bytes else 0
        self.last = {
            "memory_bytes": memory,
            "memory_source": usage.memory_source,
            "processes": usage.processes,
            "cpu_seconds": round(usage.cpu_seconds, 2) if usage.cpu_seconds is not None else None,
            "cpu_percent": percent,
            "worker_pid": worker_pid,
            **extra,
        }
        if now < self._event_at:
            return None
        self._event_at = now + self._event_interval_s
        return self.last
