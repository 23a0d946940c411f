"""Prometheus metrics (``GET /metrics``) and the figures behind ``GET /api/stats``.

Counters move with bus events (one listener, called synchronously for every event, so none is
missed): ``session.restart`` by reason, ``message`` / ``message.sent`` per session and
direction, ``orphans.reaped``; and with webhook attempts (the delivery loop reports them).
Everything that is a current value (sessions by state, each session's memory, CPU, processes,
heartbeat round trip, queue depth) is read from the live objects at scrape time, so it is never
stale. The metrics live in their own ``CollectorRegistry``, not prometheus-client's global one.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supervisor.events.bus import Event, EventBus
from supervisor.events.outbox import Outbox
from supervisor.states import State

if TYPE_CHECKING:
    from supervisor.sessions.liveness import HostWatch
    from supervisor.sessions.registry import Registry
    from supervisor.sessions.session import Session

__all__ = ["Metrics", "live_figures"]

_SENT_EVENTS = frozenset({"message.sent"})


def live_figures(session: Session) -> dict[str, Any]:
    """A session's current resource figures (None when it has no live worker)."""
    worker = session.live_worker()
    beat = worker.heartbeat if worker is not None else {}
    sample = session.resources.last if worker is not None else {}
    rtt = beat.get("cdp_rtt_ms")
    return {
        "memory_bytes": sample.get("memory_bytes"),
        "processes": sample.get("processes"),
        "cpu_percent": sample.get("cpu_percent"),
        "heartbeat_rtt_s": rtt / 1000 if isinstance(rtt, (int, float)) else None,
        "uptime_s": round(worker.uptime_s(), 1) if worker is not None else None,
    }


class Metrics:
    """The daemon's metrics. ``attach`` gives it the live objects to read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._events = Counter("zapvisor_events", "Events published on the bus, by name",
                               ["event"], registry=r)
        self._restarts = Counter("zapvisor_session_restarts",
                                 "Session restarts since the daemon started, by reason",
                                 ["reason"], registry=r)
        self._messages = Counter("zapvisor_messages",
                                 "WhatsApp messages per session and direction (sent, received)",
                                 ["session", "direction"], registry=r)
        self._orphans = Counter("zapvisor_orphans_reaped",
                                "Leftover processes of this install ended by the daemon",
                                registry=r)
        self._deliveries = Counter("zapvisor_webhook_deliveries",
                                   "Webhook deliveries finished, by outcome (delivered, failed, "
                                   "overflow: not queued, its receiver's queue was full)",
                                   ["outcome"], registry=r)
        self._sse_refused = Counter("zapvisor_sse_clients_refused",
                                    "Event streams refused (503): [events] max_sse_clients were open",
                                    registry=r)
        self._attempt_errors = Counter("zapvisor_webhook_attempt_errors",
                                       "Webhook attempts that did not succeed, by reason",
                                       ["reason"], registry=r)
        self._latency = Histogram("zapvisor_webhook_request_seconds",
                                  "Duration of webhook requests", registry=r,
                                  buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self._delay = Histogram("zapvisor_webhook_delivery_delay_seconds",
                                "From an event being queued to its receiver accepting it",
                                registry=r, buckets=(.01, .05, .1, .5, 1, 5, 15, 60, 300, 1800,
                                                     3600, 21600, 86400))
        self._env_file = Counter("zapvisor_env_file_writes",
                                 "Rewrites of [roles] env_file, by outcome (written, failed)",
                                 ["outcome"], registry=r)
        self.restart_counts: collections.Counter[str] = collections.Counter()
        self.message_counts: dict[str, collections.Counter[str]] = {}
        self._started = time.monotonic()
        self._live: _Live | None = None

    def attach(self, registry: Registry, bus: EventBus, outbox: Outbox) -> None:
        """Read sessions, the bus and the outbox at every scrape."""
        self._live = _Live(registry, bus, outbox, self._started)
        self.registry.register(self._live)

    def count_streams(self, streams: Callable[[], tuple[int, int]]) -> None:
        """Event streams this daemon serves from elsewhere than its bus (a cluster node's are
        fed from Redis): ``streams()`` gives (open, dropped), added to the bus's own."""
        assert self._live is not None
        self._live.elsewhere = streams

    # -- counters ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Bus listener."""
        name, session, payload = event["event"], event["session"], event["payload"]
        self._events.labels(name).inc()
        if name in ("session.restart", "session.recycled"):
            reason = str(payload.get("kind", "other")) if name == "session.restart" else "recycle"
            self._restarts.labels(reason).inc()
            self.restart_counts[reason] += 1
        elif name == "message" and session:
            from_me = payload.get("from_me", payload.get("fromMe"))
            self.count_message(session, "sent" if from_me else "received")
        elif name in _SENT_EVENTS and session:
            self.count_message(session, "sent")
        elif name == "orphans.reaped":
            self._orphans.inc(int(payload.get("count", 0)))
        elif name == "session.deleted" and session:
            for direction in self.message_counts.pop(session, {}):
                self._messages.remove(session, direction)

    def count_message(self, session: str, direction: str) -> None:
        """One message sent or received by ``session`` (``direction``: sent, received)."""
        self._messages.labels(session, direction).inc()
        self.message_counts.setdefault(session, collections.Counter())[direction] += 1

    def webhook_attempt(self, outcome: str, reason: str, latency_s: float | None,
                        age_s: float) -> None:
        """The delivery loop's report of one attempt."""
        if latency_s is not None:
            self._latency.observe(latency_s)
        if outcome == "delivered":
            self._deliveries.labels("delivered").inc()
            self._delay.observe(age_s)
            return
        self._attempt_errors.labels(reason).inc()
        if outcome == "failed":
            self._deliveries.labels("failed").inc()

    def webhook_overflow(self) -> None:
        """An event was not queued for a receiver whose queue was full."""
        self._deliveries.labels("overflow").inc()

    def sse_refused(self) -> None:
        """An event stream was refused: too many were open."""
        self._sse_refused.inc()

    def env_file_write(self, ok: bool) -> None:
        """The roles' dotenv file was rewritten (``ok``) or a rewrite failed."""
        self._env_file.labels("written" if ok else "failed").inc()

    # -- output -------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    def stats(self) -> dict[str, Any]:
        """What ``/api/stats`` adds to the daemon's totals (after :meth:`attach`)."""
        assert self._live is not None
        registry, outbox, bus = self._live.registry, self._live.outbox, self._live.bus
        per_session = []
        for session in registry.sessions.values():
            figures = live_figures(session)
            counts = self.message_counts.get(session.id, collections.Counter())
            per_session.append({
                "id": session.id, "state": str(session.state),
                "memory_bytes": figures["memory_bytes"], "processes": figures["processes"],
                "cpu_percent": figures["cpu_percent"], "uptime_s": figures["uptime_s"],
                "restarts": session.record.restarts,
                "messages_sent": counts["sent"], "messages_received": counts["received"],
                "wa_version": session.page.wa_version,
            })
        totals = collections.Counter[str]()
        for counts in self.message_counts.values():
            totals.update(counts)
        return {
            "per_session": per_session,
            "messages": {"sent": totals["sent"], "received": totals["received"]},
            "restarts_by_reason": dict(self.restart_counts),
            "webhooks": outbox.counts(),
            "events": {"last_id": bus.last_id, **dict(zip(("sse_clients", "sse_dropped"),
                                                          self._live.streams(), strict=True))},
        }


class _Live(Collector):
    """Current values, read at scrape time."""

    def __init__(self, registry: Registry, bus: EventBus, outbox: Outbox, started: float) -> None:
        self.registry, self.bus, self.outbox, self._started = registry, bus, outbox, started
        self.elsewhere: Callable[[], tuple[int, int]] = lambda: (0, 0)

    def streams(self) -> tuple[int, int]:
        """Event streams open now, and dropped since start (for falling behind)."""
        more, dropped = self.elsewhere()
        return self.bus.subscribers + more, self.bus.dropped + dropped

    def collect(self) -> Iterator[Metric]:
        sessions = list(self.registry.sessions.values())
        by_state = GaugeMetricFamily("zapvisor_sessions", "Sessions by state", labels=["state"])
        counted = collections.Counter(str(s.state) for s in sessions)
        for state in State:
            by_state.add_metric([str(state)], counted[str(state)])
        yield by_state
        per_session = {
            "memory_bytes": ("zapvisor_session_memory_bytes",
                             "Memory of the session's processes: PSS, or its cgroup's working "
                             "set (latest sample)"),
            "processes": ("zapvisor_session_processes", "Processes of the session (latest sample)"),
            "cpu_percent": ("zapvisor_session_cpu_percent",
                            "CPU of the worker's whole tree over the last resource interval"),
            "heartbeat_rtt_s": ("zapvisor_session_heartbeat_rtt_seconds",
                                "CDP round trip of the latest heartbeat"),
            "uptime_s": ("zapvisor_session_uptime_seconds", "Seconds since the worker started"),
        }
        families = {key: GaugeMetricFamily(name, doc, labels=["session"])
                    for key, (name, doc) in per_session.items()}
        restarts = GaugeMetricFamily("zapvisor_session_restarts_recorded",
                                     "Restarts recorded for the session (kept across daemon runs)",
                                     labels=["session"])
        for session in sessions:
            restarts.add_metric([session.id], session.record.restarts)
            for key, value in live_figures(session).items():
                if value is not None:
                    families[key].add_metric([session.id], value)
        yield from families.values()
        limit_mb = self.registry.config.limits.memory_max_mb
        if limit_mb:  # 0: no limit, and nothing to compare memory with
            yield GaugeMetricFamily("zapvisor_session_memory_limit_bytes",
                                    "[limits] memory_max_mb: a session over it is recycled",
                                    value=limit_mb * 2**20)
        yield restarts
        yield _versions(sessions)
        counts = self.outbox.counts()
        yield GaugeMetricFamily("zapvisor_webhook_queue_depth",
                                "Webhook deliveries waiting to be sent", value=counts["pending"])
        yield GaugeMetricFamily("zapvisor_webhook_failed_held",
                                "Failed webhook deliveries kept for a retry", value=counts["failed"])
        streams, dropped = self.streams()
        yield GaugeMetricFamily("zapvisor_sse_clients", "Open event streams", value=streams)
        yield CounterMetricFamily("zapvisor_sse_clients_dropped",
                                  "Event streams dropped for falling behind", value=dropped)
        yield GaugeMetricFamily("zapvisor_last_event_id", "Id of the latest event",
                                value=self.bus.last_id)
        yield GaugeMetricFamily("zapvisor_uptime_seconds", "Seconds since the daemon started",
                                value=time.monotonic() - self._started)
        breaker = self.registry.breaker.hold_s(time.monotonic()) > 0
        yield GaugeMetricFamily("zapvisor_breaker_open", "1 while the crash breaker holds restarts",
                                value=int(breaker))
        yield from _host(self.registry.host)


def _host(host: HostWatch) -> Iterator[Metric]:
    """The host watch: starvation (nothing is killed for silence while it lasts), loop lag."""
    yield GaugeMetricFamily("zapvisor_host_starved",
                            "1 while the host is starved (deadlines stretched, no kills)",
                            value=int(host.starved))
    yield CounterMetricFamily("zapvisor_host_starved_episodes",
                              "Times the host became starved", value=host.episodes)
    yield CounterMetricFamily("zapvisor_host_starved_seconds", "Seconds the host was starved",
                              value=host.starved_seconds(time.monotonic()))
    yield GaugeMetricFamily("zapvisor_event_loop_lag_seconds",
                            "Worst lag of the daemon's event loop over the last seconds",
                            value=host.loop_lag_s)
    if host.pressure is not None:
        yield GaugeMetricFamily("zapvisor_host_cpu_pressure_percent",
                                "/proc/pressure/cpu some avg10", value=host.pressure)


def _versions(sessions: list[Session]) -> Metric:
    """``zapvisor_whatsapp_web_info{session, version} 1``: which WhatsApp Web build each
    session's page runs (a new build shows up as a new label value)."""
    info = GaugeMetricFamily("zapvisor_whatsapp_web_info",
                             "The WhatsApp Web build a session's page runs (value 1)",
                             labels=["session", "version"])
    for session in sessions:
        if session.page.wa_version:
            info.add_metric([session.id, session.page.wa_version], 1)
    return info
