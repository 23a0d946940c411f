"""The webhook deliveries of the shards a node holds, as the delivery loop's store.

The node's :class:`~supervisor.events.delivery.Deliverer` runs these lanes exactly as it runs
the outbox's on one host (the same signing, retries, backoff, give-up rules and metrics); this
book keeps them in memory instead of SQLite, because the shard streams in Redis are what is
durable: an entry stays pending in its group until every receiver of it settled, and whoever
holds the shard next claims it again. Retry counts restart with a new holder; an event's age (for
``max_age_s``) counts from its publication, or from its retry by hand (cluster/failed.py: the
entry's ``retried_at``).

A lane is sent only while its shard is surely held (its lease renewed recently enough) and not
being handed over; the attempt in flight when a shard is lost, if it succeeded, is sent again by
the next holder with the same event id (the at-least-once that receivers dedupe, as on one host).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Container, Iterable
from typing import Any

from supervisor.cluster.shards import Entry, Op, Shards
from supervisor.cluster.streamids import shard_of
from supervisor.events.lanes import Delivery, Lane

__all__ = ["Book"]


@dataclasses.dataclass
class _Item:
    """One shard entry: the receivers still to settle, and those settled already."""

    shard: int
    entry_id: str
    remaining: set[str]
    settled: list[str]


class Book:
    """The lanes of the held shards (a LaneStore, cluster/events.py wires it to a Deliverer)."""

    def __init__(self, shards: Shards, max_pending: int,
                 overflowed: Callable[[str, str], None] = lambda session, url: None) -> None:
        self.shards = shards
        self.max_pending = max_pending
        self.overflowed = overflowed
        #: Called when Redis has something to write (:meth:`take_ops`).
        self.on_ops: Callable[[], None] = lambda: None
        self.leaving: set[int] = set()
        self._lanes: dict[Lane, collections.deque[Delivery]] = {}
        self._of: dict[int, tuple[_Item, str]] = {}
        self._known: dict[int, set[str]] = {}
        self._flying: dict[Lane, int] = {}
        self._ops: list[Op] = []
        self._ids = itertools.count(1)

    # -- loading and letting go -------------------------------------------------------------

    def load(self, shard: int, entries: Iterable[Entry], done: Container[str] = frozenset()) -> list[Lane]:
        """Queue the deliveries of ``entries`` (in stream order) not yet in the book and not
        ``done``; the lanes that got some."""
        now = time.time()
        known = self._known.setdefault(shard, set())
        woken: list[Lane] = []
        for entry_id, fields in entries:
            if entry_id in known:
                continue
            event, targets = _parse(fields)
            todo = [(u, s) for u, s in targets if f"{entry_id} {u}" not in done]
            item = _Item(shard, entry_id, {u for u, _ in todo},
                         [u for u, _ in targets if f"{entry_id} {u}" in done])
            if event is None or not todo:
                self._op(Op("ack", shard, entry_id, tuple(item.settled)))
                continue
            known.add(entry_id)
            since = float(fields.get("retried_at") or event.get("timestamp") or now)
            for url, secret in todo:
                lane = (str(event.get("session") or ""), url)
                queue = self._lanes.setdefault(lane, collections.deque())
                delivery = Delivery(next(self._ids), event["id"], lane[0], url, secret, "pending", 0,
                                    now, since, now, None, None, event)
                self._of[delivery.id] = (item, url)
                if len(queue) >= self.max_pending:
                    self.overflowed(*lane)
                    self.failed(delivery, 0, None, f"not queued: {self.max_pending} deliveries already "
                                "pending for this receiver (max_pending_per_receiver)")
                    continue
                queue.append(delivery)
                woken.append(lane)
        return woken

    def drop(self, shard: int) -> list[Lane]:
        """Forget ``shard``'s deliveries (another node holds it now, or will); its lanes."""
        lanes = [lane for lane in self._lanes if shard_of(lane[0]) == shard]
        for lane in lanes:
            for delivery in self._lanes.pop(lane):
                self._of.pop(delivery.id, None)
            self._flying.pop(lane, None)
        self._known.pop(shard, None)
        self.leaving.discard(shard)
        return lanes

    def busy(self, shard: int) -> bool:
        """True while a delivery of ``shard`` is being attempted."""
        return shard in self._flying.values()

    def take_ops(self) -> list[Op]:
        """What Redis should now record, oldest first (put back with :meth:`put_back`)."""
        ops, self._ops = self._ops, []
        return ops

    def put_back(self, ops: list[Op]) -> None:
        """Ops that could not be written: first in line again."""
        self._ops[:0] = ops

    def _op(self, op: Op) -> None:
        self._ops.append(op)
        self.on_ops()

    # -- the delivery loop's store ----------------------------------------------------------

    def pending_lanes(self) -> list[Lane]:
        """Every lane with something left to send."""
        return list(self._lanes)

    def pending_count(self) -> int:
        """How many deliveries wait in the book."""
        return sum(len(queue) for queue in self._lanes.values())

    def head(self, lane: Lane) -> Delivery | None:
        """The lane's oldest delivery, if its shard is surely held and staying here."""
        self._flying.pop(lane, None)  # asked again: the lane's previous attempt is over
        queue = self._lanes.get(lane)
        shard = shard_of(lane[0])
        if not queue or shard in self.leaving or not self.shards.surely(shard):
            return None
        if queue[0].next_at <= time.time():
            self._flying[lane] = shard  # due: the loop attempts it now
        return queue[0]

    def delivered(self, delivery: Delivery, attempts: int, status: int) -> None:
        """The receiver accepted it."""
        self._settle(delivery)

    def retry_at(self, delivery: Delivery, attempts: int, next_at: float, status: int | None,
                 error: str) -> None:
        """Failed for now: the lane waits until ``next_at``."""
        self._flying.pop(delivery.lane, None)
        queue = self._lanes.get(delivery.lane)
        if queue and queue[0].id == delivery.id:
            queue[0] = dataclasses.replace(delivery, attempts=attempts, next_at=next_at,
                                           last_status=status, last_error=error)

    def failed(self, delivery: Delivery, attempts: int, status: int | None, error: str) -> None:
        """Given up: listed in ``zv:deliveries:failed`` (never its secret)."""
        if delivery.id in self._of:
            self._op(Op("failed", record=json.dumps({
                "event_id": delivery.event_id, "event": delivery.event.get("event"),
                "session": delivery.event.get("session"), "url": delivery.url, "attempts": attempts,
                "last_status": status, "last_error": error, "failed_at": time.time(),
                "node": self.shards.node})))
        self._settle(delivery)

    def _settle(self, delivery: Delivery) -> None:
        self._flying.pop(delivery.lane, None)
        found = self._of.pop(delivery.id, None)
        if found is None:
            return  # its shard went meanwhile: the next holder sends it again
        item, url = found
        queue = self._lanes.get(delivery.lane)
        if queue and queue[0].id == delivery.id:
            queue.popleft()
            if not queue:
                del self._lanes[delivery.lane]
        item.remaining.discard(url)
        item.settled.append(url)
        if item.remaining:
            self._op(Op("done", item.shard, item.entry_id, (url,)))
            return
        self._known.get(item.shard, set()).discard(item.entry_id)
        self._op(Op("ack", item.shard, item.entry_id, tuple(u for u in item.settled if u != url)))


def _parse(fields: dict[str, str]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """A shard entry's event (as clients see it: ``id`` the stream id) and its targets."""
    try:
        event = json.loads(fields["event"])
        targets = [(str(u), str(s)) for u, s in json.loads(fields.get("targets") or "[]")]
    except (KeyError, TypeError, ValueError):
        return None, []
    if not isinstance(event, dict):
        return None, targets
    return {**event, "id": fields.get("id", ""), "node": fields.get("node", "")}, targets
