"""The session state machine's table (states.ALLOWED): every pair of states, allowed or not."""

from __future__ import annotations

import itertools

import pytest

from supervisor.states import ALLOWED, RUNNING_STATES, State

S = State
#: The transitions a session may make, written out pair by pair (the diagram in states.py).
EXPECTED = {
    (S.STOPPED, S.STARTING), (S.STOPPED, S.STOPPING),
    (S.STARTING, S.STARTING), (S.STARTING, S.SCAN_QR_CODE), (S.STARTING, S.WORKING),
    (S.STARTING, S.STOPPING), (S.STARTING, S.FAILED),
    (S.SCAN_QR_CODE, S.SCAN_QR_CODE), (S.SCAN_QR_CODE, S.STARTING), (S.SCAN_QR_CODE, S.WORKING),
    (S.SCAN_QR_CODE, S.STOPPING), (S.SCAN_QR_CODE, S.FAILED),
    (S.WORKING, S.STARTING), (S.WORKING, S.SCAN_QR_CODE), (S.WORKING, S.STOPPING),
    (S.WORKING, S.FAILED),
    (S.STOPPING, S.STOPPED), (S.STOPPING, S.FAILED),
    (S.FAILED, S.STARTING), (S.FAILED, S.STOPPING),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(State, State)))
def test_each_pair(old: State, new: State) -> None:
    assert (new in ALLOWED[old]) == ((old, new) in EXPECTED)


def test_every_state_can_be_stopped_or_is_stopped_and_none_is_a_dead_end() -> None:
    for state in State:
        assert ALLOWED[state], state
        assert state in (S.STOPPED, S.STOPPING) or S.STOPPING in ALLOWED[state]
    assert RUNNING_STATES == {S.STARTING, S.SCAN_QR_CODE, S.WORKING}
