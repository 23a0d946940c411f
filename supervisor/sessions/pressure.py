"""Host pressure: is there enough memory and disk to start one more Chrome?

New starts are refused (429 with Retry-After) while the host's available memory or the free
space on the state directory's disk is under its floor; ``/health/ready`` answers 503 then.
Running sessions are never touched by this. :class:`HostFigures` keeps the host's figures the
API shows, read once per window rather than once per request.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from supervisor.settings import LimitsConfig

__all__ = ["HostFigures", "Pressure", "sample"]


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


class HostFigures:
    """The host's memory, CPU share and load, and this daemon's resident size, for
    ``/api/stats`` and the listing: read at most once per ``window_s``, so that requests close
    together share one reading (a dashboard polling a hundred sessions costs no /proc reads of
    its own). The first CPU window starts when this object is made (by the API, at start-up),
    not when the module is imported."""

    def __init__(self, now: float, window_s: float = 2.0) -> None:
        self._window_s = window_s
        self._own = psutil.Process()
        self._read_at = now
        self._host, self._rss = self._read(psutil.cpu_percent(interval=None))

    def _read(self, cpu_percent: float) -> tuple[dict[str, Any], int]:
        memory = psutil.virtual_memory()
        host = {
            "memory_total_bytes": memory.total,
            "memory_available_bytes": memory.available,
            "memory_percent": memory.percent,
            "cpu_percent": cpu_percent,
            "cpu_count": psutil.cpu_count() or 1,
            "load_1m": round(os.getloadavg()[0], 2),
        }
        return host, self._own.memory_info().rss

    def latest(self, now: float) -> tuple[dict[str, Any], int]:
        """(the host's figures, the daemon's resident bytes) as of the last reading, read
        again first if it is ``window_s`` old (monotonic ``now``)."""
        if now - self._read_at >= self._window_s:
            self._read_at = now
            self._host, self._rss = self._read(psutil.cpu_percent(interval=None))
        return self._host, self._rss
