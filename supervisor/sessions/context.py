"""What every session shares with the others, handed to each by the registry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.procs.spawner import Spawner
from supervisor.sessions.backoff import CrashBreaker
from supervisor.store import Store

__all__ = ["SessionContext"]


@dataclass(frozen=True)
class SessionContext:
    """What every session shares: config, store, event bus, start slots, crash breaker, and
    the sweep that ends a session's leftover processes."""

    config: Config
    store: Store
    bus: EventBus
    start_slots: asyncio.Semaphore
    breaker: CrashBreaker
    spawner: Spawner
    sweep: Callable[[str], Any]  # async (session_id) -> number of processes ended
    logged_out: Callable[[str], None] = lambda session_id: None  # the account logged out
