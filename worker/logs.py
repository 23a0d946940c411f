"""Logging for the worker: structlog, one line per lifecycle event, on stderr.

JSON lines when stderr is not a TTY (the supervisor collects them), a console renderer
otherwise. Every line carries ``session_id``. Level from ``ZAPVISOR_LOG_LEVEL`` (default info).
Third-party stdlib loggers (pyppeteer, websockets) go through the same renderer, at WARNING.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# pyppeteer logs every CDP frame at debug and "connection closed" at info; websockets is as chatty.
_NOISY = ("pyppeteer", "websockets", "asyncio")


def configure(session_id: str) -> None:
    """Configure structlog and stdlib logging for this process; call once, first thing."""
    level_name = os.environ.get("ZAPVISOR_LOG_LEVEL", "info").upper()
    level = logging.getLevelNamesMapping().get(level_name, logging.INFO)

    def add_session(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        # A processor, not contextvars: the stderr drain thread does not inherit contextvars.
        event.setdefault("session_id", session_id)
        return event

    shared: list[Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_session,
    ]
    renderer: Processor
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def get_logger() -> structlog.typing.FilteringBoundLogger:
    """The worker's logger (``session_id`` is added to every line)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("worker")
    return logger
