"""What follows a worker's exit (sessions/exits.py), case by case, and the restart labels."""

from __future__ import annotations

import pytest

from supervisor.procs.process import SupervisorCause
from supervisor.sessions.backoff import CrashBreaker, RestartPolicy
from supervisor.sessions.exits import Action, Exit, decide, restart_kind
from supervisor.settings import LimitsConfig
from worker import protocol

LIMITS = LimitsConfig(restart_backoff_initial_s=1.0, restart_backoff_factor=2.0,
                      restart_backoff_jitter=0.0, max_fast_crashes=3, restart_reset_after_s=60.0,
                      breaker_crashes=100)
OK, CRASH, BOOT = protocol.EXIT_OK, protocol.EXIT_CRASH, protocol.EXIT_BOOT_FAILURE


@pytest.mark.parametrize(("returncode", "recycling", "action", "delay_s"), [
    (OK, True, Action.RECYCLED, 0.0),  # a recycle that closed cleanly: start again now
    (CRASH, True, Action.RESTART, 1.0),  # a recycle that crashed is a crash
    (OK, False, Action.RESTART, 1.0),  # exiting 0 unasked (driver finished) is restarted
    (CRASH, False, Action.RESTART, 1.0),
    (-9, False, Action.RESTART, 1.0),  # killed by a signal
    (None, False, Action.RESTART, 1.0),  # never started (spawn failed)
    (BOOT, False, Action.FAIL, 0.0),  # a restart will not help
    (BOOT, True, Action.FAIL, 0.0),
])
def test_one_exit(returncode: int | None, recycling: bool, action: Action, delay_s: float) -> None:
    policy, breaker = RestartPolicy(LIMITS), CrashBreaker(LIMITS)
    decision = decide(Exit(returncode, None, "why"), recycling, policy, breaker, 0.0, 100.0)
    assert (decision.action, decision.delay_s) == (action, delay_s)
    assert decision.reason == "why"
    # Only crashes count towards the fast-crash limit.
    assert policy.fast_crashes == (1 if action == Action.RESTART else 0)


def test_fast_crashes_back_off_then_fail_and_a_stable_run_resets() -> None:
    policy, breaker = RestartPolicy(LIMITS), CrashBreaker(LIMITS)
    crash = Exit(CRASH, protocol.ExitKind.CRASHED, "boom")
    delays = [decide(crash, False, policy, breaker, 1.0, 0.0).delay_s for _ in range(2)]
    assert delays == [1.0, 2.0]
    last = decide(crash, False, policy, breaker, 1.0, 0.0)
    assert last.action == Action.FAIL and last.reason == "3 fast crashes in a row; last: boom"
    policy.reset()
    decide(crash, False, policy, breaker, 1.0, 0.0)
    assert decide(crash, False, policy, breaker, 120.0, 0.0).delay_s == 1.0  # ran 120 s: reset


def test_the_breaker_holds_a_restart_and_says_when_it_opened() -> None:
    limits = LimitsConfig(restart_backoff_jitter=0.0, breaker_crashes=2, breaker_window_s=30.0,
                          breaker_cooldown_s=40.0, max_fast_crashes=10)
    breaker = CrashBreaker(limits)
    crash = Exit(CRASH, None, "boom")
    first = decide(crash, False, RestartPolicy(limits), breaker, 0.0, 10.0)
    second = decide(crash, False, RestartPolicy(limits), breaker, 0.0, 11.0)
    assert not first.breaker_opened and second.breaker_opened
    assert second.delay_s == 40.0  # held by the breaker, longer than the backoff


@pytest.mark.parametrize(("returncode", "kind", "label"), [
    (-15, SupervisorCause.HEARTBEAT_TIMEOUT, "heartbeat_timeout"),
    (-15, SupervisorCause.START_TIMEOUT, "start_timeout"),
    (1, protocol.ExitKind.CDP_UNRESPONSIVE, "cdp_unresponsive"),
    (1, protocol.ExitKind.PAGE_UNRESPONSIVE, "cdp_unresponsive"),
    (-9, None, "killed"),
    (1, protocol.ExitKind.CHROME_EXITED, "crashed"),
    (1, None, "crashed"),
    (0, protocol.ExitKind.STOP, "other"),
    (None, SupervisorCause.SPAWN_FAILED, "other"),
])
def test_restart_labels_come_from_codes_not_texts(returncode: int | None, kind: str | None,
                                                  label: str) -> None:
    # The text says something else on purpose: rewording a message never changes a label.
    assert restart_kind(Exit(returncode, kind, "Chrome not answering CDP")) == label
