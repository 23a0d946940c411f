"""Steps of a session's worker run that need nothing of the session but its worker and its
processes' tracking (supervisor.sessions.session runs them)."""

from __future__ import annotations

import asyncio

from supervisor.procs.process import WorkerProcess
from supervisor.procs.tracking import SessionProcs

__all__ = ["attach", "wait_exit_or_terminate"]


async def attach(procs: SessionProcs, worker: WorkerProcess) -> None:
    """Put the new worker under its session's tracking before it starts Chrome; if that
    fails (a cgroup removed under us), the worker is ended like a failed spawn."""
    assert worker.pid is not None
    try:
        await asyncio.to_thread(procs.attach, worker.pid)
    except OSError:
        worker.kill()
        raise


async def wait_exit_or_terminate(worker: WorkerProcess, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for the worker to exit by itself, then SIGTERM (and SIGKILL) it."""
    try:
        await asyncio.wait_for(worker.wait_exited(), timeout_s)
    except TimeoutError:
        await worker.terminate()
