"""The sections of ``config.toml``: one frozen dataclass each, with its defaults, that checks
its own values when it is built (``__post_init__``). ``supervisor.config`` reads the file and the
environment into these; a broken rule raises :class:`InvalidValue`, which the loader turns into
a ConfigError naming the section, the key and where the value came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supervisor.netpolicy import url_problem

__all__ = [
    "EVENT_PATTERN",
    "SESSION_ID_RE",
    "ChromeConfig",
    "EventsConfig",
    "InvalidValue",
    "LimitsConfig",
    "LoggingConfig",
    "RolesConfig",
    "ServerConfig",
    "SessionsConfig",
    "StateConfig",
    "WebhooksConfig",
    "WhatsAppConfig",
]

#: Session ids (and role names).
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: An event name or family pattern: ``session.status``, ``session.*``, ``*``.
EVENT_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
#: ``[roles] base_url``: written unquoted into a dotenv file, so only plain URL characters.
_BASE_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?")


class InvalidValue(ValueError):
    """A key of a section breaks its rule."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"{key} {rule}")
        self.key = key
        self.rule = rule


def _require(ok: bool, key: str, rule: str) -> None:
    if not ok:
        raise InvalidValue(key, rule)


@dataclass(frozen=True)
class ServerConfig:
    """[server]: the HTTP control API."""

    host: str = "127.0.0.1"
    port: int = 8083
    api_key: str = ""
    api_key_file: str = ""
    max_body_bytes: int = 1024 * 1024
    graceful_timeout_s: float = 30.0
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _require(0 <= self.port <= 65535, "port", "must be between 0 and 65535")
        _require(self.max_body_bytes >= 1024, "max_body_bytes", "must be at least 1024")
        _require(self.max_connections >= 8, "max_connections", "must be at least 8")
        _require(self.header_timeout_s > 0, "header_timeout_s", "must be > 0")
        _require(self.body_timeout_s > 0, "body_timeout_s", "must be > 0")
        # The key travels in an HTTP header (and is compared as ASCII): printable ASCII only.
        _require(self.api_key == "" or (self.api_key.isascii() and self.api_key.isprintable()
                                        and " " not in self.api_key),
                 "api_key", "must be printable ASCII without spaces")

    @property
    def local_url(self) -> str:
        """The API's address as seen from this host (a wildcard host becomes the loopback)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


@dataclass(frozen=True)
class StateConfig:
    """[state]: where the database and the Chrome profiles live."""

    dir: str = "./var"


@dataclass(frozen=True)
class SessionsConfig:
    """[sessions]: limits and lifecycle of sessions."""

    max_sessions: int = 50
    max_concurrent_starts: int = 4
    restore_on_boot: bool = True
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 15.0
    worker_spawn: str = "zygote"
    default_session: str = "default"
    start_default_session: bool = False
    auto_cleanup_on_logout: bool = True
    cleanup_delay_s: float = 2.0

    def __post_init__(self) -> None:
        _require(self.max_sessions >= 1, "max_sessions", "must be at least 1")
        _require(self.max_concurrent_starts >= 1, "max_concurrent_starts", "must be >= 1")
        _require(self.worker_spawn in ("zygote", "exec"), "worker_spawn", "must be zygote or exec")
        _require(self.cleanup_delay_s >= 0, "cleanup_delay_s", "must be >= 0")
        _require(SESSION_ID_RE.fullmatch(self.default_session) is not None, "default_session",
                 "must be a valid session id (letters, digits, '_', '-')")


@dataclass(frozen=True)
class ChromeConfig:
    """[chrome]: the browser each worker launches."""

    executable: str = ""
    headless: bool = True
    extra_args: tuple[str, ...] = ()
    user_agent: str = ""
    launch_timeout_s: float = 30.0
    page_timeout_s: float = 60.0
    close_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        # CDP goes over a pipe only the worker holds: a DevTools port would let any local
        # user attach to the session's browser (and through it read files, drive the account).
        _require(not any(arg.startswith("--remote-debugging") for arg in self.extra_args),
                 "extra_args", "must not set --remote-debugging-*: DevTools is the worker's pipe "
                 "(a port would be open to every local user)")


@dataclass(frozen=True)
class LimitsConfig:
    """[limits]: liveness, restart backoff and the global crash breaker."""

    heartbeat_interval_s: float = 2.0
    heartbeat_timeout_s: float = 15.0
    kill_grace_s: float = 3.0
    restart_backoff_initial_s: float = 1.0
    restart_backoff_max_s: float = 60.0
    restart_backoff_factor: float = 2.0
    restart_backoff_jitter: float = 0.2
    restart_reset_after_s: float = 60.0
    max_fast_crashes: int = 5
    breaker_crashes: int = 10
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0
    memory_max_mb: int = 1536
    memory_samples: int = 3
    recycle_after_h: float = 24.0
    recycle_jitter: float = 0.1
    check_interval_s: float = 10.0
    min_available_memory_mb: int = 256
    min_free_disk_mb: int = 512

    def __post_init__(self) -> None:
        _require(self.heartbeat_interval_s > 0, "heartbeat_interval_s", "must be > 0")
        _require(self.heartbeat_timeout_s > self.heartbeat_interval_s, "heartbeat_timeout_s",
                 "must be greater than heartbeat_interval_s")
        _require(self.restart_backoff_factor >= 1, "restart_backoff_factor", "must be >= 1")
        _require(0 <= self.restart_backoff_jitter < 1, "restart_backoff_jitter", "must be in [0, 1)")
        _require(self.max_fast_crashes >= 1, "max_fast_crashes", "must be at least 1")
        _require(self.breaker_crashes >= 1, "breaker_crashes", "must be at least 1")
        _require(self.memory_max_mb >= 0, "memory_max_mb", "must be >= 0 (0 = no limit)")
        _require(self.memory_samples >= 1, "memory_samples", "must be at least 1")
        _require(self.recycle_after_h >= 0, "recycle_after_h", "must be >= 0 (0 = never)")
        _require(0 <= self.recycle_jitter < 1, "recycle_jitter", "must be in [0, 1)")
        _require(self.check_interval_s > 0, "check_interval_s", "must be > 0")


@dataclass(frozen=True)
class WhatsAppConfig:
    """[whatsapp]: the page each session opens, how it is followed, what it does with messages."""

    url: str = "https://web.whatsapp.com/"
    driver: str = "whatsapp"
    ready_timeout_s: float = 60.0
    qr_timeout_s: float = 60.0
    qr_max_refreshes: int = 10
    pairing_code_interval_s: float = 180.0
    takeover_on_conflict: bool = False
    send_timeout_s: float = 30.0
    max_text_chars: int = 65536
    ignore_groups: bool = False
    ignore_status: bool = True
    ignore_newsletters: bool = True
    commands: tuple[str, ...] = ()
    command_prefix: str = "!"

    def __post_init__(self) -> None:
        _require(bool(self.url), "url", "must not be empty")
        _require(self.driver in ("whatsapp", "basic"), "driver", "must be whatsapp or basic")
        for key in ("ready_timeout_s", "qr_timeout_s", "send_timeout_s", "pairing_code_interval_s"):
            _require(getattr(self, key) > 0, key, "must be > 0")
        _require(self.qr_max_refreshes >= 1, "qr_max_refreshes", "must be at least 1")
        _require(self.max_text_chars >= 1, "max_text_chars", "must be at least 1")
        _require(set(self.commands) <= {"ping", "help", "info"}, "commands",
                 "may only list ping, help, info")
        _require(bool(self.command_prefix.strip()), "command_prefix", "must not be blank")


@dataclass(frozen=True)
class LoggingConfig:
    """[logging]: structlog output."""

    level: str = "info"
    format: str = "auto"

    def __post_init__(self) -> None:
        _require(self.level in ("debug", "info", "warning", "error"), "level",
                 "must be one of debug, info, warning, error")
        _require(self.format in ("auto", "console", "json"), "format",
                 "must be one of auto, console, json")


@dataclass(frozen=True)
class EventsConfig:
    """[events]: the event bus, its history and the server-sent event streams."""

    history: int = 1000
    subscriber_queue: int = 256
    sse_ping_interval_s: float = 15.0
    sse_send_timeout_s: float = 10.0
    resource_interval_s: float = 30.0
    max_sse_clients: int = 100

    def __post_init__(self) -> None:
        _require(self.history >= 1, "history", "must be at least 1")
        _require(self.max_sse_clients >= 1, "max_sse_clients", "must be at least 1")
        _require(self.subscriber_queue >= 1, "subscriber_queue", "must be at least 1")
        _require(self.sse_ping_interval_s > 0, "sse_ping_interval_s", "must be > 0")
        _require(self.sse_send_timeout_s > 0, "sse_send_timeout_s", "must be > 0")
        _require(self.resource_interval_s > 0, "resource_interval_s", "must be > 0")


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
        _require(problem is None, "url", f"is refused: {problem}")
        _require(all(EVENT_PATTERN.fullmatch(e) for e in self.events), "events",
                 "must list event names such as \"session.status\" or \"session.*\"")
        _require(self.timeout_s > 0, "timeout_s", "must be > 0")
        _require(self.max_attempts >= 1, "max_attempts", "must be at least 1")
        _require(self.max_age_s > 0, "max_age_s", "must be > 0")
        _require(0 < self.retry_initial_s <= self.retry_max_s, "retry_initial_s",
                 "must be > 0 and at most retry_max_s")
        _require(0 <= self.retry_jitter < 1, "retry_jitter", "must be in [0, 1)")
        _require(self.max_in_flight >= 1, "max_in_flight", "must be at least 1")
        _require(self.keep_failed >= 0, "keep_failed", "must be >= 0")
        _require(self.max_pending_per_receiver >= 1, "max_pending_per_receiver", "must be at least 1")


@dataclass(frozen=True)
class RolesConfig:
    """[roles]: the dotenv file kept in step with the roles (the Laravel integration)."""

    env_file: str = ""
    base_url: str = ""

    def __post_init__(self) -> None:
        _require(self.base_url == "" or _BASE_URL.fullmatch(self.base_url) is not None,
                 "base_url", "must be empty or an http(s) URL such as \"https://wa.example.com\" "
                 "(a path is allowed; no query, quotes, spaces, '#' or '$')")
