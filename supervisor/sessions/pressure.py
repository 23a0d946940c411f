"""Host pressure: is there enough memory and disk to start one more Chrome?

New starts are refused (429 with Retry-After) while the host's available memory or the free
space on the state directory's disk is under its floor; ``/health/ready`` answers 503 then.
Running sessions are never touched by this.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from supervisor.settings import LimitsConfig

__all__ = ["HostCpu", "Pressure", "sample"]


@dataclass(frozen=True)
class Pressure:
    """One reading of the host."""

    available_memory_mb: float
    free_disk_mb: float
    reason: str  # "" when there is room

    @property
    def overloaded(self) -> bool:
        """True when new starts must be refused."""
        return bool(self.reason)


def sample(limits: LimitsConfig, state_dir: Path) -> Pressure:
    """Read /proc/meminfo and statvfs (fast, but blocking: once per check, not per request)."""
    memory = psutil.virtual_memory().available / 2**20
    try:
        disk = shutil.disk_usage(state_dir).free / 2**20
    except OSError:
        disk = 0.0
    reasons = []
    if memory < limits.min_available_memory_mb:
        reasons.append(f"available memory {memory:.0f} MB is under {limits.min_available_memory_mb} MB")
    if disk < limits.min_free_disk_mb:
        reasons.append(f"free disk {disk:.0f} MB on {state_dir} is under {limits.min_free_disk_mb} MB")
    return Pressure(memory, disk, "; ".join(reasons))


class HostCpu:
    """The host's busy CPU share over the last window of at least ``window_s``, read without
    blocking: requests close together share one reading. The first window starts when this
    object is made (by the API, at start-up), not when the module is imported."""

    def __init__(self, now: float, window_s: float = 2.0) -> None:
        self._window_s = window_s
        self._read_at = now
        self._percent = psutil.cpu_percent(interval=None)

    def percent(self, now: float) -> float:
        """The busy share in percent (monotonic ``now``)."""
        if now - self._read_at >= self._window_s:
            self._read_at, self._percent = now, psutil.cpu_percent(interval=None)
        return self._percent
