"""Events, webhooks and metrics, wired together for the daemon.

One object so that the daemon makes four calls: build it, ``attach`` the registry, run its
delivery loop and the charts' history in the daemon's TaskGroup, ``close`` it on the way out
(after the sessions have stopped, so their last events are stored, and before the HTTP
runner's cleanup, which would otherwise wait for open event streams).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.events.history import History
from supervisor.events.outbox import Outbox
from supervisor.events.webhooks import Webhooks
from supervisor.logs import get_logger
from supervisor.metrics import Metrics
from supervisor.sessions.registry import Registry
from supervisor.store import Store

__all__ = ["Hub"]

_log = get_logger()


class Hub:
    """The bus (journaled in the outbox), the webhooks, the metrics and the charts' history
    of one daemon."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        events = config.events
        self.outbox = Outbox(store, history=events.history,
                             keep_failed=config.webhooks.keep_failed,
                             max_pending_per_lane=config.webhooks.max_pending_per_receiver)
        # A cluster node's webhooks are delivered by the cluster (supervisor/cluster/relay.py).
        self.outbox.relayed = config.cluster.enabled
        #: Called by :meth:`close` (a cluster node's event streams end there too).
        self.closers: list[Callable[[], None]] = []
        self.metrics = Metrics()
        self.webhooks = Webhooks(config.webhooks, self.outbox, observer=self.metrics)
        self.bus = EventBus(history=events.history, queue_size=events.subscriber_queue,
                            journal=self.webhooks.store_event,
                            last_id=self.outbox.last_event_id(),
                            backlog=self.outbox.recent_events(events.history))
        self.history = History(store, events.charts_keep_h, queue_depth=self.outbox.pending_count)
        self.bus.listen(self.metrics.on_event)
        self.bus.listen(self.webhooks.on_event)
        self.bus.listen(self.history.on_event)
        _log.info("events.opened", last_id=self.bus.last_id,
                  global_webhook=self.webhooks.global_hook is not None)

    def attach(self, registry: Registry) -> None:
        """Let the metrics read the sessions."""
        self.metrics.attach(registry, self.bus, self.outbox)

    async def run(self) -> None:
        """The webhook delivery loop and the history's, until :meth:`close`."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.webhooks.run(), name="webhooks")
            tg.create_task(self.history.run(), name="history")

    def close(self) -> None:
        """End the event streams and the loops (pending deliveries stay stored; the history
        writes what it holds)."""
        self.bus.close()
        for close in self.closers:
            close()
        self.webhooks.stop()
        self.history.close()
