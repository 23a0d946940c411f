"""What every session shares with the others, handed to each by the registry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.procs.spawner import Spawner
from supervisor.procs.tracking import SessionProcs, Tracking
from supervisor.sessions.backoff import CrashBreaker
from supervisor.sessions.fencing import Fencing
from supervisor.sessions.liveness import HostWatch
from supervisor.store import Store

__all__ = ["SessionContext"]


@dataclass(frozen=True)
class SessionContext:
    """What every session shares: config, store, event bus, start slots, crash breaker, the
    host watch (starvation stretches deadlines), how processes are tracked, the end of a
    session's leftover processes, and the workers' leases (set by a cluster node only)."""

    config: Config
    store: Store
    bus: EventBus
    start_slots: asyncio.Semaphore
    breaker: CrashBreaker
    spawner: Spawner
    host: HostWatch
    tracking: Tracking
    end_leftovers: Callable[[str, SessionProcs], Awaitable[int]]
    #: The account logged out (session id, why): True if the session is being stopped for it.
    logged_out: Callable[[str, str], bool] = lambda session_id, reason: False
    fencing: Fencing = field(default_factory=Fencing)
