"""Webhook deliveries as the delivery loop (``delivery``) sees them: receivers (``Target``), one
event on its way to one receiver (``Delivery``), the (session, url) lanes that keep each
session's events in order at each receiver, and the store the lanes are kept in (the outbox on
one host; the shards a cluster node delivers, supervisor/cluster/book.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from supervisor.events.bus import Event

__all__ = ["STATUSES", "Delivery", "Lane", "LaneStore", "Target"]

STATUSES = ("pending", "delivered", "failed")
#: (session, url); daemon-wide events (no session) use the session "".
Lane = tuple[str, str]


@dataclass(frozen=True)
class Target:
    """Where one event must go: a receiver URL and the secret its requests are signed with."""

    url: str
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one receiver."""

    id: int
    event_id: int | str  # a stream id on a cluster node (supervisor/cluster/book.py)
    session: str
    url: str
    secret: str
    status: str
    attempts: int
    next_at: float
    created_at: float
    updated_at: float
    last_status: int | None
    last_error: str | None
    event: Event

    @property
    def lane(self) -> Lane:
        """The (session, url) lane this delivery is ordered in."""
        return (self.session, self.url)

    def public(self) -> dict[str, Any]:
        """As JSON for the API (never the secret)."""
        return {
            "id": self.id, "event_id": self.event_id, "event": self.event["event"],
            "session": self.event["session"], "url": self.url, "status": self.status,
            "attempts": self.attempts, "next_at": self.next_at, "created_at": self.created_at,
            "updated_at": self.updated_at, "last_status": self.last_status,
            "last_error": self.last_error,
        }


class LaneStore(Protocol):
    """Where the lanes' deliveries are kept and their outcomes recorded."""

    def pending_lanes(self) -> list[Lane]:
        """Every lane with something left to send."""

    def head(self, lane: Lane) -> Delivery | None:
        """The lane's oldest pending delivery: the only one that may be sent now."""

    def pending_count(self) -> int:
        """How many deliveries wait to be sent."""

    def delivered(self, delivery: Delivery, attempts: int, status: int) -> None:
        """The receiver accepted it."""

    def retry_at(self, delivery: Delivery, attempts: int, next_at: float, status: int | None,
                 error: str) -> None:
        """It failed for now; try again at wall time ``next_at``."""

    def failed(self, delivery: Delivery, attempts: int, status: int | None, error: str) -> None:
        """Give up on it."""
