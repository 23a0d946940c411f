"""A cluster node's events: the relay of its journal to Redis (``relay``), the feed its event
streams read (``feed``), and the webhook shards it delivers (``shards``, ``book``, and the same
delivery loop as on one host); the cluster's given-up deliveries (``failed``). Owned by the ClusterNode (node.py): :meth:`ClusterEvents.open`,
:meth:`~ClusterEvents.run` in its TaskGroup, :meth:`~ClusterEvents.close` on the way out.

What is guaranteed (docs: README "Events in a cluster"): every event a node journals reaches
Redis once, in order, also across a Redis outage (it waits in the journal) or a kill -9 of the
node (it goes on when the node is back); each webhook delivery in Redis is sent by one node at a
time, in order per session and receiver, until its receiver accepts it or it is given up; a dead
node's shards are taken over within ``lease_s`` and what it had not finished is sent by the new
holder. A receiver may see an event twice only if its node died, or lost its shard, while that
very request was in flight: it dedupes by ``X-Zapvisor-Event-Id`` (the stream id), as on one host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supervisor.aio import wait_event
from supervisor.cluster.book import Book
from supervisor.cluster.coord import Coordinator
from supervisor.cluster.failed import FailedDeliveries
from supervisor.cluster.feed import Feed
from supervisor.cluster.redisclient import connect
from supervisor.cluster.relay import Relay, why
from supervisor.cluster.shards import Shards, preferred
from supervisor.cluster.streamids import SHARDS
from supervisor.errors import ClusterUnavailable
from supervisor.events.delivery import Deliverer
from supervisor.events.webhooks import Hook
from supervisor.logs import get_logger

if TYPE_CHECKING:
    from supervisor.hub import Hub

__all__ = ["ClusterEvents"]

#: How long an event stream's read of Redis blocks: the feed notices shutdown within this.
_BLOCK_S = 2.0
_FETCH = 200
_CLOSE_S = 3.0
_log = get_logger()


class ClusterEvents:
    """Relay, feed and webhook shards of one node (``coord``: its coordinator; ``healthy``:
    whether its lease surely holds)."""

    def __init__(self, hub: Hub, redis_url: str, coord: Coordinator, healthy: Callable[[], bool]) -> None:
        self.hub = hub
        self.coord = coord
        self.node = node_id = coord.node
        lease_s = coord.lease_s
        self.interval_s = lease_s / 3
        self._healthy = healthy
        # Its own connections: a blocked read must not hold up the leases' calls.
        self.redis = connect(redis_url, timeout_s=_BLOCK_S + max(1.0, lease_s / 3),
                             client_name=f"zapvisor:{node_id}:events")
        hooks = hub.config.webhooks
        self.relay = Relay(self.redis, hub, node_id)
        self.feed = Feed(self.redis, hub.config.events.subscriber_queue, _BLOCK_S)
        self.shards = Shards(self.redis, node_id, coord.incarnation, lease_s, hooks.keep_failed)
        self.book = Book(self.shards, hooks.max_pending_per_receiver,
                         overflowed=lambda session, url: self.deliverer.overflowed(session, url))
        self.deliverer = Deliverer(hooks, self.book, observer=hub.metrics)
        self.failed = FailedDeliveries(self.redis, self.relay, hub.webhooks.global_hook)
        self._unclaimed: set[int] = set()
        #: Shards the feed saw new deliveries in, to read at once.
        self._due: set[int] = set()
        self._closing = False
        self._wake = asyncio.Event()
        self.feed.on_deliveries = self._new_deliveries
        self.book.on_ops = self._wake.set
        hub.bus.listen(self.relay.wake)
        hub.closers.append(self.feed.close)
        hub.metrics.registry.register(_Figures(self))

    async def open(self, owned: Iterable[str]) -> None:
        """Find where this node's events stand, start the feed at the stream's end."""
        await self.relay.open(owned)
        await self.feed.open()

    async def run(self) -> None:
        """Relay, read and deliver until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.relay.run(), name="cluster-relay")
            tg.create_task(self.feed.run(), name="cluster-feed")
            tg.create_task(self.deliverer.run(), name="cluster-webhooks")
            tg.create_task(self._deliver(), name="cluster-shards")

    def _new_deliveries(self, shards: set[int]) -> None:
        """The feed saw new deliveries in ``shards``: read those of this node's now."""
        mine = shards.intersection(self.shards.held)
        if mine:
            self._due |= mine
            self._wake.set()

    async def _deliver(self) -> None:
        next_tick, stalled = 0.0, False
        while not self._closing:  # a cancellation that a timeout turned into an error ends it too
            self._wake.clear()
            due, self._due = self._due, set()
            try:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.interval_s
                    await self._tick()
                    due = set(self.shards.held)  # every tick reads them all: nothing waits long
                for shard in sorted(self._unclaimed):
                    await self._claim(shard)
                    due.add(shard)  # then what came after
                await self._fetch(due)
                await self._flush()
            except Exception as exc:  # Redis away (or a bug): try again after a pause
                self._due |= due
                if not stalled:
                    _log.warning("cluster.webhooks_stalled", node=self.node, error=why(exc),
                                 pending=self.book.pending_count(),
                                 exc_info=not isinstance(exc, ClusterUnavailable))
                stalled = True
                await asyncio.sleep(min(self.interval_s, 1.0))
                continue
            if stalled:
                _log.info("cluster.webhooks_resumed", node=self.node, pending=self.book.pending_count())
            stalled = False
            await wait_event(self._wake, next_tick - time.monotonic())

    async def _tick(self) -> None:
        """Take this node's share of the shards, renew them, hand over the others."""
        before = set(self.shards.held)
        if not self._healthy() or self._closing:
            return  # the shards lapse by themselves if this lasts (the book stops sending first)
        alive = await self._delivering()
        codes, self.book.leaving = [], set()
        for shard in range(SHARDS):
            if preferred(shard, alive) == self.node:
                codes.append("w")
            elif shard in before:
                self.book.leaving.add(shard)  # nothing new starts; let go once idle
                codes.append("w" if self.book.busy(shard) else "r")
            else:
                codes.append("-")
        held, taken = await self.shards.sync("".join(codes))
        for shard in before - set(held):
            self._unclaimed.discard(shard)
            self.deliverer.wake(self.book.drop(shard))
        for shard in taken:
            self.book.drop(shard)
            self._unclaimed.add(shard)
        if set(held) != before:
            _log.info("cluster.webhook_shards", node=self.node, held=held, taken=taken,
                      released=sorted(before - set(held)))
        self.deliverer.wake(self.book.pending_lanes())  # lanes that paused while in doubt

    async def _delivering(self) -> list[str]:
        """The live nodes that deliver webhooks: a draining one hands its shards over, unless
        all are draining."""
        alive = await self.coord.alive_nodes()
        return [n.node for n in alive if not n.draining] or [n.node for n in alive]

    async def _claim(self, shard: int) -> None:
        """What the shard's previous holders left pending, before anything new of it."""
        entries, done = await self.shards.claim(shard)
        self._unclaimed.discard(shard)
        self.deliverer.wake(self.book.load(shard, entries, done))
        if entries:
            _log.info("cluster.webhook_shard_claimed", node=self.node, shard=shard, entries=len(entries))

    async def _fetch(self, shards: set[int]) -> None:
        """New entries of ``shards`` (those held, staying, and claimed already)."""
        ready = [k for k in sorted(shards) if self.shards.surely(k)
                 and k not in self.book.leaving and k not in self._unclaimed]
        while ready:
            full = []
            for shard, entries in await self.shards.fetch(ready, _FETCH):
                self.deliverer.wake(self.book.load(shard, entries))
                if len(entries) >= _FETCH:
                    full.append(shard)
            ready = full

    async def _flush(self) -> None:
        ops = self.book.take_ops()
        if not ops:
            return
        try:
            await self.shards.settle(ops)
        except Exception:
            self.book.put_back(ops)
            raise

    def adopt_hooks(self, session_id: str, hooks: list[Hook]) -> None:
        """A session moves here: its own webhooks as its last node shared them
        (:meth:`Relay.hooks_of`)."""
        webhooks = self.hub.webhooks
        if hooks or webhooks.session_hooks(session_id):
            webhooks.set_session_hooks(session_id, hooks, shared=False)

    async def close(self) -> None:
        """Relay what is left, record what settled, let the shards go (another node takes
        them at once), then close the connections. Bounded: what is left waits in the journal."""
        self._closing = self.relay.closed = True
        self.deliverer.stop()
        try:
            async with asyncio.timeout(_CLOSE_S):
                await self.relay.drain()
                await self._flush()
                await self.shards.release_all()
        except (ClusterUnavailable, TimeoutError) as exc:
            _log.warning("cluster.events_close_incomplete", node=self.node, error=str(exc),
                         backlog=self.relay.backlog)
        await self.redis.aclose()
        _log.info("cluster.events_closed", node=self.node, cursor=self.relay.cursor,
                  backlog=self.relay.backlog, dropped=self.relay.dropped)


class _Figures(Collector):
    """The cluster's event figures at scrape time."""

    def __init__(self, events: ClusterEvents) -> None:
        self.events = events

    def collect(self) -> Iterator[Metric]:
        events = self.events
        yield GaugeMetricFamily("zapvisor_cluster_events_backlog", "Events journaled on this node "
                                "and not yet in the cluster's Redis", value=events.relay.backlog)
        yield CounterMetricFamily("zapvisor_cluster_events_dropped", "Events pruned from this node's "
                                  "journal before Redis took them", value=events.relay.dropped)
        yield GaugeMetricFamily("zapvisor_cluster_webhook_shards", "Webhook shards this node delivers",
                                value=sum(1 for k in events.shards.held if events.shards.surely(k)))
        yield GaugeMetricFamily("zapvisor_cluster_webhook_pending", "Webhook deliveries of this "
                                "node's shards waiting to be sent", value=events.book.pending_count())
