"""The event bus: every event of every session, in order, to whoever listens.

An event is ``{"id", "event", "session", "timestamp", "payload"}`` with ids increasing by one.
The bus keeps a bounded history (for resuming streams) and gives each subscriber a bounded
queue; a subscriber that falls behind is dropped, never allowed to block publishers or to
grow memory without bound.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EventBus", "Subscription"]


class Subscription:
    """One listener's queue. ``dropped`` is set if it fell too far behind."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = False


class EventBus:
    """Fan-out of events to subscribers, with a bounded history."""

    def __init__(self, history: int = 1000, queue_size: int = 1000) -> None:
        self._ids = itertools.count(1)
        self._history: collections.deque[dict[str, Any]] = collections.deque(maxlen=history)
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def publish(self, event: str, session: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        """Record and deliver one event (never blocks)."""
        message = {
            "id": next(self._ids),
            "event": event,
            "session": session,
            "timestamp": time.time(),
            "payload": payload,
        }
        self._history.append(message)
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.dropped = True
                self._subscribers.discard(sub)
        return message

    def history(self, after_id: int = 0) -> list[dict[str, Any]]:
        """Events still held with an id greater than ``after_id``."""
        return [m for m in self._history if m["id"] > after_id]

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """Listen for events published from now on, until the block ends."""
        sub = Subscription(self._queue_size)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
