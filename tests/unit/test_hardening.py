"""The daemon's self-protection pieces on their own: asyncio's repeated errors are logged once,
then summed up."""

from __future__ import annotations

import asyncio

import structlog

from supervisor.hardening import LoopErrorLimiter


def test_a_repeated_accept_error_is_logged_once_then_summed_up() -> None:
    now = [0.0]
    limiter = LoopErrorLimiter(clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    accept = {"message": "socket.accept() out of system resource",
              "exception": OSError(24, "Too many open files")}
    try:
        with structlog.testing.capture_logs() as logged:
            for _ in range(200):  # two a second for 100 s (asyncio: 1/s per socket, for ever)
                now[0] += 0.5
                limiter(loop, accept)
            limiter(loop, {"message": "Task exception was never retrieved", "exception": ValueError("x")})
    finally:
        loop.close()
    # The first, one summary a minute later (it and the 119 counted meanwhile), and a different
    # error is not hidden by the first one.
    assert [entry["event"] for entry in logged] == ["asyncio.error", "asyncio.error_repeated", "asyncio.error"]
    assert logged[1]["times"] == 120 and logged[1]["seconds"] == 60
    assert logged[2]["message"] == "Task exception was never retrieved"
