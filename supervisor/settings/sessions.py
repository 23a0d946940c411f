"""How sessions run: ``[sessions]``, ``[chrome]``, ``[limits]``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from supervisor.settings.rules import SESSION_ID_RE, require
from worker import protocol

__all__ = ["SessionsConfig", "ChromeConfig", "LimitsConfig"]


@dataclass(frozen=True)
class SessionsConfig:
    """[sessions]: limits and lifecycle of sessions."""

    max_sessions: int = 50
    max_concurrent_starts: int = 0  # 0: one per CPU core (start_slots)
    restore_on_boot: bool = True
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 15.0
    worker_spawn: str = "zygote"
    default_session: str = "default"
    start_default_session: bool = False
    auto_cleanup_on_logout: bool = True
    cleanup_delay_s: float = 2.0
    cgroups: str = "auto"

    def __post_init__(self) -> None:
        require(self.max_sessions >= 1, "max_sessions", "must be at least 1")
        require(self.max_concurrent_starts >= 0, "max_concurrent_starts",
                "must be >= 0 (0 = one per CPU core)")
        require(self.cgroups in ("auto", "off"), "cgroups", "must be auto or off")
        require(self.worker_spawn in ("zygote", "exec"), "worker_spawn", "must be zygote or exec")
        require(self.cleanup_delay_s >= 0, "cleanup_delay_s", "must be >= 0")
        require(SESSION_ID_RE.fullmatch(self.default_session) is not None, "default_session",
                 "must be a valid session id (letters, digits, '_', '-')")

    @property
    def start_slots(self) -> int:
        """Chrome launches at once: the configured number, or one per CPU this process may
        run on (a launch is CPU-bound: more at once only makes each slower)."""
        return self.max_concurrent_starts or len(os.sched_getaffinity(0)) or 1


@dataclass(frozen=True)
class ChromeConfig:
    """[chrome]: the browser each worker launches."""

    executable: str = ""
    headless: bool = True
    extra_args: tuple[str, ...] = ()
    user_agent: str = ""
    lean: tuple[str, ...] = protocol.CHROME_LEAN_DEFAULT
    js_heap_max_mb: int = 0
    launch_timeout_s: float = 30.0
    page_timeout_s: float = 60.0
    close_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        # CDP goes over a pipe only the worker holds: a DevTools port would let any local
        # user attach to the session's browser (and through it read files, drive the account).
        require(not any(arg.startswith("--remote-debugging") for arg in self.extra_args),
                 "extra_args", "must not set --remote-debugging-*: DevTools is the worker's pipe "
                 "(a port would be open to every local user)")
        known = tuple(protocol.ChromeLean)
        unknown = [name for name in self.lean if name not in known]
        require(not unknown, "lean", f"names unknown optimisations {unknown}: known are {', '.join(known)}")
        require(len(set(self.lean)) == len(self.lean), "lean", "names an optimisation twice")
        require(self.js_heap_max_mb == 0 or self.js_heap_max_mb >= 64, "js_heap_max_mb",
                 "must be 0 (V8's own) or at least 64")


@dataclass(frozen=True)
class LimitsConfig:
    """[limits]: liveness, restart backoff and the global crash breaker."""

    heartbeat_interval_s: float = 5.0
    heartbeat_timeout_s: float = 30.0
    kill_grace_s: float = 3.0
    restart_backoff_initial_s: float = 1.0
    restart_backoff_max_s: float = 60.0
    restart_backoff_factor: float = 2.0
    restart_backoff_jitter: float = 0.2
    restart_reset_after_s: float = 60.0
    max_fast_crashes: int = 5
    breaker_crashes: int = 10
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0
    memory_max_mb: int = 1536
    memory_samples: int = 3
    recycle_after_h: float = 24.0
    recycle_jitter: float = 0.1
    check_interval_s: float = 10.0
    min_available_memory_mb: int = 256
    min_free_disk_mb: int = 512
    sample_interval_s: float = 60.0
    probe_interval_s: float = 10.0
    starved_loop_lag_s: float = 1.0
    starved_late_share: float = 0.25
    cgroup_memory_max_mb: int = 0
    cgroup_memory_high_mb: int = 0

    def __post_init__(self) -> None:
        require(self.heartbeat_interval_s > 0, "heartbeat_interval_s", "must be > 0")
        require(self.heartbeat_timeout_s > self.heartbeat_interval_s, "heartbeat_timeout_s",
                 "must be greater than heartbeat_interval_s")
        require(self.restart_backoff_factor >= 1, "restart_backoff_factor", "must be >= 1")
        require(0 <= self.restart_backoff_jitter < 1, "restart_backoff_jitter", "must be in [0, 1)")
        require(self.max_fast_crashes >= 1, "max_fast_crashes", "must be at least 1")
        require(self.breaker_crashes >= 1, "breaker_crashes", "must be at least 1")
        require(self.memory_max_mb >= 0, "memory_max_mb", "must be >= 0 (0 = no limit)")
        require(self.memory_samples >= 1, "memory_samples", "must be at least 1")
        require(self.recycle_after_h >= 0, "recycle_after_h", "must be >= 0 (0 = never)")
        require(0 <= self.recycle_jitter < 1, "recycle_jitter", "must be in [0, 1)")
        require(self.check_interval_s > 0, "check_interval_s", "must be > 0")
        require(self.sample_interval_s > 0, "sample_interval_s", "must be > 0")
        require(self.probe_interval_s > 0, "probe_interval_s", "must be > 0")
        require(self.starved_loop_lag_s > 0, "starved_loop_lag_s", "must be > 0")
        require(0 < self.starved_late_share <= 1, "starved_late_share", "must be in (0, 1]")
        for key in ("cgroup_memory_max_mb", "cgroup_memory_high_mb"):
            require(getattr(self, key) >= 0, key, "must be >= 0 (0 = no limit)")
