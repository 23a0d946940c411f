"""The daemon's configuration: one frozen, typed object, loaded once and passed explicitly.

Sources, later ones winning: ``config.toml``, then ``ZAPVISOR_<SECTION>__<KEY>`` environment
variables (e.g. ``ZAPVISOR_SERVER__PORT=9000``), then command-line flags. Units are in the
field names. An unknown section or key is an error that names it and the file it came from.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.errors import ConfigError
from supervisor.events import EVENT_PATTERN

__all__ = ["Config", "load", "find_config_file", "DEFAULT_PATHS", "ENV_PREFIX"]

DEFAULT_PATHS = (Path("config.toml"), Path("/etc/zapvisor/config.toml"))
#: Session ids (and role names): used here for [sessions] default_session, and by the registry.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENV_PREFIX = "ZAPVISOR_"


@dataclass(frozen=True)
class ServerConfig:
    """[server]: the HTTP control API."""

    host: str = "127.0.0.1"
    port: int = 8083
    api_key: str = ""
    api_key_file: str = ""
    max_body_bytes: int = 1024 * 1024
    graceful_timeout_s: float = 30.0


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


@dataclass(frozen=True)
class WhatsAppConfig:
    """[whatsapp]: the page each session opens, how it is followed, what it does with messages."""

    url: str = "https://web.whatsapp.com/"
    driver: str = "whatsapp"
    ready_timeout_s: float = 60.0
    qr_timeout_s: float = 60.0
    qr_max_refreshes: int = 10
    takeover_on_conflict: bool = False
    send_timeout_s: float = 30.0
    max_text_chars: int = 65536
    ignore_groups: bool = False
    ignore_status: bool = True
    ignore_newsletters: bool = True
    commands: tuple[str, ...] = ()
    command_prefix: str = "!"


@dataclass(frozen=True)
class LoggingConfig:
    """[logging]: structlog output."""

    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class EventsConfig:
    """[events]: the event bus, its history and the server-sent event streams."""

    history: int = 1000
    subscriber_queue: int = 256
    sse_ping_interval_s: float = 15.0
    sse_send_timeout_s: float = 10.0
    resource_interval_s: float = 30.0


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


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``source`` names where it was read from, for messages."""

    server: ServerConfig = field(default_factory=ServerConfig)
    state: StateConfig = field(default_factory=StateConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    chrome: ChromeConfig = field(default_factory=ChromeConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    whatsapp: WhatsAppConfig = field(default_factory=WhatsAppConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    source: str = "defaults"
    base_dir: str = "."

    @property
    def state_dir(self) -> Path:
        """The absolute state directory (relative paths are taken from the config's folder)."""
        return (Path(self.base_dir) / self.state.dir).resolve()

    def replace(self, section: str, **values: Any) -> Config:
        """A copy with some keys of one section changed (validated like the file)."""
        current = dataclasses.asdict(getattr(self, section))
        current.update(values)
        built = _build_section(section, current, "command line")
        result = dataclasses.replace(self, **{section: built})
        _validate(result)
        return result


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("source", "base_dir")
}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against the field type; accept ints for floats, lists for tuples."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(hint) is tuple:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} must be of type {hint.__name__}, got {value!r}")


def _build_section(name: str, values: Mapping[str, Any], source: str) -> Any:
    cls = _SECTIONS[name]
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            known = ", ".join(sorted(hints))
            raise ConfigError(f"unknown key [{name}] {key} in {source} (known: {known})")
        kwargs[key] = _coerce(value, hints[key], f"[{name}] {key} in {source}")
    return cls(**kwargs)


def _parse_env_value(raw: str, hint: Any, where: str) -> Any:
    if hint is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false, got {raw!r}")
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {raw!r}") from None
    if typing.get_origin(hint) is tuple:
        return tuple(raw.split())
    return raw


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        where = f"environment variable {name}"
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section {section!r} in {where}")
        hints = typing.get_type_hints(_SECTIONS[section])
        if key not in hints:
            raise ConfigError(f"unknown key [{section}] {key} in {where}")
        overrides.setdefault(section, {})[key] = _parse_env_value(raw, hints[key], where)
    return overrides


def _validate(config: Config) -> None:
    def require(ok: bool, key: str, rule: str) -> None:
        if not ok:
            raise ConfigError(f"{key} in {config.source} {rule}")

    s, ses, lim = config.server, config.sessions, config.limits
    require(0 <= s.port <= 65535, "[server] port", "must be between 0 and 65535")
    require(s.max_body_bytes >= 1024, "[server] max_body_bytes", "must be at least 1024")
    require(ses.max_sessions >= 1, "[sessions] max_sessions", "must be at least 1")
    require(ses.max_concurrent_starts >= 1, "[sessions] max_concurrent_starts", "must be >= 1")
    require(ses.worker_spawn in ("zygote", "exec"), "[sessions] worker_spawn",
            "must be zygote or exec")
    require(lim.heartbeat_interval_s > 0, "[limits] heartbeat_interval_s", "must be > 0")
    require(
        lim.heartbeat_timeout_s > lim.heartbeat_interval_s,
        "[limits] heartbeat_timeout_s",
        "must be greater than heartbeat_interval_s",
    )
    require(lim.restart_backoff_factor >= 1, "[limits] restart_backoff_factor", "must be >= 1")
    require(0 <= lim.restart_backoff_jitter < 1, "[limits] restart_backoff_jitter", "must be in [0, 1)")
    require(lim.max_fast_crashes >= 1, "[limits] max_fast_crashes", "must be at least 1")
    require(lim.breaker_crashes >= 1, "[limits] breaker_crashes", "must be at least 1")
    require(lim.memory_max_mb >= 0, "[limits] memory_max_mb", "must be >= 0 (0 = no limit)")
    require(lim.memory_samples >= 1, "[limits] memory_samples", "must be at least 1")
    require(lim.recycle_after_h >= 0, "[limits] recycle_after_h", "must be >= 0 (0 = never)")
    require(0 <= lim.recycle_jitter < 1, "[limits] recycle_jitter", "must be in [0, 1)")
    require(lim.check_interval_s > 0, "[limits] check_interval_s", "must be > 0")
    require(config.logging.level in ("debug", "info", "warning", "error"), "[logging] level",
            "must be one of debug, info, warning, error")
    require(config.logging.format in ("auto", "console", "json"), "[logging] format",
            "must be one of auto, console, json")
    require(bool(config.whatsapp.url), "[whatsapp] url", "must not be empty")
    _validate_whatsapp(config, require)
    _validate_events(config, require)


def _validate_events(config: Config, require: Callable[[bool, str, str], None]) -> None:
    ev, wh = config.events, config.webhooks
    require(ev.history >= 1, "[events] history", "must be at least 1")
    require(ev.subscriber_queue >= 1, "[events] subscriber_queue", "must be at least 1")
    require(ev.sse_ping_interval_s > 0, "[events] sse_ping_interval_s", "must be > 0")
    require(ev.sse_send_timeout_s > 0, "[events] sse_send_timeout_s", "must be > 0")
    require(ev.resource_interval_s > 0, "[events] resource_interval_s", "must be > 0")
    require(wh.url == "" or wh.url.startswith(("http://", "https://")), "[webhooks] url",
            "must be empty or an http:// or https:// URL")
    require(all(EVENT_PATTERN.fullmatch(e) for e in wh.events), "[webhooks] events",
            "must list event names such as \"session.status\" or \"session.*\"")
    require(wh.timeout_s > 0, "[webhooks] timeout_s", "must be > 0")
    require(wh.max_attempts >= 1, "[webhooks] max_attempts", "must be at least 1")
    require(wh.max_age_s > 0, "[webhooks] max_age_s", "must be > 0")
    require(0 < wh.retry_initial_s <= wh.retry_max_s, "[webhooks] retry_initial_s",
            "must be > 0 and at most retry_max_s")
    require(0 <= wh.retry_jitter < 1, "[webhooks] retry_jitter", "must be in [0, 1)")
    require(wh.max_in_flight >= 1, "[webhooks] max_in_flight", "must be at least 1")
    require(wh.keep_failed >= 0, "[webhooks] keep_failed", "must be >= 0")


def _validate_whatsapp(config: Config, require: Callable[[bool, str, str], None]) -> None:
    wa, ses = config.whatsapp, config.sessions
    require(wa.driver in ("whatsapp", "basic"), "[whatsapp] driver", "must be whatsapp or basic")
    for key in ("ready_timeout_s", "qr_timeout_s", "send_timeout_s"):
        require(getattr(wa, key) > 0, f"[whatsapp] {key}", "must be > 0")
    require(wa.qr_max_refreshes >= 1, "[whatsapp] qr_max_refreshes", "must be at least 1")
    require(wa.max_text_chars >= 1, "[whatsapp] max_text_chars", "must be at least 1")
    require(set(wa.commands) <= {"ping", "help", "info"}, "[whatsapp] commands",
            "may only list ping, help, info")
    require(bool(wa.command_prefix.strip()), "[whatsapp] command_prefix", "must not be blank")
    require(ses.cleanup_delay_s >= 0, "[sessions] cleanup_delay_s", "must be >= 0")
    require(SESSION_ID_RE.fullmatch(ses.default_session) is not None, "[sessions] default_session",
            "must be a valid session id (letters, digits, '_', '-')")


def find_config_file(explicit: str | None) -> Path | None:
    """The file to read: the one given, else the first default that exists, else None."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    return next((p for p in DEFAULT_PATHS if p.is_file()), None)


def load(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (or only defaults when None), apply environment overrides, validate."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = "defaults"
    base_dir = Path.cwd()
    if path is not None:
        source = str(path)
        base_dir = path.resolve().parent
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown section [{name}] in {source} (known: {', '.join(_SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] in {source} must be a table")
        sections[name] = _build_section(name, values, source)
    for name, values in _env_overrides(env).items():
        current = dataclasses.asdict(sections.get(name, _SECTIONS[name]()))
        current.update(values)
        sections[name] = _build_section(name, current, "the environment")
    config = Config(**sections, source=source, base_dir=str(base_dir))
    _validate(config)
    return config
