"""structlog setup: one line per lifecycle event; console on a TTY, JSON lines otherwise."""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure", "get_logger"]


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog (and stdlib logging, for aiohttp) once, at startup."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # aiohttp's access log is noise for a control API; its errors still matter.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(**bound: object) -> structlog.typing.FilteringBoundLogger:
    """A logger with ``bound`` key/values on every line (e.g. ``session_id``).

    Safe at import time: the logger stays lazy, so it renders with the configuration that
    ``configure`` sets later, not with structlog's defaults."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(**bound)
    return logger
