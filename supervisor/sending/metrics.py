"""The send queue in ``GET /metrics``: depth and the oldest entry's age per session (read at
scrape time), and how long sends waited from queued to sent."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supervisor.sending.store import SendStore

__all__ = ["QueueMetrics"]

#: From instant sends to a day held by the daily limits.
_WAIT_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600, 86400)


class QueueMetrics(Collector):
    """Registered on the daemon's metrics registry by the queues."""

    def __init__(self, store: SendStore, registry: CollectorRegistry) -> None:
        self._store = store
        self._wait = Histogram("zapvisor_send_wait_seconds",
                               "Seconds from a send's queueing to WhatsApp taking it",
                               buckets=_WAIT_BUCKETS, registry=registry)
        registry.register(self)

    def sent(self, queued_at: float, sent_at: float) -> None:
        """One send went out (both times are the queue's wall-clock stamps)."""
        self._wait.observe(max(0.0, sent_at - queued_at))

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("zapvisor_send_queue_depth",
                                  "Sends queued or in flight, per session", labels=["session"])
        oldest = GaugeMetricFamily("zapvisor_send_queue_oldest_seconds",
                                   "Age of the oldest open send, per session", labels=["session"])
        now = time.time()
        for session, (count, created_at) in sorted(self._store.depths().items()):
            depth.add_metric([session], count)
            oldest.add_metric([session], max(0.0, now - created_at))
        yield depth
        yield oldest
