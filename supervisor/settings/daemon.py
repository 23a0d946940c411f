"""The daemon's own sections: ``[server]``, ``[state]``, ``[logging]``."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.settings.rules import require

__all__ = ["ServerConfig", "StateConfig", "LoggingConfig"]


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
        require(0 <= self.port <= 65535, "port", "must be between 0 and 65535")
        require(self.max_body_bytes >= 1024, "max_body_bytes", "must be at least 1024")
        require(self.max_connections >= 8, "max_connections", "must be at least 8")
        require(self.header_timeout_s > 0, "header_timeout_s", "must be > 0")
        require(self.body_timeout_s > 0, "body_timeout_s", "must be > 0")
        # The key travels in an HTTP header (and is compared as ASCII): printable ASCII only.
        require(self.api_key == "" or (self.api_key.isascii() and self.api_key.isprintable()
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
class LoggingConfig:
    """[logging]: structlog output."""

    level: str = "info"
    format: str = "auto"

    def __post_init__(self) -> None:
        require(self.level in ("debug", "info", "warning", "error"), "level",
                 "must be one of debug, info, warning, error")
        require(self.format in ("auto", "console", "json"), "format",
                 "must be one of auto, console, json")
