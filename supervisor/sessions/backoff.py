"""Restart decisions: jittered exponential backoff per session, and one global crash breaker.

A session that crashes soon after starting backs off ``initial * factor**(n-1)`` seconds
(capped, with ±jitter so sessions never restart in lockstep). A run that lasted
``restart_reset_after_s`` resets the count. After ``max_fast_crashes`` crashes in a row the
session is FAILED. The breaker counts crashes of *all* sessions: past ``breaker_crashes`` in
``breaker_window_s`` every restart waits ``breaker_cooldown_s``, so a broken Chrome cannot make
every session restart at once, over and over.
"""

from __future__ import annotations

import collections
import random

from supervisor.settings import LimitsConfig

__all__ = ["RestartPolicy", "CrashBreaker"]


class RestartPolicy:
    """Per-session backoff state."""

    def __init__(self, limits: LimitsConfig, rng: random.Random | None = None) -> None:
        self._limits = limits
        self._rng = rng or random.Random()
        self.fast_crashes = 0

    def next_delay(self, uptime_s: float) -> float | None:
        """Record a crash after ``uptime_s`` of running; the delay before restarting, or None
        when the session has crashed too often and must go FAILED."""
        lim = self._limits
        if uptime_s >= lim.restart_reset_after_s:
            self.fast_crashes = 0
        self.fast_crashes += 1
        if self.fast_crashes >= lim.max_fast_crashes:
            return None
        base = lim.restart_backoff_initial_s * lim.restart_backoff_factor ** (self.fast_crashes - 1)
        base = min(base, lim.restart_backoff_max_s)
        jitter = lim.restart_backoff_jitter
        return base * self._rng.uniform(1 - jitter, 1 + jitter)

    def reset(self) -> None:
        """Forget past crashes (an explicit start or restart by a user)."""
        self.fast_crashes = 0


class CrashBreaker:
    """Counts crashes across all sessions and holds restarts when they come too fast."""

    def __init__(self, limits: LimitsConfig) -> None:
        self._limits = limits
        self._crashes: collections.deque[float] = collections.deque()
        self._open_until = 0.0
        self.trips = 0

    def record_crash(self, now: float) -> bool:
        """Count one crash at monotonic time ``now``; True if this crash opened the breaker."""
        lim = self._limits
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - lim.breaker_window_s:
            self._crashes.popleft()
        if len(self._crashes) >= lim.breaker_crashes and now >= self._open_until:
            self._open_until = now + lim.breaker_cooldown_s
            self._crashes.clear()
            self.trips += 1
            return True
        return False

    def hold_s(self, now: float) -> float:
        """How long a restart must still wait because the breaker is open (0 when closed)."""
        return max(0.0, self._open_until - now)
