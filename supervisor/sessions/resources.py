"""Resource samples of a session: the ``session.resource`` event, at a modest rate.

Every worker heartbeat carries its Chrome tree's memory (PSS), process count and CDP round
trips; publishing each one would flood webhooks. A sample is taken from the first heartbeat of
each worker, then once per ``[events] resource_interval_s``. CPU is read here with psutil over
the worker's whole tree (worker, Chrome and Chrome's children): a few /proc reads per sample.
"""

from __future__ import annotations

import time
from typing import Any

import psutil

__all__ = ["ResourceSampler", "tree_cpu_seconds"]


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used by ``pid``, its live descendants, and the children
    they have reaped; None if ``pid`` is gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue  # exited between the listing and now
        total += t.user + t.system + t.children_user + t.children_system
    return total


class ResourceSampler:
    """Turns a session's heartbeats into ``session.resource`` payloads, one per interval."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._pid: int | None = None
        self._next_at = 0.0
        self._cpu: tuple[float, float] | None = None  # (monotonic time, CPU seconds)
        self.last: dict[str, Any] = {}

    def on_heartbeat(self, worker_pid: int | None, beat: dict[str, Any]) -> dict[str, Any] | None:
        """The sample to publish for this heartbeat, or None when it is not time yet."""
        now = time.monotonic()
        if worker_pid != self._pid:
            # A new worker (a start or a restart): sample at once, on a fresh CPU baseline.
            self._pid, self._next_at, self._cpu = worker_pid, 0.0, None
        if now < self._next_at or worker_pid is None:
            return None
        self._next_at = now + self._interval_s
        cpu_s = tree_cpu_seconds(worker_pid)
        percent = None
        if cpu_s is not None and self._cpu is not None and now > self._cpu[0]:
            percent = round(max(0.0, cpu_s - self._cpu[1]) / (now - self._cpu[0]) * 100, 1)
        if cpu_s is not None:
            self._cpu = (now, cpu_s)
        self.last = {
            "pss_bytes": beat.get("pss_bytes"),
            "processes": beat.get("processes"),
            "cpu_seconds": round(cpu_s, 2) if cpu_s is not None else None,
            "cpu_percent": percent,
            "cdp_rtt_ms": beat.get("cdp_rtt_ms"),
            "browser_rtt_ms": beat.get("browser_rtt_ms"),
            "worker_pid": worker_pid,
            "chrome_pid": beat.get("chrome_pid"),
        }
        return self.last
