"""Ending processes whose owner is gone: once per session exit, and once at boot.

After a worker exits, :func:`end_leftovers` ends what it left (its session's cgroup, or the
orphans its reaper holds: supervisor.procs.tracking): a few reads, never a scan of the host.

At boot, and only then, :func:`boot_sweep` reads every process of the host once, for those
carrying this state directory's marker (a daemon killed with -9 leaves its Chromes running),
and ends the session cgroups a dead daemon left.

Neither raises for want of resources: reading /proc takes descriptors, and a connection flood
can use them all (EMFILE/ENFILE), or no thread can start. The work is tried again, then given
up with an error in the log; the caller goes on (a leftover is ended by the next pass).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.procs.reaper import find_marked, kill_marked
from supervisor.procs.tracking import SessionProcs, Tracking, end_processes

__all__ = ["boot_sweep", "end_leftovers"]

_log = get_logger()
_TRIES = 6  # 0.25, 0.5, 1, 2, 4 s apart: about 8 s for descriptors to come back
_RETRY_S = 0.25

T = TypeVar("T")


async def _retrying(what: str, session_id: str | None, work: Callable[[], T], default: T) -> T:
    delay = _RETRY_S
    for attempt in range(1, _TRIES + 1):
        try:
            return await asyncio.to_thread(work)
        except (OSError, RuntimeError) as exc:  # RuntimeError: "can't start new thread"
            if attempt == _TRIES:
                _log.error(f"{what}.gave_up", session_id=session_id, error=str(exc), tries=attempt)
                return default
            _log.warning(f"{what}.retry", session_id=session_id, error=str(exc), delay_s=delay)
            await asyncio.sleep(delay)
            delay *= 2
    return default


async def end_leftovers(bus: EventBus, grace_s: float, session_id: str,
                        procs: SessionProcs) -> int:
    """End what a session's exited worker left behind; how many processes were ended."""

    def work() -> int:
        ended = procs.end_leftovers(grace_s)
        procs.release()
        return ended

    ended = await _retrying("sweep", session_id, work, 0)
    if ended:
        _log.warning("session.orphans_reaped", session_id=session_id, count=ended)
        bus.publish("orphans.reaped", session_id, {"count": ended})
    return ended


def _sweep_host(state_dir: Path, tracking: Tracking, grace_s: float) -> int:
    ended = 0
    marked = find_marked(state_dir)
    if marked:
        ended += kill_marked(marked, grace_s)
    if tracking.cgroups is not None:
        for cgroup in tracking.cgroups.existing():
            ended += end_processes(cgroup.pids(), grace_s, kill=cgroup.kill)
            cgroup.remove()
    return ended


async def boot_sweep(state_dir: Path, tracking: Tracking, grace_s: float, bus: EventBus) -> int:
    """At boot: end every process of this install whose daemon is gone."""
    ended = await _retrying("sweep", None, lambda: _sweep_host(state_dir, tracking, grace_s), 0)
    if ended:
        bus.publish("orphans.reaped", None, {"count": ended})
    return ended
