"""Restart backoff and the global crash breaker (pure logic)."""

from __future__ import annotations

import random

from supervisor.sessions.backoff import CrashBreaker, RestartPolicy
from supervisor.settings import LimitsConfig


def test_backoff_grows_caps_and_fails() -> None:
    limits = LimitsConfig(restart_backoff_initial_s=1, restart_backoff_factor=2,
                          restart_backoff_max_s=5, restart_backoff_jitter=0, max_fast_crashes=6)
    policy = RestartPolicy(limits)
    delays = [policy.next_delay(uptime_s=0.5) for _ in range(5)]
    assert delays == [1, 2, 4, 5, 5]
    assert policy.next_delay(uptime_s=0.5) is None


def test_a_stable_run_resets_the_count() -> None:
    limits = LimitsConfig(restart_backoff_jitter=0, restart_reset_after_s=60)
    policy = RestartPolicy(limits)
    policy.next_delay(1)
    policy.next_delay(1)
    assert policy.next_delay(uptime_s=61) == limits.restart_backoff_initial_s


def test_jitter_stays_in_bounds_and_varies() -> None:
    limits = LimitsConfig(restart_backoff_initial_s=10, restart_backoff_jitter=0.2)
    seen = set()
    for seed in range(50):
        delay = RestartPolicy(limits, random.Random(seed)).next_delay(0)
        assert delay is not None and 8 <= delay <= 12
        seen.add(round(delay, 3))
    assert len(seen) > 10


def test_breaker_opens_on_a_storm_and_closes_after_cooldown() -> None:
    limits = LimitsConfig(breaker_crashes=3, breaker_window_s=10, breaker_cooldown_s=30)
    breaker = CrashBreaker(limits)
    assert not breaker.record_crash(100.0)
    assert not breaker.record_crash(101.0)
    assert breaker.record_crash(102.0)
    assert breaker.hold_s(102.0) == 30
    assert breaker.hold_s(120.0) == 12
    assert breaker.hold_s(133.0) == 0
    assert breaker.trips == 1


def test_breaker_ignores_crashes_spread_over_time() -> None:
    breaker = CrashBreaker(LimitsConfig(breaker_crashes=3, breaker_window_s=10))
    assert not any(breaker.record_crash(t) for t in (0.0, 20.0, 40.0, 60.0))
    assert breaker.hold_s(60.0) == 0
