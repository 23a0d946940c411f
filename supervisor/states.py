"""Session states and the transitions allowed between them (no dependencies).

::

    STOPPED ──start──> STARTING ──page asks for login──> SCAN_QR_CODE ──paired──> WORKING
       ^                  │  ^                                │                      │
       │                  │  └──────── crash: backoff, restart ┴──────────────────────┤
       │                  └── boot failure / too many fast crashes ──> FAILED         │
       └──────────────── STOPPING <── stop / delete (from any running state) ─────────┘

The names are WAHA's, which many users already know.
"""

from __future__ import annotations

import enum

__all__ = ["State", "ALLOWED", "RUNNING_STATES", "exists_message"]


class State(str, enum.Enum):
    """The state of one session."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    STOPPING = "STOPPING"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


#: States in which a worker process may exist.
RUNNING_STATES = frozenset({State.STARTING, State.SCAN_QR_CODE, State.WORKING})

ALLOWED: dict[State, frozenset[State]] = {
    # STOPPED -> STARTING: start asked. STOPPED -> STOPPING: stop of a stopped session is a no-op
    # that still runs the orphan sweep.
    State.STOPPED: frozenset({State.STARTING, State.STOPPING}),
    # STARTING -> STARTING: a crash during start, restarted after backoff.
    State.STARTING: frozenset(
        {State.STARTING, State.SCAN_QR_CODE, State.WORKING, State.STOPPING, State.FAILED}
    ),
    State.SCAN_QR_CODE: frozenset(
        {State.SCAN_QR_CODE, State.STARTING, State.WORKING, State.STOPPING, State.FAILED}
    ),
    State.WORKING: frozenset({State.STARTING, State.SCAN_QR_CODE, State.STOPPING, State.FAILED}),
    State.STOPPING: frozenset({State.STOPPED, State.FAILED}),
    State.FAILED: frozenset({State.STARTING, State.STOPPING}),
}


def exists_message(session_id: str, state: State) -> str:
    """What creating a session that exists already answers: its state, and for one that does
    not run (STOPPED, FAILED) how to start it, since creating it again never will."""
    if state in RUNNING_STATES or state == State.STOPPING:
        return f"session {session_id!r} already exists and is {state}"
    return (f"session {session_id!r} already exists and is {state}: start it instead "
            f"(POST /api/sessions/{session_id}/start, or zapvisor start {session_id} --wait)")
