"""What follows a worker's exit, decided in one pure function (so every case is a table test).

A worker that fenced itself (its lease lapsed: ``EXIT_FENCED``, ExitKind.FENCED) is not
restarted and is no crash: the session may run on another node by now, so only the cluster
layer may start it again (supervisor.sessions.fencing). A recycle that ended cleanly restarts
at once; exit code 3 (``EXIT_BOOT_FAILURE``) means a restart will not help: FAILED; any other
exit is a crash: restart after the backoff delay, unless too many fast crashes in a row
(FAILED), and never before the global breaker allows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from supervisor.procs.process import SupervisorCause
from supervisor.sessions.backoff import CrashBreaker, RestartPolicy
from worker import protocol

__all__ = ["Action", "Decision", "Exit", "decide", "restart_kind"]


@dataclass(frozen=True)
class Exit:
    """How one worker ended."""

    returncode: int | None
    kind: str | None  # a protocol.ExitKind or a SupervisorCause, when one is known
    reason: str  # for people: logged, stored as last_exit / last_error, in events


class Action(enum.StrEnum):
    """What the session does next."""

    RECYCLED = "recycled"  # a graceful replacement finished: start again now, not a crash
    FAIL = "fail"  # a restart will not help
    RESTART = "restart"  # a crash: start again after ``delay_s``
    FENCED = "fenced"  # the worker's lease lapsed: stay down, not a crash (the cluster decides)


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`."""

    action: Action
    reason: str
    delay_s: float = 0.0
    breaker_opened: bool = False  # this crash opened the global breaker
    crash: bool = False  # a crash: counted in the session's restarts, policy and breaker


#: Restart reasons by code, for the ``reason`` label of zapvisor_session_restarts_total: a small
#: fixed set, however the texts are worded.
_LABELS = {
    SupervisorCause.HEARTBEAT_TIMEOUT: "heartbeat_timeout",
    SupervisorCause.START_TIMEOUT: "start_timeout",
    protocol.ExitKind.CDP_UNRESPONSIVE: "cdp_unresponsive",
    protocol.ExitKind.PAGE_UNRESPONSIVE: "cdp_unresponsive",
}


def restart_kind(exit: Exit) -> str:
    """The metric label of a crash restart."""
    label = _LABELS.get(exit.kind or "")  # type: ignore[call-overload]
    if label is not None:
        return label
    if exit.returncode is not None and exit.returncode < 0:
        return "killed"
    if exit.returncode is not None and exit.returncode > 0:
        return "crashed"
    return "other"


def decide(exit: Exit, recycling: bool, policy: RestartPolicy, breaker: CrashBreaker,
           uptime_s: float, now: float) -> Decision:
    """What follows ``exit``. Records the crash in ``policy`` and ``breaker`` when it is one."""
    if exit.kind == protocol.ExitKind.FENCED or exit.returncode == protocol.EXIT_FENCED:
        # By its code too: a fenced worker's last words may not have reached a frozen daemon.
        said = exit.kind == protocol.ExitKind.FENCED or exit.reason.startswith("fenced")
        return Decision(Action.FENCED, exit.reason if said else f"fenced: its lease lapsed ({exit.reason})")
    if recycling and exit.returncode == protocol.EXIT_OK:
        return Decision(Action.RECYCLED, exit.reason)
    if exit.returncode == protocol.EXIT_BOOT_FAILURE:
        return Decision(Action.FAIL, exit.reason)
    opened = breaker.record_crash(now)
    delay = policy.next_delay(uptime_s)
    if delay is None:
        return Decision(Action.FAIL, f"{policy.fast_crashes} fast crashes in a row; last: {exit.reason}",
                        breaker_opened=opened, crash=True)
    return Decision(Action.RESTART, exit.reason, max(delay, breaker.hold_s(now)), opened, crash=True)
