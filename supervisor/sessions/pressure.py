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

from supervisor.config import LimitsConfig

__all__ = ["Pressure", "sample"]


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
