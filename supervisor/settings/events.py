"""What leaves the daemon: ``[events]``, ``[webhooks]``, ``[roles]``."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.netpolicy import url_problem
from supervisor.settings.rules import BASE_URL, EVENT_PATTERN, require

__all__ = ["EventsConfig", "WebhooksConfig", "RolesConfig"]


@dataclass(frozen=True)
class EventsConfig:
    """[events]: the event bus, its history and the server-sent event streams."""

    history: int = 1000
    subscriber_queue: int = 256
    sse_ping_interval_s: float = 15.0
    sse_send_timeout_s: float = 10.0
    resource_interval_s: float = 30.0
    max_sse_clients: int = 100
    charts_keep_h: float = 48.0

    def __post_init__(self) -> None:
        require(self.history >= 1, "history", "must be at least 1")
        require(self.max_sse_clients >= 1, "max_sse_clients", "must be at least 1")
        require(self.subscriber_queue >= 1, "subscriber_queue", "must be at least 1")
        require(self.sse_ping_interval_s > 0, "sse_ping_interval_s", "must be > 0")
        require(self.sse_send_timeout_s > 0, "sse_send_timeout_s", "must be > 0")
        require(self.resource_interval_s > 0, "resource_interval_s", "must be > 0")
        require(1 <= self.charts_keep_h <= 8760, "charts_keep_h", "must be from 1 to 8760 (a year)")


@dataclass(frozen=True)
class WebhooksConfig:
    """[webhooks]: the global webhook, and how every webhook delivery is retried."""

    url: str = ""
    events: tuple[str, ...] = ()
    secret: str = ""
    timeout_s: float = 10.0
    max_attempts: int = 20
    max_age_s: float = 86400.0
    retry_initial_s: float = 1.0
    retry_max_s: float = 300.0
    retry_jitter: float = 0.2
    max_in_flight: int = 8
    keep_failed: int = 10000
    max_pending_per_receiver: int = 10000
    allow_private_networks: bool = False

    def __post_init__(self) -> None:
        problem = url_problem(self.url, self.allow_private_networks) if self.url else None
        require(problem is None, "url", f"is refused: {problem}")
        require(all(EVENT_PATTERN.fullmatch(e) for e in self.events), "events",
                 "must list event names such as \"session.status\" or \"session.*\"")
        require(self.timeout_s > 0, "timeout_s", "must be > 0")
        require(self.max_attempts >= 1, "max_attempts", "must be at least 1")
        require(self.max_age_s > 0, "max_age_s", "must be > 0")
        require(0 < self.retry_initial_s <= self.retry_max_s, "retry_initial_s",
                 "must be > 0 and at most retry_max_s")
        require(0 <= self.retry_jitter < 1, "retry_jitter", "must be in [0, 1)")
        require(self.max_in_flight >= 1, "max_in_flight", "must be at least 1")
        require(self.keep_failed >= 0, "keep_failed", "must be >= 0")
        require(self.max_pending_per_receiver >= 1, "max_pending_per_receiver", "must be at least 1")


@dataclass(frozen=True)
class RolesConfig:
    """[roles]: the dotenv file kept in step with the roles (the Laravel integration)."""

    env_file: str = ""
    base_url: str = ""

    def __post_init__(self) -> None:
        require(self.base_url == "" or BASE_URL.fullmatch(self.base_url) is not None,
                 "base_url", "must be empty or an http(s) URL such as \"https://wa.example.com\" "
                 "(a path is allowed; no query, quotes, spaces, '#' or '$')")
