"""The relay: every event a node journals goes on to the cluster's Redis, in order, once.

The bus never waits for Redis: it journals each event (with its webhook targets, computed there
and then as on one host: ``Outbox.relayed``) in the node's SQLite outbox, as today, and wakes
the relay, a task that reads the journal after the last event it put in Redis and appends them
in batches with one script (cluster/eventscripts.py PUBLISH): to ``zv:events`` (every node's
event streams read it; ``MAXLEN ~ [events] history x STREAM_FACTOR``) and, when the event has
receivers, to its session's shard ``zv:deliveries:{k}`` (the cluster's webhook deliveries,
cluster/shards.py). ``zv:published`` keeps, per node, the last local id appended: a batch sent
again after an answer was lost is not appended twice, and a node restarted goes on from there.

While Redis is away the events wait in the journal (the queue is the journal: a kill -9 loses
none); at most ``[events] history x STREAM_FACTOR`` of them are kept waiting, older ones are
pruned and counted as dropped (logged once per outage). Everything else catches up at once when
Redis is back.

A session's own webhooks are shared as ``zv:hooks:{id}`` (JSON, secrets included: Redis holds
the cluster's key too) whenever they are set on its node, so that the node it moves to knows
them (:meth:`Relay.hooks_of`); never logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from supervisor.aio import wait_event
from supervisor.cluster.eventscripts import PUBLISH
from supervisor.cluster.redisclient import reachable
from supervisor.cluster.streamids import shard_of
from supervisor.errors import ClusterUnavailable
from supervisor.events.journal import Journaled, RelayJournal
from supervisor.events.webhooks import Hook
from supervisor.logs import get_logger

if TYPE_CHECKING:
    from supervisor.hub import Hub

__all__ = ["STREAM_FACTOR", "Relay", "why"]

#: ``zv:events`` keeps about this many times ``[events] history`` entries (the whole cluster's
#: events: room for ten nodes' histories), and a node keeps at most as many events waiting for
#: Redis.
STREAM_FACTOR = 10
_BATCH = 200
_log = get_logger()


def why(exc: Exception) -> str:
    """What went wrong, for a log line (a ClusterUnavailable's message names no password)."""
    return exc.message if isinstance(exc, ClusterUnavailable) else f"{type(exc).__name__}: {exc}"



class Relay:
    """Journal -> Redis for one node; :meth:`run` is owned by the node's events (cluster/events.py)."""

    def __init__(self, redis: aioredis.Redis, hub: Hub, node_id: str, prefix: str = "zv:") -> None:
        self.redis = redis
        self.node = node_id
        self.prefix = prefix
        self.journal = RelayJournal(hub.store)
        self.outbox = hub.outbox
        self.webhooks = hub.webhooks
        self.maxlen = hub.config.events.history * STREAM_FACTOR
        #: The last local event id known to be in Redis.
        self.cursor = 0
        self.dropped = 0
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._publish = redis.register_script(PUBLISH)
        self._dropped_logged = False
        #: Set on the way out: the loop ends even if a timeout turned its cancellation into an error.
        self.closed = False

    @property
    def backlog(self) -> int:
        """Events journaled here and not yet in Redis."""
        return max(0, self.journal.last_id() - self.cursor)

    async def open(self, owned: Iterable[str]) -> None:
        """Find where this node's events stand in Redis; share the webhooks of the sessions it
        owns (``owned``). ClusterUnavailable if Redis cannot say."""
        with reachable("reading where this node's events stand"):
            published = await self.redis.hget(f"{self.prefix}published", self.node)
        last = self.journal.last_id()
        if published is not None and int(published) <= last:
            self.cursor = int(published)
        elif published is not None:  # a new state directory under an old node id
            _log.warning("cluster.relay_new_journal", node=self.node, published=int(published), last=last)
            with reachable("resetting this node's events"):
                await self.redis.hset(f"{self.prefix}published", self.node, str(last))
            self.cursor = last
        elif (marked := self.journal.relayed_to()) is not None:
            # Redis lost its data (no AOF): what it took is not sent twice, the rest follows.
            _log.warning("cluster.relay_redis_forgot", node=self.node, relayed_to=marked, last=last)
            self.cursor = marked
        else:  # the first join: from the first event journaled as a cluster node
            first = self.journal.first_relayed()
            self.cursor = first - 1 if first is not None else last
        self.outbox.keep_after = lambda: max(self.cursor, self.outbox.last_event_id() - self.maxlen)
        self.webhooks.on_change = self.hooks_changed
        self._dirty.update(s for s in owned if self.webhooks.session_hooks(s))
        _log.info("cluster.relay_opened", node=self.node, cursor=self.cursor, backlog=self.backlog)

    def wake(self, _event: object = None) -> None:
        """Bus listener: something was journaled."""
        self._wake.set()

    def hooks_changed(self, session: str) -> None:
        """A session's webhooks were set here: share them."""
        self._dirty.add(session)
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled or closed; an outage is logged once, retried with a growing pause."""
        delay, stalled = 0.0, False
        while not self.closed:
            if delay:
                await asyncio.sleep(delay)
            else:
                await wait_event(self._wake, 5.0)
            self._wake.clear()
            try:
                await self.drain()
            except Exception as exc:  # Redis away (or a bug): the events wait in the journal
                if not stalled:
                    _log.warning("cluster.relay_stalled", node=self.node, error=why(exc),
                                 backlog=self.backlog, exc_info=not isinstance(exc, ClusterUnavailable))
                stalled, delay = True, min(5.0, max(0.25, delay * 2))
                continue
            if stalled:
                _log.info("cluster.relay_resumed", node=self.node, cursor=self.cursor, dropped=self.dropped)
            stalled, delay, self._dropped_logged = False, 0.0, False

    async def drain(self) -> int:
        """Put everything journaled since the cursor in Redis; how many events."""
        sent = 0
        while True:
            await self._share_hooks()
            batch = self.journal.after(self.cursor, _BATCH)
            if not batch:
                return sent
            first = batch[0].event["id"]
            if first > self.cursor + 1:
                self._lost(first - self.cursor - 1)
            args: list[str | int] = [self.node, self.maxlen, f"{self.prefix}deliveries:"]
            for item in batch:
                args += self._fields(item)
            with reachable("relaying events"):
                await self._publish(keys=[f"{self.prefix}events", f"{self.prefix}published"], args=args)
            self.cursor = batch[-1].event["id"]
            self.journal.mark(self.cursor)
            sent += len(batch)

    @staticmethod
    def _fields(item: Journaled) -> list[str | int]:
        event = item.event
        body = json.dumps(event, separators=(",", ":"))
        if not item.targets:
            return [event["id"], body, "", ""]
        return [event["id"], body, shard_of(event["session"]), json.dumps(item.targets)]

    def _lost(self, count: int) -> None:
        self.dropped += count
        if not self._dropped_logged:
            _log.warning("cluster.relay_dropped", node=self.node, count=count, kept=self.maxlen,
                         note="events pruned from the journal before Redis took them")
        self._dropped_logged = True

    async def _share_hooks(self) -> None:
        if not self._dirty:
            return
        pending = sorted(self._dirty)
        with reachable("sharing session webhooks"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for session in pending:
                    hooks = self.webhooks.session_hooks(session)
                    if hooks:
                        pipe.set(self._hooks_key(session), json.dumps(
                            [{"url": h.url, "events": list(h.events), "secret": h.secret} for h in hooks]))
                    else:
                        pipe.delete(self._hooks_key(session))
                await pipe.execute()
        self._dirty.difference_update(pending)

    def _hooks_key(self, session: str) -> str:
        return f"{self.prefix}hooks:{session}"

    async def hooks_of(self, session: str) -> list[Hook]:
        """A session's own webhooks as its last node shared them."""
        with reachable(f"reading the webhooks of session {session}"):
            raw = await self.redis.get(self._hooks_key(session))
        if raw is None:
            return []
        return [Hook(str(h["url"]), tuple(h.get("events") or ()), str(h.get("secret") or ""))
                for h in json.loads(raw)]
