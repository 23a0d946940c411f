"""Counting what a daemon did in a span of time, from its JSON log and its /metrics, for
benchmarks: kills, missed heartbeats, restarts, breaker openings, unhandled asyncio errors.

A span is a pair of byte offsets in the log (taken with :func:`log_offset` at its ends); a line
belongs to the span its first byte is in. The names are the ones the code logs:
``worker.kill`` (SIGKILL after an ignored SIGTERM, procs/process.py), ``worker.heartbeat_missed``
(the watchdog's SIGTERM), ``breaker.open`` (sessions/session.py), ``asyncio.error`` and
``asyncio.error_repeated`` (hardening.LoopErrorLimiter), the workers' ``asyncio.unhandled``
(worker/main.py), ``session.supervisor_error``; and ``session.restart``, a bus event counted in
``zapvisor_events_total``.
"""

from __future__ import annotations

import collections
import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LogSpan", "log_offset", "metric_events", "read_span", "working_at"]

_EVENT_METRIC = re.compile(r'^zapvisor_events_total\{event="([^"]+)"\} ([0-9.e+]+)$', re.M)
_NOTEWORTHY = ("warning", "error", "critical")
_WORKER_ASYNCIO = "asyncio.unhandled"


def log_offset(path: Path) -> int:
    """The log's size now: the end of one span and the start of the next."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def metric_events(text: str) -> dict[str, float]:
    """``zapvisor_events_total`` by event name, from the text exposition format."""
    return {name: float(value) for name, value in _EVENT_METRIC.findall(text)}


@dataclass
class LogSpan:
    """What the log says about one span of time."""

    entries: list[dict[str, Any]] = field(default_factory=list)  # every JSON line
    tracebacks: int = 0  # non-JSON lines starting a traceback (stdlib logging)

    def count(self, event: str) -> int:
        """Lines whose event is ``event``."""
        return sum(1 for entry in self.entries if entry.get("event") == event)

    def asyncio_errors(self) -> int:
        """Unhandled exceptions the supervisor's loop handler saw: the first of each message is
        logged, later ones are summed in ``asyncio.error_repeated`` lines (``times``)."""
        repeated = sum(int(e.get("times", 0)) for e in self.entries
                       if e.get("event") == "asyncio.error_repeated")
        return self.count("asyncio.error") + repeated

    def asyncio_messages(self) -> list[str]:
        """The distinct messages of those errors and of the workers' (``asyncio.unhandled``:
        worker/main.py; workers write to the daemon's log)."""
        return sorted({str(e.get("message")) for e in self.entries
                       if str(e.get("event", "")).startswith(("asyncio.error", _WORKER_ASYNCIO))})

    def noteworthy(self) -> dict[str, int]:
        """Warning and error lines by event name."""
        counted = collections.Counter(str(e.get("event")) for e in self.entries
                                      if e.get("level") in _NOTEWORTHY)
        return dict(counted.most_common())

    def summary(self) -> dict[str, int]:
        """The headline counts."""
        return {
            "heartbeat_missed": self.count("worker.heartbeat_missed"),
            "kills": self.count("worker.kill"),
            "worker_exits": self.count("worker.exited"),
            "breaker_opens": self.count("breaker.open"),
            "asyncio_errors": self.asyncio_errors(),
            "worker_asyncio_errors": self.count(_WORKER_ASYNCIO),
            "supervisor_errors": self.count("session.supervisor_error"),
            "tracebacks": self.tracebacks,
            "restart_lines": sum(1 for e in self.entries if e.get("event") == "session.state"
                                 and str(e.get("reason", "")).startswith("restarting")),
        }


def read_span(path: Path, start: int, end: int) -> LogSpan:
    """The lines that start in [start, end) of the log."""
    span = LogSpan()
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start
        for raw in handle:
            if offset >= end:
                break
            offset += len(raw)
            line = raw.decode(errors="replace").strip()
            try:
                entry = json.loads(line)
            except ValueError:
                span.tracebacks += line.startswith("Traceback")
                continue
            if isinstance(entry, dict):
                span.entries.append(entry)
    return span


def working_at(span: LogSpan) -> dict[str, float]:
    """Per session, the wall-clock time (epoch seconds) of its last change to WORKING."""
    found: dict[str, float] = {}
    for entry in span.entries:
        if entry.get("event") == "session.state" and entry.get("new") == "WORKING":
            stamp = datetime.datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
            found[str(entry.get("session_id"))] = stamp.timestamp()
    return found
