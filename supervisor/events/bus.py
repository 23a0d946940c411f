"""The event bus: every event of every session, in order, to whoever listens.

An event is ``{"id", "event", "session", "timestamp", "payload"}``; ids increase by one and,
when the bus has a journal (the daemon's outbox), survive restarts. ``publish`` hands the event
to the journal first (so it is stored, and its webhook deliveries queued, before anyone else
sees it), then to the subscribers (SSE streams), then to the listeners (metrics, webhooks).

The bus keeps a bounded history (for ``Last-Event-ID`` resume) and gives each subscriber a
bounded queue; a subscriber that falls behind is dropped, never allowed to block publishers or
to grow memory without bound. Nothing here awaits: publishing never blocks.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from supervisor.logs import get_logger
from supervisor.settings import EVENT_PATTERN

__all__ = ["EventBus", "Subscription", "Event", "EVENT_PATTERN", "parse_patterns", "matches"]

Event = dict[str, Any]
Callback = Callable[[Event], None]

#: An event name ("session.status"), a family of them ("session.*"), or "*" for all.

_log = get_logger()


def parse_patterns(text: str) -> tuple[str, ...]:
    """A comma-separated filter (``"session.status,message.*"``); ValueError names a bad one."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    for pattern in patterns:
        if not EVENT_PATTERN.fullmatch(pattern):
            raise ValueError(f"bad event name {pattern!r}: use names such as "
                             "'session.status', families such as 'session.*', or '*'")
    return patterns


def matches(patterns: Iterable[str], name: str) -> bool:
    """True if ``name`` is selected by ``patterns`` (an empty filter selects everything).

    A family ``message.*`` selects ``message`` itself too, not only ``message.ack`` and the
    others: whoever asks for a family means all of it (the README's own example filters
    ``message.*`` to see incoming messages, which are ``message``)."""
    empty = True
    for pattern in patterns:
        empty = False
        if pattern == "*" or pattern == name:
            return True
        if pattern.endswith(".*") and (name == pattern[:-2] or name.startswith(pattern[:-1])):
            return True
    return empty


class Subscription:
    """One listener's bounded queue of the events it selected."""

    def __init__(self, maxsize: int, wants: Callable[[Event], bool]) -> None:
        self.wants = wants
        self._maxsize = maxsize
        self._items: collections.deque[Event] = collections.deque()
        self._wake = asyncio.Event()
        self.closed: str | None = None  # why it ended: "dropped" (too slow) or "shutdown"

    def offer(self, event: Event) -> bool:
        """Queue ``event`` if selected; False if the queue is full (the caller drops us)."""
        if not self.wants(event):
            return True
        if len(self._items) >= self._maxsize:
            return False
        self._items.append(event)
        self._wake.set()
        return True

    def close(self, reason: str, discard: bool) -> None:
        """End the subscription; ``discard`` forgets what is still queued."""
        self.closed = self.closed or reason
        if discard:
            self._items.clear()
        self._wake.set()

    async def get(self, timeout_s: float | None = None) -> Event | None:
        """The next event; None once closed and empty, or after ``timeout_s`` with nothing
        (what is queued is always handed out before the end)."""
        if not self._items and self.closed is None:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout_s)
            except TimeoutError:
                pass  # an event may still have come in at the same moment: look below
        return self._items.popleft() if self._items else None


class EventBus:
    """Fan-out of events to a journal, subscribers and listeners, with a bounded history.

    ``journal`` stores an event (and queues its webhooks) before anyone sees it; ``last_id``
    and ``backlog`` continue the ids and history of a previous run.
    """

    def __init__(self, history: int = 1000, queue_size: int = 256,
                 journal: Callback | None = None, last_id: int = 0,
                 backlog: Iterable[Event] = ()) -> None:
        self._last_id = last_id
        self._history: collections.deque[Event] = collections.deque(backlog, maxlen=history)
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Callback] = []
        self._journal = journal
        self._queue_size = queue_size
        self._closed = False
        self.dropped = 0  # subscribers dropped for falling behind, since start

    @property
    def last_id(self) -> int:
        """The id of the latest event (0 before the first ever)."""
        return self._last_id

    @property
    def subscribers(self) -> int:
        """How many subscribers are listening now."""
        return len(self._subscribers)

    def listen(self, callback: Callback) -> None:
        """Call ``callback`` synchronously with every event, after the subscribers."""
        self._listeners.append(callback)

    def publish(self, event: str, session: str | None, payload: dict[str, Any]) -> Event:
        """Store, then deliver one event. Never blocks; returns the event."""
        self._last_id += 1
        message: Event = {
            "id": self._last_id,
            "event": event,
            "session": session,
            "timestamp": time.time(),
            "payload": payload,
        }
        if self._journal is not None:
            try:
                self._journal(message)
            except Exception:
                # A full or broken disk must not stop the sessions: the event still reaches
                # live streams, but its webhooks are lost; say so loudly.
                _log.exception("events.journal_failed", id=message["id"], name=event)
        self._history.append(message)
        for sub in list(self._subscribers):
            if not sub.offer(message):
                self._subscribers.discard(sub)
                sub.close("dropped", discard=True)
                self.dropped += 1
                _log.warning("events.subscriber_dropped", id=message["id"], queue=self._queue_size)
        for listener in self._listeners:
            try:
                listener(message)
            except Exception:
                _log.exception("events.listener_failed", id=message["id"], name=event)
        return message

    def history(self, after_id: int = 0, wants: Callable[[Event], bool] | None = None) -> list[Event]:
        """Events still held with an id greater than ``after_id`` (and selected by ``wants``)."""
        return [m for m in self._history if m["id"] > after_id and (wants is None or wants(m))]

    @property
    def oldest_id(self) -> int:
        """The id of the oldest event held (``last_id + 1`` when none is)."""
        return self._history[0]["id"] if self._history else self._last_id + 1

    @contextmanager
    def subscribe(self, wants: Callable[[Event], bool] | None = None) -> Iterator[Subscription]:
        """Listen for events published from now on, until the block ends."""
        sub = Subscription(self._queue_size, wants or (lambda _event: True))
        if self._closed:
            sub.close("shutdown", discard=False)
        else:
            self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """End every subscription (the daemon is stopping): streams send what they hold, then end."""
        self._closed = True
        for sub in self._subscribers:
            sub.close("shutdown", discard=False)
        self._subscribers.clear()
