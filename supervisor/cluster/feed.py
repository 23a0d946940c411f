"""A node's reading of the cluster's event stream ``zv:events``, for its event streams (SSE).

One task per node reads the stream (XREAD BLOCK, a short block so that shutdown is prompt) and
hands each new event to the node's subscribers, as the bus does on one host (the same bounded
:class:`Subscription` queues: a client that falls behind is dropped, never allowed to block the
others). So a client of any node sees every node's events, and Redis sends each event once per
node, not once per client.

A cluster event is the node's event with ``"id"`` its stream id (``<ms>-<seq>``: unique in the
cluster and in order) and ``"node"`` the node that published it. A client resumes after any id
(``Last-Event-ID``): :meth:`Feed.backlog` reads what it missed from the stream (XRANGE), and
says so when the stream was trimmed past it (Redis keeps the last deleted id).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from supervisor.cluster.redisclient import reachable
from supervisor.cluster.relay import why
from supervisor.cluster.streamids import is_after
from supervisor.errors import ClusterUnavailable
from supervisor.events.bus import Event, Subscription
from supervisor.logs import get_logger

__all__ = ["Feed", "cluster_event"]

_PAGE = 500
_log = get_logger()


def cluster_event(entry_id: str, fields: dict[str, Any]) -> Event | None:
    """A stream entry as the event clients see; None for an entry that is not one."""
    try:
        event = json.loads(fields["event"])
    except (KeyError, TypeError, ValueError):
        return None
    return {**event, "id": entry_id, "node": fields.get("node", "")} if isinstance(event, dict) else None


class Feed:
    """The stream as this node reads it; :meth:`run` is owned by the node's events."""

    def __init__(self, redis: aioredis.Redis, queue_size: int, block_s: float, prefix: str = "zv:") -> None:
        self.redis = redis
        self.key = f"{prefix}events"
        self.queue_size = queue_size
        self.block_ms = int(block_s * 1000)
        #: The id of the last entry handed to the subscribers.
        self.position = "0-0"
        self.dropped = 0
        #: Called with the shards that got deliveries, for each batch of new events that has some
        #: (the shards' reader wakes on it).
        self.on_deliveries: Callable[[set[int]], None] | None = None
        self._subs: set[Subscription] = set()
        self._closed = False

    @property
    def subscribers(self) -> int:
        """Event streams open on this node."""
        return len(self._subs)

    async def open(self) -> None:
        """Start from the stream's end."""
        with reachable("reading the event stream"):
            last: Any = await self.redis.xrevrange(self.key, "+", "-", count=1)
        self.position = str(last[0][0]) if last else "0-0"

    async def run(self) -> None:
        """Read and hand out until cancelled or closed; an outage is logged once and waited out."""
        delay = 0.0
        while not self._closed:  # a cancellation that a timeout turned into an error ends it too
            try:
                with reachable("reading the event stream"):
                    got: Any = await self.redis.xread({self.key: self.position}, count=_PAGE,
                                                      block=self.block_ms)
            except Exception as exc:  # Redis away (or a bug): read again after a pause
                if not delay:
                    _log.warning("cluster.feed_stalled", error=why(exc), position=self.position,
                                 exc_info=not isinstance(exc, ClusterUnavailable))
                delay = min(5.0, max(0.25, delay * 2))
                await asyncio.sleep(delay)
                continue
            if delay:
                _log.info("cluster.feed_resumed", position=self.position)
                delay = 0.0
            shards: set[int] = set()
            for _stream, entries in got or []:
                for entry_id, fields in entries:
                    self.position = str(entry_id)
                    event = cluster_event(self.position, fields)
                    if event is not None:
                        self._hand_out(event)
                    if str(fields.get("shard", "")).isdigit():
                        shards.add(int(fields["shard"]))
            if shards and self.on_deliveries is not None:
                self.on_deliveries(shards)

    def _hand_out(self, event: Event) -> None:
        for sub in list(self._subs):
            if not sub.offer(event):
                self._subs.discard(sub)
                sub.close("dropped", discard=True)
                self.dropped += 1
                _log.warning("events.subscriber_dropped", id=event["id"], queue=self.queue_size)

    @contextmanager
    def subscribe(self, wants: Callable[[Event], bool]) -> Iterator[Subscription]:
        """Listen for the events read from now on (after :attr:`position`) until the block ends."""
        sub = Subscription(self.queue_size, wants)
        if self._closed:
            sub.close("shutdown", discard=False)
        else:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every subscription (the daemon is stopping)."""
        self._closed = True
        for sub in self._subs:
            sub.close("shutdown", discard=False)
        self._subs.clear()

    async def _info(self) -> dict[str, Any]:
        try:
            with reachable("reading the event stream"):
                info: dict[str, Any] = await self.redis.xinfo_stream(self.key)
        except rexc.ResponseError:
            return {}  # no stream yet: nothing was ever published
        return info

    async def backlog(self, after: str, upto: str,
                      wants: Callable[[Event], bool]) -> tuple[dict[str, str] | None, list[Event]]:
        """What a client resuming after ``after`` missed, up to ``upto`` (included): the gap
        (``{"after", "last_missing"}``: ids trimmed from the stream) or None, and the events."""
        trimmed = str((await self._info()).get("max-deleted-entry-id") or "0-0")
        gap = {"after": after, "last_missing": trimmed} if is_after(trimmed, after) else None
        found: list[Event] = []
        start = f"({after}"
        while is_after(upto, after):
            with reachable("reading the event stream"):
                page: Any = await self.redis.xrange(self.key, min=start, max=upto, count=_PAGE)
            found += [e for e in (cluster_event(i, f) for i, f in page) if e is not None and wants(e)]
            if len(page) < _PAGE:
                break
            start = f"({page[-1][0]}"
        return gap, found

    async def latest(self, after: str | None, limit: int,
                     wants: Callable[[Event], bool]) -> tuple[list[Event], str, str]:
        """The latest ``limit`` events (after ``after``) still in the stream, oldest first; the
        stream's last id and its oldest one."""
        info = await self._info()
        last = str(info.get("last-generated-id") or "0-0")
        first = info.get("first-entry")
        oldest = str(first[0]) if first else last
        found: list[Event] = []
        end = "+"
        stop = f"({after}" if after is not None else "-"
        while len(found) < limit:
            with reachable("reading the event stream"):
                page: Any = await self.redis.xrevrange(self.key, max=end, min=stop, count=_PAGE)
            found += [e for e in (cluster_event(i, f) for i, f in page) if e is not None and wants(e)]
            if len(page) < _PAGE:
                break
            end = f"({page[-1][0]}"
        found = found[:limit]
        found.reverse()
        return found, last, oldest

